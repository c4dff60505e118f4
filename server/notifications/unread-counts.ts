import { pool } from "@/server/db";
import { env } from "@/server/env";
import { getRedis, groupBySlot, redisKey, slotTag, type RedisClient } from "@/server/redis";
import type { UnreadCount } from "@/server/notifications/notifications.schema";
import { unreadCountStatement } from "@/server/notifications/inbox-statements";
import { decodeCounts, encodeCounts, type CountsAtSeq } from "@/server/notifications/counts-format";

/**
 * Unread and unseen counts. PostgreSQL holds the authoritative counters on the user row, changed in
 * the same transaction as the notifications they count; Redis caches them tagged with the user's
 * `seq`, and a write only lands when its seq is newer than the cached one. Writes that arrive late or
 * out of order can therefore never make the cache drift; a missing entry is rebuilt from PostgreSQL.
 * The one gap, a process that dies between its commit and its cache write, is bounded by the
 * entry's short lifetime (COUNTS_CACHE_TTL_SECONDS).
 */


/**
 * Lua: `setCountsIfNewer(firstKey, lastKey, argAt, ttl)` sets each count string KEYS[firstKey..lastKey]
 * ("seq:unread:unseen") from the (seq, value) pairs of ARGV from `argAt` on, each only when its seq is
 * newer than the cached one. (A string, not a hash: one SET with its expiry instead of HSET and
 * EXPIRE; a million-recipient fan-out makes a million of these.) Also used by publish-with-counts.ts.
 */
export const SET_COUNTS_IF_NEWER_LUA = `
local function setCountsIfNewer(firstKey, lastKey, argAt, ttl)
  for k = firstKey, lastKey do
    local seq = tonumber(ARGV[argAt])
    local cur = redis.call('GET', KEYS[k])
    if (not cur) or tonumber(string.match(cur, '^%d+')) < seq then
      redis.call('SET', KEYS[k], ARGV[argAt + 1], 'EX', ttl)
    end
    argAt = argAt + 2
  end
end`;

// KEYS = one count string per user; ARGV[1] = ttl, then (seq, value) per key.
const SET_IF_NEWER = `${SET_COUNTS_IF_NEWER_LUA}
setCountsIfNewer(1, #KEYS, 2, ARGV[1])
return #KEYS`;

/**
 * Keys per script call: one call per chunk of a fan-out, not one per recipient. (On a Redis Cluster a
 * script's keys must share a slot, so there the calls are per slot: nearly one per recipient, sent
 * in parallel.)
 */
const KEYS_PER_CALL = 500;

type CountsCommand = { setCountsIfNewer: (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number> };

function withCountsCommand(redis: RedisClient): RedisClient & CountsCommand {
  if (!("setCountsIfNewer" in redis)) redis.defineCommand("setCountsIfNewer", { lua: SET_IF_NEWER });
  return redis as RedisClient & CountsCommand;
}

export function countsKey(userId: string): string {
  // (Named apart from the hashes that held counts before, so an upgrade never meets the old type.)
  // The user's id is the key's hash tag, so on a Redis Cluster it shares a slot with the user's hot
  // cache (hot-cache.ts reads both in one MGET).
  return redisKey("unread", slotTag(userId));
}

/**
 * Caches counts for many users in a few commands, each unless newer ones are cached. Failures are not
 * thrown (the cache rebuilds itself); the answer says whether every write went through.
 */
export async function cacheCounts(entries: { userId: string; counts: CountsAtSeq }[], redis: RedisClient = getRedis()): Promise<boolean> {
  const command = withCountsCommand(redis);
  const keys = entries.map((e) => countsKey(e.userId));
  const calls: Promise<number>[] = [];
  for (const group of groupBySlot(redis, keys)) {
    for (let i = 0; i < group.length; i += KEYS_PER_CALL) {
      const end = Math.min(group.length, i + KEYS_PER_CALL);
      const n = end - i;
      const args: (string | number)[] = new Array(n * 3 + 1);
      args[n] = env.COUNTS_CACHE_TTL_SECONDS;
      for (let j = i; j < end; j++) {
        const at = group[j]!;
        const { counts } = entries[at]!;
        args[j - i] = keys[at]!;
        args[n + 1 + (j - i) * 2] = counts.seq;
        args[n + 2 + (j - i) * 2] = encodeCounts(counts);
      }
      calls.push(command.setCountsIfNewer(n, ...args));
    }
  }
  return (await Promise.allSettled(calls)).every((c) => c.status === "fulfilled");
}

export async function getUnreadCount(userId: string, redis: RedisClient = getRedis()): Promise<UnreadCount> {
  const cached = decodeCounts(await redis.get(countsKey(userId)).catch(() => null));
  if (cached) return cached;
  const { rows } = await pool.query<{ unread_count: number; unseen_count: number; last_seq: number }>(unreadCountStatement(userId));
  const row = rows[0];
  if (!row) return { count: 0, unseen: 0, seq: 0 };
  const counts = { count: row.unread_count, unseen: row.unseen_count, seq: row.last_seq };
  await cacheCounts([{ userId, counts }], redis);
  return { count: counts.count, unseen: counts.unseen, seq: Number(counts.seq) };
}
