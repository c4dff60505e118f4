// A local HTTPS web push service that checks what a real one checks: the VAPID JWT (ES256, signed
// by the key in `k`, audience = this service's origin, expiry within 24 h, a mailto:/https: subject),
// TTL, `Content-Encoding: aes128gcm`, Urgency and Topic values; and, standing in for the browser,
// decrypts each payload with the subscriber's private key (http_ece). It can be told that a
// subscription is gone (410) or to fail (429 with Retry-After, 5xx).
import { execFileSync } from "node:child_process";
import { createPublicKey, type ECDH } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import ece from "http_ece";
import { compactVerify, decodeProtectedHeader } from "jose";

export type PushReceived = { subscription: string; payload: Record<string, unknown>; headers: { ttl: number; urgency: string | null; topic: string | null }; at: number };

/** A self-signed certificate for 127.0.0.1 (the channel worker trusts it through NODE_EXTRA_CA_CERTS). */
export function selfSignedCertificate(): { certFile: string; keyFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "push-cert-"));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  return { certFile, keyFile };
}

/** The P-256 public key of a VAPID `k` (uncompressed point, base64url) as a KeyObject. */
function vapidKey(k: string) {
  const raw = Buffer.from(k, "base64url");
  if (raw.length !== 65 || raw[0] !== 4) throw new Error("k is not an uncompressed P-256 point");
  return createPublicKey({ key: { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33).toString("base64url") }, format: "jwk" });
}

export async function startPushService(cert: { certFile: string; keyFile: string }) {
  const subscribers = new Map<string, { ecdh: ECDH; authSecret: Buffer }>();
  const received: PushReceived[] = [];
  const rejected: string[] = [];
  const gone = new Set<string>();
  const failures = new Map<string, { status: number; retryAfter?: string; times: number }>();
  let origin = "";

  const server = https.createServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const refuse = (status: number, why: string) => {
        rejected.push(why);
        res.writeHead(status, { "content-type": "text/plain" }).end(why);
      };
      const id = req.url?.match(/^\/push\/([a-f0-9]+)$/)?.[1];
      if (req.method !== "POST" || !id) return refuse(404, "no such endpoint");
      if (gone.has(id) || !subscribers.has(id)) return refuse(410, "subscription gone");
      const failure = failures.get(id);
      if (failure && failure.times > 0) {
        failure.times--;
        res.writeHead(failure.status, failure.retryAfter ? { "retry-after": failure.retryAfter } : {}).end("told to fail");
        return;
      }
      // VAPID (RFC 8292).
      const auth = String(req.headers.authorization ?? "").match(/^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/);
      if (!auth) return refuse(401, "missing vapid authorization");
      try {
        if (decodeProtectedHeader(auth[1]!).alg !== "ES256") return refuse(403, "vapid alg is not ES256");
        const { payload } = await compactVerify(auth[1]!, vapidKey(auth[2]!));
        const claims = JSON.parse(Buffer.from(payload).toString()) as { aud?: string; exp?: number; sub?: string };
        const now = Math.floor(Date.now() / 1000);
        if (claims.aud !== origin) return refuse(403, `vapid aud ${claims.aud} is not ${origin}`);
        if (!claims.exp || claims.exp <= now || claims.exp > now + 24 * 3600) return refuse(403, "vapid exp out of range");
        if (!claims.sub || !/^(mailto:|https:)/.test(claims.sub)) return refuse(403, "vapid sub must be mailto: or https:");
      } catch (error) {
        return refuse(403, `vapid signature: ${(error as Error).message}`);
      }
      const ttl = Number(req.headers.ttl);
      if (!Number.isInteger(ttl) || ttl < 0) return refuse(400, "TTL header missing or invalid");
      if (req.headers["content-encoding"] !== "aes128gcm") return refuse(415, "content-encoding must be aes128gcm");
      const urgency = (req.headers.urgency as string | undefined) ?? null;
      if (urgency && !["very-low", "low", "normal", "high"].includes(urgency)) return refuse(400, "bad Urgency");
      const topic = (req.headers.topic as string | undefined) ?? null;
      if (topic && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return refuse(400, "bad Topic");
      // The browser's part: decrypt with the subscription's keys.
      const keys = subscribers.get(id)!;
      let plain: Buffer;
      try {
        plain = ece.decrypt(Buffer.concat(chunks), { version: "aes128gcm", privateKey: keys.ecdh, authSecret: keys.authSecret.toString("base64url") });
      } catch (error) {
        return refuse(400, `payload does not decrypt: ${(error as Error).message}`);
      }
      received.push({ subscription: id, payload: JSON.parse(plain.toString()) as Record<string, unknown>, headers: { ttl, urgency, topic }, at: Date.now() });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    received,
    rejected,
    /** Registers a subscriber (its endpoint must be `${origin}/push/<id>`). */
    subscribe: (endpoint: string, ecdh: ECDH, authSecret: Buffer) => void subscribers.set(endpoint.split("/").pop()!, { ecdh, authSecret }),
    markGone: (endpoint: string) => void gone.add(endpoint.split("/").pop()!),
    failNext: (endpoint: string, status: number, retryAfter?: string, times = 1) => void failures.set(endpoint.split("/").pop()!, { status, retryAfter, times }),
    idOf: (endpoint: string) => endpoint.split("/").pop()!,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
