// The hot cache: each reading user's latest HOT_CACHE_SIZE notifications in Redis, one list per user
// (a head `seq|more`, then each notification's JSON, newest first), serving the dropdown (the first
// page of the whole inbox, any limit up to the size) without PostgreSQL. A page of 20 reads and parses
// 20 of them, not all 100: parsing the whole 64 KiB entry doubled the page's p99 over HTTP. Beside it, the unread count is served from the counts cache
// (unread-counts.ts), which every writer refreshes after each change with the user's new seq.
//
// Invalidation is by seq, exactly: a cached page is served only when its seq equals the seq of the
// counts cache, which is the user's latest (or, when absent, is rebuilt from PostgreSQL). Any change
// to the inbox takes a new seq, so a page that misses one is never served, and writers pay nothing:
// the page is rebuilt by the next read. A page is only replaced by one from a newer seq.
import { env } from "@/server/env";
import { getRedis, redisKey, slotTag, type RedisClient } from "@/server/redis";
import { encodeCursor } from "@/server/notifications/notification-cursor";
import type { ListQuery, Notification } from "@/server/notifications/notifications.schema";
import { countsKey } from "@/server/notifications/unread-counts";
import { decodeCounts } from "@/server/notifications/counts-format";

export type InboxPage = { notifications: Notification[]; nextCursor: string | null; lastSeq: number };
type Cached = { notifications: Notification[]; more: boolean };

// Tagged with the user's id like countsKey, so both are in one slot of a Redis Cluster and one
// pipeline (GET and LRANGE, one round trip) reads them.
export const hotCacheKey = (userId: string) => redisKey("inbox", slotTag(userId));

// KEYS[1] = the user's list; ARGV = seq, more (1 or 0), ttl, then each notification's JSON, newest
// first. Replaces the list only when its seq is newer. (Anything else under the key, such as an entry
// of the earlier `seq|json` string format left by a web node of the previous version, is replaced.)
const SET_IF_NEWER = `
if redis.call('TYPE', KEYS[1]).ok == 'list' then
  local head = redis.call('LINDEX', KEYS[1], 0)
  local seq = head and tonumber(string.match(head, '^%d+'))
  if seq and seq >= tonumber(ARGV[1]) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('RPUSH', KEYS[1], ARGV[1] .. '|' .. ARGV[2], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

type CacheCommand = { setInboxIfNewer: (key: string, seq: number, more: number, ttl: number, ...notifications: string[]) => Promise<number> };

function withCommand(redis: RedisClient): RedisClient & CacheCommand {
  if (!("setInboxIfNewer" in redis)) redis.defineCommand("setInboxIfNewer", { numberOfKeys: 1, lua: SET_IF_NEWER });
  return redis as RedisClient & CacheCommand;
}

/** Whether the cache can answer this query: the first page of the whole inbox, within its size. */
export function servedByHotCache(query: ListQuery): boolean {
  return env.HOT_CACHE_SIZE > 0 && !query.cursor && query.filter === "all" && !query.type && !query.category && !query.q && query.limit <= env.HOT_CACHE_SIZE;
}

/** The page from the cache, or null when it has none for the user's current seq (or Redis fails). */
export async function readHotCache(userId: string, limit: number, redis: RedisClient = getRedis()): Promise<InboxPage | null> {
  // The head and one more than the page: whether there is more after it.
  const replies = await redis
    .pipeline()
    .get(countsKey(userId))
    .lrange(hotCacheKey(userId), 0, limit + 1)
    .exec()
    .catch(() => null);
  if (!replies || replies[0]![0] || replies[1]![0]) return null;
  const counts = decodeCounts((replies[0]![1] as string | null) ?? null);
  const items = replies[1]![1] as string[];
  if (!counts || items.length === 0) return null;
  const head = items[0]!;
  const bar = head.indexOf("|");
  if (Number(head.slice(0, bar)) !== counts.seq) return null;
  const notifications = JSON.parse(`[${items.slice(1, limit + 1).join(",")}]`) as Notification[];
  return pageOf({ notifications, more: items.length > limit + 1 || head.slice(bar + 1) === "1" }, limit, counts.seq);
}

/** Stores the user's latest notifications as of `seq` (never over a newer entry). Failures are ignored. */
export async function writeHotCache(userId: string, seq: number, cached: Cached, redis: RedisClient = getRedis()): Promise<void> {
  await withCommand(redis)
    .setInboxIfNewer(hotCacheKey(userId), seq, cached.more ? 1 : 0, env.HOT_CACHE_TTL_SECONDS, ...cached.notifications.map((n) => JSON.stringify(n)))
    .catch(() => undefined);
}

export function pageOf(cached: Cached, limit: number, seq: number): InboxPage {
  const page = cached.notifications.slice(0, limit);
  const last = page.at(-1);
  const more = cached.notifications.length > limit || cached.more;
  return { notifications: page, nextCursor: more && last ? encodeCursor({ sortAt: last.sortAt, id: last.id }) : null, lastSeq: seq };
}
