import calculateSlot from "cluster-key-slot";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { env } from "@/server/env";

/**
 * A connection to a single Redis or to a Redis Cluster. On a cluster a multi-key command, a MULTI or
 * a Lua script may only touch keys of one hash slot (else CROSSSLOT), so code that touches several
 * keys at once goes through the helpers below, which split by slot only on a cluster: on a single
 * Redis it sends exactly the commands it always did.
 */
export type RedisClient = Redis | Cluster;

/**
 * A connection for request paths and producers: fails fast instead of queueing commands while Redis
 * is down, so an API call answers 503 rather than hanging.
 */
export function createProducerRedis(options: RedisOptions = {}): RedisClient {
  return connect({ maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000, lazyConnect: false, ...options });
}

/** A connection for workers and subscribers: retries forever, as BullMQ workers require. */
export function createWorkerRedis(options: RedisOptions = {}): RedisClient {
  return connect({ maxRetriesPerRequest: null, ...options });
}

/** REDIS_URL, or with REDIS_CLUSTER_NODES a cluster client whose every node connection gets the options (and REDIS_URL's credentials). */
function connect(options: RedisOptions): RedisClient {
  if (!env.REDIS_CLUSTER_NODES) return new Redis(env.REDIS_URL, options);
  const nodes = env.REDIS_CLUSTER_NODES.split(",").map((node) => {
    const colon = node.lastIndexOf(":");
    return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
  });
  const url = new URL(env.REDIS_URL);
  const { enableOfflineQueue, enableAutoPipelining, lazyConnect, ...perNode } = options;
  return new Cluster(nodes, {
    enableOfflineQueue,
    enableAutoPipelining,
    lazyConnect,
    redisOptions: {
      username: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
      ...(url.protocol === "rediss:" ? { tls: {} } : {}),
      ...perNode,
    },
  });
}

/** A Redis key (or channel) under this deployment's prefix. */
export function redisKey(...parts: (string | number)[]): string {
  return [env.REDIS_PREFIX, ...parts].join(":");
}

/**
 * A key part that decides the key's cluster slot (a hash tag): keys that share it, such as one
 * user's counts and hot cache, share a slot and may be read in one command. (REDIS_PREFIX cannot
 * contain braces, so the tag is always the first one in the key.)
 */
export function slotTag(part: string): string {
  return `{${part}}`;
}

/**
 * Indexes of `keys` grouped so that each group may go into one multi-key command or script: on a
 * single Redis one group of all of them, in order; on a cluster one group per hash slot (in order
 * within it).
 */
export function groupBySlot(redis: RedisClient, keys: readonly string[]): number[][] {
  if (!redis.isCluster) return keys.length === 0 ? [] : [keys.map((_, i) => i)];
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = calculateSlot(key);
    const group = groups.get(slot);
    if (group) group.push(i);
    else groups.set(slot, [i]);
  });
  return [...groups.values()];
}

/** MGET of keys in any slots: one MGET on a single Redis, one per slot (in parallel) on a cluster. */
export async function getMany(redis: RedisClient, keys: readonly string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  if (!redis.isCluster) return redis.mget(...keys);
  const values = new Array<string | null>(keys.length).fill(null);
  await Promise.all(
    groupBySlot(redis, keys).map(async (group) => {
      const answers = await redis.mget(...group.map((i) => keys[i]!));
      group.forEach((i, j) => (values[i] = answers[j] ?? null));
    }),
  );
  return values;
}

/** DEL of keys in any slots: one DEL on a single Redis, one per slot on a cluster. Answers how many existed. */
export async function deleteMany(redis: RedisClient, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!redis.isCluster) return redis.del(...keys);
  const counts = await Promise.all(groupBySlot(redis, keys).map((group) => redis.del(...group.map((i) => keys[i]!))));
  return counts.reduce((a, b) => a + b, 0);
}

const globalForRedis = globalThis as typeof globalThis & { __notifyRedis?: RedisClient };

/** The process-wide shared connection for commands (not for blocking or subscribing). */
export function getRedis(): RedisClient {
  if (!globalForRedis.__notifyRedis) {
    const redis = createProducerRedis();
    redis.on("error", () => undefined); // surfaced by the failing command and by /api/health
    globalForRedis.__notifyRedis = redis;
  }
  return globalForRedis.__notifyRedis;
}

export async function closeRedis(): Promise<void> {
  const redis = globalForRedis.__notifyRedis;
  delete globalForRedis.__notifyRedis;
  if (redis) await redis.quit().catch(() => redis.disconnect());
}
