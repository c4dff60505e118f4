// Starts the real system once for every e2e test: two web nodes, one relay and one fan-out worker on a
// fresh database and a private Redis key prefix. Playwright runs this in the runner process before it
// starts any worker, so the variables set here reach the workers (and the config they evaluate).
import fs from "node:fs";
import type { FullConfig } from "@playwright/test";
import { startSystem } from "../tests/system/start-system";

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  if (!fs.existsSync(".next/BUILD_ID")) throw new Error("No build in .next: run `npm run build` before `npx playwright test`.");
  const system = await startSystem({ webNodes: 2, relays: 1, fanoutWorkers: 1, channelWorkers: 1 });
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
