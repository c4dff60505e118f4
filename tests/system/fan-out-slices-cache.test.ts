// A sliced fan-out records how far each slice's counts are cached (fanout_ranges.cached_upto), and
// the trigger's completion caches again the counts of any part whose caching was not recorded: a
// worker that died between a chunk's commit and its cache write, whatever other runs did to that
// slice afterwards. The fan-out worker's code runs in this process (no fan-out worker processes), on
// a topic of 600 in slices of 200 and chunks of 100.
import pg from "pg";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { serviceClient, uniqueId } from "./client";
import { startInProcessFanOut, type System } from "./start-system";
import { decodeCounts, encodeCounts } from "@/server/notifications/counts-format";

let system: System;
let db: pg.Pool;
let redis: Redis;
let service: ReturnType<typeof serviceClient>;
let fanOutTrigger: typeof import("@/server/notifications/fan-out-trigger").fanOutTrigger;
let closeAll: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ system, db, service, fanOutTrigger, close: closeAll } = await startInProcessFanOut({ FANOUT_RANGE_SIZE: "200", FANOUT_CHUNK_SIZE: "100", FANOUT_HELPERS: "0" }, 2));
  redis = new Redis(system.redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await closeAll?.();
});

const countsKey = (user: string) => `${system.redisPrefix}:unread:{${user}}`;
const cachedCounts = async (users: string[]) => (await redis.mget(...users.map(countsKey))).map((v) => decodeCounts(v)?.count ?? null);

/** A topic of 600 subscribers (in id order) and an inbox-only trigger to it, fanned out in full. */
async function fannedOutTopic(tag: string): Promise<{ topic: string; users: string[]; triggerId: string }> {
  const topic = uniqueId(tag);
  const users = Array.from({ length: 600 }, (_, i) => `${topic}-u${String(i).padStart(4, "0")}`);
  expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: users })).status).toBe(200);
  const reply = await service.trigger({ type: "follow", to: { topic }, actor: { id: "star", name: "Star" }, channels: ["in_app"], broadcastThreshold: 1_000_000 });
  expect(reply.status).toBe(202);
  const triggerId = reply.body.id as string;
  expect(await fanOutTrigger(triggerId)).toEqual({ inserted: 600, status: "completed" });
  return { topic, users, triggerId };
}

it("records each slice's cached part, and completion caches again exactly the part a dead worker left uncached", async () => {
  const { topic, users, triggerId } = await fannedOutTopic("cached");

  // A run that lived: every slice cached up to its cursor (the last slice, open-ended, is empty), every count in Redis.
  const { rows: slices } = await db.query<{ idx: number; done: string; cached: string }>(
    "SELECT idx, coalesce(cursor, after) AS done, coalesce(cached_upto, after) AS cached FROM fanout_ranges WHERE trigger_id = $1 ORDER BY idx",
    [triggerId],
  );
  expect(slices.map((s) => s.done)).toEqual([users[199], users[399], users[599], users[599]]);
  for (const slice of slices) expect(slice.cached).toBe(slice.done);
  expect(new Set(await cachedCounts(users))).toEqual(new Set([1]));

  // As if the worker of slice 1's second chunk (users 300..399) had died between its commit and its
  // cache write, and another run had finished the slice: those users' cached counts are stale, the
  // slice's caching is recorded up to its first chunk only, and the trigger is not completed yet.
  const stale = users.slice(300, 400);
  await redis.mset(...stale.flatMap((u) => [countsKey(u), encodeCounts({ seq: 0, count: 0, unseen: 0 })]));
  await db.query("UPDATE fanout_ranges SET cached_upto = $3 WHERE trigger_id = $1 AND idx = $2", [triggerId, 1, users[299]]);
  await db.query("UPDATE triggers SET status = 'processing', completed_at = NULL WHERE id = $1", [triggerId]);
  // Users of slice 2 are made stale too, while its caching stays recorded: not touched (nothing is
  // cached again blindly).
  await redis.set(countsKey(users[450]!), encodeCounts({ seq: 0, count: 0, unseen: 0 }));
  // Some users of the gap have left the topic since: they got the notification all the same, so
  // their counts are cached again too (the gap's users are the trigger's, not the topic's of now).
  const left = stale.slice(0, 10);
  expect((await service.call("DELETE", `/api/v1/topics/${topic}/subscribers`, { userIds: left })).body).toEqual({ removed: 10 });

  // A helper job finds every slice done and completes the trigger.
  expect(await fanOutTrigger(triggerId, { helper: 0 })).toEqual({ inserted: 0, status: "completed" });
  expect((await db.query("SELECT status FROM triggers WHERE id = $1", [triggerId])).rows[0].status).toBe("completed");
  expect(await cachedCounts(stale)).toEqual(stale.map(() => 1));
  expect(await cachedCounts([users[299]!, users[450]!])).toEqual([1, 0]);
  // The gap is recorded as cached now: a later job reaching completion does not cache it again.
  const { rows: after } = await db.query("SELECT coalesce(cached_upto, after) = cursor AS cached FROM fanout_ranges WHERE trigger_id = $1 AND idx = 1", [triggerId]);
  expect(after[0].cached).toBe(true);
});

it("a resumed sliced fan-out caches again the last chunk of each slice, its users who left the topic too", async () => {
  const { topic, users, triggerId } = await fannedOutTopic("resumed");

  // As if the run had died after every slice's last commit and before caching those chunks: the
  // last chunk of each slice (users 100..199, 300..399, 500..599) is stale in Redis, and the trigger
  // is still processing. Some of those users have left the topic since.
  const lastChunks = [...users.slice(100, 200), ...users.slice(300, 400), ...users.slice(500, 600)];
  await redis.mset(...lastChunks.flatMap((u) => [countsKey(u), encodeCounts({ seq: 0, count: 0, unseen: 0 })]));
  await db.query("UPDATE triggers SET status = 'processing', completed_at = NULL WHERE id = $1", [triggerId]);
  const left = [users[150]!, users[399]!, users[599]!];
  expect((await service.call("DELETE", `/api/v1/topics/${topic}/subscribers`, { userIds: left })).body).toEqual({ removed: 3 });

  // The job runs again (its worker died): it finds the trigger processing and caches those chunks again first.
  expect(await fanOutTrigger(triggerId, { resumed: true })).toEqual({ inserted: 0, status: "completed" });
  expect(await cachedCounts(lastChunks)).toEqual(lastChunks.map(() => 1));
});
