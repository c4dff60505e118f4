import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { env } from "@/server/env";
import { prisma } from "@/server/db";
import { createWorkerRedis, getRedis, redisKey } from "@/server/redis";

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

/**
 * Looked-up keys are cached briefly per process. A revocation is published through Redis and every
 * web node drops the key from its cache at once; should that message be lost (Redis down), the
 * revocation still takes effect within this time.
 */
export const SERVICE_KEY_CACHE_MS = 10_000;
const cache = new Map<string, { principal: ServicePrincipal | null; until: number }>();
const REVOKED_CHANNEL = () => redisKey("service-key-revoked");
let listening = false;
/** Bumped by every revocation: a lookup that overlapped one does not cache what it read. */
let revocations = 0;

function forgetKey(id: string): void {
  revocations++;
  for (const [hash, entry] of cache) if (entry.principal?.keyId === id) cache.delete(hash);
}

/** Subscribes this process to revocations, once (on its first service-key lookup). */
function listenForRevocations(): void {
  if (listening) return;
  listening = true;
  const subscriber = createWorkerRedis();
  subscriber.on("error", () => undefined);
  subscriber.on("message", (_channel: string, id: string) => forgetKey(id));
  void subscriber.subscribe(REVOKED_CHANNEL()).catch(() => undefined);
}

/** The principal of a valid, unrevoked service key, or null. */
export async function findServicePrincipal(key: string): Promise<ServicePrincipal | null> {
  if (equalsEnvKey(key)) return { keyId: ENV_KEY_ID, scopes: ["notify", "admin"] };
  if (!key.startsWith("nsk_") || key.length > 200) return null;
  listenForRevocations();
  const keyHash = hashServiceKey(key);
  const cached = cache.get(keyHash);
  if (cached && cached.until > Date.now()) return cached.principal;
  const generation = revocations;
  const principal = await lookUpServiceKey(keyHash);
  if (cache.size > 10_000) cache.clear();
  if (generation === revocations) cache.set(keyHash, { principal, until: Date.now() + SERVICE_KEY_CACHE_MS });
  return principal;
}

async function lookUpServiceKey(keyHash: string): Promise<ServicePrincipal | null> {
  const row = await prisma.serviceKey.findUnique({ where: { keyHash } });
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

/** Revokes a key by id: at once on this node and (through Redis) on every other; within SERVICE_KEY_CACHE_MS at worst. */
export async function revokeServiceKey(id: string): Promise<boolean> {
  const { count } = await prisma.serviceKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  forgetKey(id);
  await getRedis().publish(REVOKED_CHANNEL(), id).catch(() => undefined);
  return count > 0;
}

export async function listServiceKeys(): Promise<{ id: string; name: string; prefix: string; scopes: string[]; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null }[]> {
  return prisma.serviceKey.findMany({
    select: { id: true, name: true, prefix: true, scopes: true, createdAt: true, lastUsedAt: true, revokedAt: true },
    orderBy: { createdAt: "asc" },
  });
}
