// Starts the real system once for every e2e test: two web nodes, one relay and one fan-out worker on a
// fresh database and a private Redis key prefix. Playwright runs this in the runner process before it
// starts any worker, so the variables set here reach the workers (and the config they evaluate).
import fs from "node:fs";
import type { FullConfig } from "@playwright/test";
import webpush from "web-push";
import { startSystem } from "../tests/system/start-system";
import { selfSignedCertificate } from "../tests/system/push-service-stand-in";

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  if (!fs.existsSync(".next/BUILD_ID")) throw new Error("No build in .next: run `npm run build` before `npx playwright test`.");
  // Web push goes to a local HTTPS push service the tests start (e2e/push.spec.ts): the channel
  // worker trusts its self-signed certificate.
  const cert = selfSignedCertificate();
  const vapid = webpush.generateVAPIDKeys();
  const system = await startSystem({
    webNodes: 2,
    relays: 1,
    fanoutWorkers: 1,
    channelWorkers: 1,
    env: { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: "mailto:e2e@example.com", NODE_EXTRA_CA_CERTS: cert.certFile },
  });
  process.env.E2E_PUSH_CERT_FILE = cert.certFile;
  process.env.E2E_PUSH_KEY_FILE = cert.keyFile;
  const [first, second] = system.webUrls;
  if (!first || !second) {
    await system.stop();
    throw new Error(`expected two web nodes, got ${system.webUrls.length}`);
  }
  process.env.E2E_BASE_URL = first;
  process.env.E2E_BASE_URL_2 = second;
  process.env.E2E_SERVICE_KEY = system.serviceKey;
  process.env.E2E_DATABASE_URL = system.databaseUrl;
  process.env.E2E_REDIS_URL = system.redisUrl;
  process.env.E2E_REDIS_PREFIX = system.redisPrefix;
  return () => system.stop();
}
