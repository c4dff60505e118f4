import type { Redis } from "ioredis";
import { pool } from "@/server/db";
import { env } from "@/server/env";
import { getRedis, redisKey } from "@/server/redis";
import type { UnreadCount } from "@/server/notifications/notifications.schema";

/**
 * Unread and unseen counts. PostgreSQL holds the authoritative counters on the user row, changed in
 * the same transaction as the notifications they count; Redis caches them tagged with the user's
 * `seq`, and a write only lands when its seq is newer than the cached one. Writes that arrive late or
 * out of order can therefore never make the cache drift; a missing entry is rebuilt from PostgreSQL.
 * The one gap, a process that dies between its commit and its cache write, is bounded by the
 * entry's short lifetime (COUNTS_CACHE_TTL_SECONDS).
 */
export type CountsAtSeq = UnreadCount & { seq: number };


// KEYS = one hash per user; ARGV[1] = ttl, then (seq, unread, unseen) per key. Each key is set only
// when its seq is newer than the cached one.
const SET_IF_NEWER = `
local ttl = ARGV[1]
for i, key in ipairs(KEYS) do
  local seq = ARGV[i * 3 - 1]
  local cur = redis.call('HGET', key, 'seq')
  if (not cur) or tonumber(cur) < tonumber(seq) then
    redis.call('HSET', key, 'seq', seq, 'unread', ARGV[i * 3], 'unseen', ARGV[i * 3 + 1])
    redis.call('EXPIRE', key, ttl)
  end
end
return #KEYS`;

/** Keys per script call: one call per chunk of a fan-out, not one per recipient. */
const KEYS_PER_CALL = 500;

type CountsCommand = { setCountsIfNewer: (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number> };

function withCountsCommand(redis: Redis): Redis & CountsCommand {
  if (!("setCountsIfNewer" in redis)) redis.defineCommand("setCountsIfNewer", { lua: SET_IF_NEWER });
  return redis as Redis & CountsCommand;
}

function countsKey(userId: string): string {
  return redisKey("counts", userId);
}

/** Caches counts for many users in a few commands. Failures are ignored: the cache rebuilds itself. */
export async function cacheCounts(entries: { userId: string; counts: CountsAtSeq }[], redis: Redis = getRedis()): Promise<void> {
  const command = withCountsCommand(redis);
  const calls: Promise<number>[] = [];
  for (let i = 0; i < entries.length; i += KEYS_PER_CALL) {
    const batch = entries.slice(i, i + KEYS_PER_CALL);
    const keys = batch.map((e) => countsKey(e.userId));
    const args = batch.flatMap((e) => [e.counts.seq, e.counts.count, e.counts.unseen]);
    calls.push(command.setCountsIfNewer(keys.length, ...keys, env.COUNTS_CACHE_TTL_SECONDS, ...args));
  }
  await Promise.allSettled(calls);
}

export async function getUnreadCount(userId: string): Promise<UnreadCount> {
  const redis = getRedis();
  const cached = await redis.hmget(countsKey(userId), "unread", "unseen", "seq").catch(() => null);
  if (cached && cached[0] !== null && cached[1] !== null && cached[2] !== null) {
    return { count: Number(cached[0]), unseen: Number(cached[1]), seq: Number(cached[2]) };
  }
  const { rows } = await pool.query<{ unread_count: number; unseen_count: number; last_seq: number }>(
    "SELECT unread_count, unseen_count, last_seq FROM users WHERE id = $1",
    [userId],
  );
  const row = rows[0];
  if (!row) return { count: 0, unseen: 0, seq: 0 };
  const counts = { count: row.unread_count, unseen: row.unseen_count, seq: row.last_seq };
  await cacheCounts([{ userId, counts }], redis);
  return { count: counts.count, unseen: counts.unseen, seq: Number(counts.seq) };
}
