import type { Redis } from "ioredis";
import { pool } from "@/server/db";
import { getRedis, redisKey } from "@/server/redis";
import type { UnreadCount } from "@/server/notifications/notifications.schema";

/**
 * Unread and unseen counts. PostgreSQL holds the authoritative counters on the user row, changed in
 * the same transaction as the notifications they count; Redis caches them tagged with the user's
 * `seq`, and a write only lands when its seq is newer than the cached one. Writes that arrive late or
 * out of order can therefore never make the cache drift; a missing entry is rebuilt from PostgreSQL.
 */
export type CountsAtSeq = UnreadCount & { seq: number };

const CACHE_TTL_SECONDS = 7 * 24 * 3600;

// KEYS[1] = hash; ARGV = seq, unread, unseen, ttl. Sets only when newer than the cached seq.
const SET_IF_NEWER = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'unread', ARGV[2], 'unseen', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`;

type CountsPipeline = { setCountsIfNewer: (key: string, seq: number, unread: number, unseen: number, ttl: number) => void };

function withCountsCommand(redis: Redis): Redis {
  if (!("setCountsIfNewer" in redis)) redis.defineCommand("setCountsIfNewer", { numberOfKeys: 1, lua: SET_IF_NEWER });
  return redis;
}

function countsKey(userId: string): string {
  return redisKey("counts", userId);
}

/** Caches counts for many users in one round trip. Failures are ignored: the cache rebuilds itself. */
export async function cacheCounts(entries: { userId: string; counts: CountsAtSeq }[], redis: Redis = getRedis()): Promise<void> {
  if (entries.length === 0) return;
  const pipeline = withCountsCommand(redis).pipeline();
  for (const { userId, counts } of entries) {
    // EVALSHA of the cached script (ioredis falls back to EVAL once per connection when Redis lacks it).
    (pipeline as unknown as CountsPipeline).setCountsIfNewer(countsKey(userId), counts.seq, counts.count, counts.unseen, CACHE_TTL_SECONDS);
  }
  await pipeline.exec().catch(() => undefined);
}

export async function getUnreadCount(userId: string): Promise<UnreadCount> {
  const redis = getRedis();
  const cached = await redis.hmget(countsKey(userId), "unread", "unseen").catch(() => null);
  if (cached && cached[0] !== null && cached[1] !== null) {
    return { count: Number(cached[0]), unseen: Number(cached[1]) };
  }
  const { rows } = await pool.query<{ unread_count: number; unseen_count: number; last_seq: number }>(
    "SELECT unread_count, unseen_count, last_seq FROM users WHERE id = $1",
    [userId],
  );
  const row = rows[0];
  if (!row) return { count: 0, unseen: 0 };
  const counts = { count: row.unread_count, unseen: row.unseen_count, seq: row.last_seq };
  await cacheCounts([{ userId, counts }], redis);
  return { count: counts.count, unseen: counts.unseen };
}
