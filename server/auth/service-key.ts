import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { env } from "@/server/env";
import { prisma } from "@/server/db";
import { createWorkerRedis, getRedis, redisKey } from "@/server/redis";
import type { ServiceKeyLimits } from "@/server/auth/service-key-input";

export type ServiceScope = "notify" | "admin";
/** `limits` are the key's own ingestion limits (null: the deployment default). */
export type ServicePrincipal = { keyId: string; scopes: ServiceScope[]; limits: ServiceKeyLimits };

const DEFAULT_LIMITS: ServiceKeyLimits = { requestsPerSecond: null, recipientsPerSecond: null };

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
 * Looked-up keys are cached briefly per process. A change to a key (revoked, new limits) is
 * published through Redis and every web node drops the key from its cache at once; should that
 * message be lost (Redis down), the change still takes effect within this time.
 */
export const SERVICE_KEY_CACHE_MS = 10_000;
const cache = new Map<string, { principal: ServicePrincipal | null; until: number }>();
// The channel keeps its first name (revocations were its only message) so nodes of the previous
// release still hear every change during a rolling deploy.
const CHANGED_CHANNEL = () => redisKey("service-key-revoked");
let listening = false;
/** Bumped by every change: a lookup that overlapped one does not cache what it read. */
let changes = 0;

function forgetKey(id: string): void {
  changes++;
  for (const [hash, entry] of cache) if (entry.principal?.keyId === id) cache.delete(hash);
}

/** Drops a changed key from this node's cache and (through Redis) from every other's. */
async function announceKeyChange(id: string): Promise<void> {
  forgetKey(id);
  await getRedis().publish(CHANGED_CHANNEL(), id).catch(() => undefined);
}

/** Subscribes this process to key changes, once (on its first service-key lookup). */
function listenForKeyChanges(): void {
  if (listening) return;
  listening = true;
  const subscriber = createWorkerRedis();
  subscriber.on("error", () => undefined);
  subscriber.on("message", (_channel: string, id: string) => forgetKey(id));
  void subscriber.subscribe(CHANGED_CHANNEL()).catch(() => undefined);
}

/** The principal of a valid, unrevoked service key, or null. */
export async function findServicePrincipal(key: string): Promise<ServicePrincipal | null> {
  // The bootstrap key has no row, so no own limits: it keeps the deployment defaults.
  if (equalsEnvKey(key)) return { keyId: ENV_KEY_ID, scopes: ["notify", "admin"], limits: DEFAULT_LIMITS };
  if (!key.startsWith("nsk_") || key.length > 200) return null;
  listenForKeyChanges();
  const keyHash = hashServiceKey(key);
  const cached = cache.get(keyHash);
  if (cached && cached.until > Date.now()) return cached.principal;
  const generation = changes;
  const principal = await lookUpServiceKey(keyHash);
  if (cache.size > 10_000) cache.clear();
  if (generation === changes) cache.set(keyHash, { principal, until: Date.now() + SERVICE_KEY_CACHE_MS });
  return principal;
}

async function lookUpServiceKey(keyHash: string): Promise<ServicePrincipal | null> {
  const row = await prisma.serviceKey.findUnique({ where: { keyHash } });
  if (!row || row.revokedAt) return null;
  // Recording last use is best effort and at most once a minute per key.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    void prisma.serviceKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
  }
  return {
    keyId: row.id,
    scopes: row.scopes.filter((s): s is ServiceScope => s === "notify" || s === "admin"),
    limits: { requestsPerSecond: row.requestsPerSecond, recipientsPerSecond: row.recipientsPerSecond },
  };
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
  await announceKeyChange(id);
  return count > 0;
}

export type ServiceKeySummary = { id: string; name: string; prefix: string; scopes: string[]; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null; limits: ServiceKeyLimits };

const summarySelect = { id: true, name: true, prefix: true, scopes: true, createdAt: true, lastUsedAt: true, revokedAt: true, requestsPerSecond: true, recipientsPerSecond: true } as const;

function toSummary({ requestsPerSecond, recipientsPerSecond, ...row }: { requestsPerSecond: number | null; recipientsPerSecond: number | null } & Omit<ServiceKeySummary, "limits">): ServiceKeySummary {
  return { ...row, limits: { requestsPerSecond, recipientsPerSecond } };
}

export async function listServiceKeys(): Promise<ServiceKeySummary[]> {
  const rows = await prisma.serviceKey.findMany({ select: summarySelect, orderBy: { createdAt: "asc" } });
  return rows.map(toSummary);
}

/**
 * Sets an active key's own ingestion limits (a field left out keeps its value; null goes back to
 * the default) and makes every web node use them at once, as a revocation does. Null if there is
 * no such active key.
 */
export async function setServiceKeyLimits(id: string, limits: Partial<ServiceKeyLimits>): Promise<ServiceKeySummary | null> {
  const { count } = await prisma.serviceKey.updateMany({ where: { id, revokedAt: null }, data: limits });
  if (count === 0) return null;
  await announceKeyChange(id);
  const row = await prisma.serviceKey.findUnique({ where: { id }, select: summarySelect });
  return row && toSummary(row);
}
