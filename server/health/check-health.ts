import { pool } from "@/server/db";
import { getRedis } from "@/server/redis";

export type Health = { ok: boolean; db: "up" | "down"; redis: "up" | "down" };

const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);

/** Pings PostgreSQL and Redis, each with a short timeout. */
export async function checkHealth(): Promise<Health> {
  const [db, redis] = await Promise.allSettled([withTimeout(pool.query("SELECT 1"), 2000), withTimeout(getRedis().ping(), 2000)]);
  const health: Health = { ok: false, db: db.status === "fulfilled" ? "up" : "down", redis: redis.status === "fulfilled" ? "up" : "down" };
  health.ok = health.db === "up" && health.redis === "up";
  return health;
}
