// A small fan-out's counts and events in one Redis script: the counts are cached (seq-guarded, as
// cacheCounts does) and then the events of the recipients online now are published on the
// user-events channel, in one step on the publisher's connection. The fan-out does not wait for a
// round trip before its events leave (counts and presence first, then the publish), and the order
// that matters still holds: a device that hears of a change and reads its inbox at once finds the
// counts cache at that change. A single Redis only (the count keys are in many slots); on a cluster,
// and for big chunks (whose offline recipients should not cost a payload each), the caller asks
// first and then publishes (fan-out-trigger.ts).
import { env } from "@/server/env";
import { countsKey, SET_COUNTS_IF_NEWER_LUA } from "@/server/notifications/unread-counts";
import { encodeCounts, type CountsAtSeq } from "@/server/notifications/counts-format";
import { EVENTS_PER_MESSAGE, flushPendingUserEvents, orderedPublisherConnection, userEventsChannel } from "@/server/realtime/publish";
import { presenceSetKey } from "@/server/realtime/presence";
import type { RedisClient } from "@/server/redis";

// KEYS = the presence set, then one count string per recipient; ARGV = ttl, channel, now (ms), then
// (seq, counts) per count key, then per recipient: user id and the JSON of its events (`[id,event,
// payload]` entries joined by commas). Answers how many recipients were online (their events sent).
const CACHE_AND_PUBLISH = `${SET_COUNTS_IF_NEWER_LUA}
local counted = #KEYS - 1
setCountsIfNewer(2, #KEYS, 4, ARGV[1])
local now = tonumber(ARGV[3])
local parts = {}
for i = 4 + counted * 2, #ARGV, 2 do
  local until_ = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if until_ and tonumber(until_) > now then parts[#parts + 1] = ARGV[i + 1] end
end
if #parts > 0 then redis.call('PUBLISH', ARGV[2], '[' .. table.concat(parts, ',') .. ']') end
return #parts`;

type Command = { cacheCountsAndPublish: (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number> };

function withCommand(redis: RedisClient): RedisClient & Command {
  if (!("cacheCountsAndPublish" in redis)) redis.defineCommand("cacheCountsAndPublish", { lua: CACHE_AND_PUBLISH });
  return redis as RedisClient & Command;
}

export type Recipient = { userId: string; counts: CountsAtSeq; events: [event: string, payload: unknown][] };

/** Whether this process can publish with counts (a single Redis). */
export function canPublishWithCounts(): boolean {
  return orderedPublisherConnection() !== null;
}

/**
 * Caches each recipient's counts, then publishes their events to those online, one script per 128
 * recipients (a message stays within EVENTS_PER_MESSAGE). Resolves to the counts cached (every call
 * went through) and how many recipients were published to; never throws (best effort, as the
 * publish and the cache are: a device that misses an event sees a gap in seq, a missing count entry
 * is rebuilt from PostgreSQL). What publishToUser gathered before goes out first.
 */
export async function cacheCountsAndPublish(recipients: Recipient[]): Promise<{ cached: boolean; published: number }> {
  const redis = orderedPublisherConnection();
  if (!redis) throw new Error("cacheCountsAndPublish needs a single Redis (canPublishWithCounts)");
  if (recipients.length === 0) return { cached: true, published: 0 };
  flushPendingUserEvents();
  const command = withCommand(redis);
  const calls: Promise<number>[] = [];
  const per = EVENTS_PER_MESSAGE / 2;
  for (let at = 0; at < recipients.length; at += per) {
    const slice = recipients.slice(at, at + per);
    const keys = [presenceSetKey(), ...slice.map((r) => countsKey(r.userId))];
    const args: (string | number)[] = [env.COUNTS_CACHE_TTL_SECONDS, userEventsChannel(), Date.now()];
    for (const r of slice) args.push(r.counts.seq, encodeCounts(r.counts));
    for (const r of slice) args.push(r.userId, r.events.map(([event, payload]) => JSON.stringify([r.userId, event, payload])).join(","));
    calls.push(command.cacheCountsAndPublish(keys.length, ...keys, ...args));
  }
  const settled = await Promise.allSettled(calls);
  return {
    cached: settled.every((c) => c.status === "fulfilled"),
    published: settled.reduce((n, c) => n + (c.status === "fulfilled" ? Number(c.value) : 0), 0),
  };
}
