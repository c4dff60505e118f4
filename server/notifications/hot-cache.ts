// The hot cache: each reading user's latest HOT_CACHE_SIZE notifications in Redis, one string
// `seq|json` per user, serving the dropdown (the first page of the whole inbox, any limit up to the
// size) without PostgreSQL. Beside it, the unread count is served from the counts cache
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

// Tagged with the user's id like countsKey, so both are in one slot of a Redis Cluster and one MGET
// reads them.
export const hotCacheKey = (userId: string) => redisKey("inbox", slotTag(userId));

const SET_IF_NEWER = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(string.match(cur, '^%d+')) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`;

type CacheCommand = { setInboxIfNewer: (key: string, seq: number, json: string, ttl: number) => Promise<number> };

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
  const values = await redis
    .mget(countsKey(userId), hotCacheKey(userId))
    .catch(() => null);
  if (!values) return null;
  const counts = decodeCounts(values[0] ?? null);
  const raw = values[1];
  if (!counts || !raw) return null;
  const bar = raw.indexOf("|");
  if (Number(raw.slice(0, bar)) !== counts.seq) return null;
  return pageOf(JSON.parse(raw.slice(bar + 1)) as Cached, limit, counts.seq);
}

/** Stores the user's latest notifications as of `seq` (never over a newer entry). Failures are ignored. */
export async function writeHotCache(userId: string, seq: number, cached: Cached, redis: RedisClient = getRedis()): Promise<void> {
  await withCommand(redis)
    .setInboxIfNewer(hotCacheKey(userId), seq, JSON.stringify(cached), env.HOT_CACHE_TTL_SECONDS)
    .catch(() => undefined);
}

export function pageOf(cached: Cached, limit: number, seq: number): InboxPage {
  const page = cached.notifications.slice(0, limit);
  const last = page.at(-1);
  const more = cached.notifications.length > limit || cached.more;
  return { notifications: page, nextCursor: more && last ? encodeCursor({ sortAt: last.sortAt, id: last.id }) : null, lastSeq: seq };
}
