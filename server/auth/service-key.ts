import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { env } from "@/server/env";
import { prisma } from "@/server/db";

export type ServiceScope = "notify" | "admin";
export type ServicePrincipal = { keyId: string; scopes: ServiceScope[] };

/** The id under which the env `SERVICE_API_KEY` scopes idempotency keys. */
export const ENV_KEY_ID = "env";

export function hashServiceKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function equalsEnvKey(key: string): boolean {
  if (!env.SERVICE_API_KEY) return false;
  const a = createHash("sha256").update(key).digest();
  const b = createHash("sha256").update(env.SERVICE_API_KEY).digest();
  return timingSafeEqual(a, b);
}

/** The principal of a valid, unrevoked service key, or null. */
export async function findServicePrincipal(key: string): Promise<ServicePrincipal | null> {
  if (equalsEnvKey(key)) return { keyId: ENV_KEY_ID, scopes: ["notify", "admin"] };
  if (!key.startsWith("nsk_")) return null;
  const row = await prisma.serviceKey.findUnique({ where: { keyHash: hashServiceKey(key) } });
  if (!row || row.revokedAt) return null;
  // Recording last use is best effort and at most once a minute per key.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    void prisma.serviceKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
  }
  return { keyId: row.id, scopes: row.scopes.filter((s): s is ServiceScope => s === "notify" || s === "admin") };
}

/** Creates a key; the plain key is returned once and only its hash is stored. */
export async function createServiceKey(name: string, scopes: ServiceScope[]): Promise<{ id: string; key: string }> {
  const key = `nsk_${randomBytes(24).toString("base64url")}`;
  const row = await prisma.serviceKey.create({ data: { name, scopes, keyHash: hashServiceKey(key), prefix: key.slice(0, 8) } });
  return { id: row.id, key };
}
