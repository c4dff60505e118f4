import { Redis, type RedisOptions } from "ioredis";
import { env } from "@/server/env";

/**
 * A connection for request paths and producers: fails fast instead of queueing commands while Redis
 * is down, so an API call answers 503 rather than hanging.
 */
export function createProducerRedis(options: RedisOptions = {}): Redis {
  return new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000, lazyConnect: false, ...options });
}

/** A connection for workers and subscribers: retries forever, as BullMQ workers require. */
export function createWorkerRedis(options: RedisOptions = {}): Redis {
  return new Redis(env.REDIS_URL, { maxRetriesPerRequest: null, ...options });
}

/** A Redis key (or channel) under this deployment's prefix. */
export function redisKey(...parts: (string | number)[]): string {
  return [env.REDIS_PREFIX, ...parts].join(":");
}

const globalForRedis = globalThis as typeof globalThis & { __notifyRedis?: Redis };

/** The process-wide shared connection for commands (not for blocking or subscribing). */
export function getRedis(): Redis {
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
