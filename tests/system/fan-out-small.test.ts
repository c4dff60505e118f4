// A small trigger's fan-out is one statement outside any transaction (fanOutSmallTrigger in
// server/notifications/fan-out-trigger.ts), every write of it depending on its claim of the trigger.
// Here it runs in this process against a system without fan-out workers, with the trigger row held
// locked from another connection so that the races happen for certain: two runs of one trigger
// store it once, and a trigger cancelled while the statement waits stores nothing at all.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, serviceClient, uniqueId } from "./client";
import { startInProcessFanOut, type System } from "./start-system";
import { holdRows } from "./row-locks";

let system: System;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;
let fanOutTrigger: typeof import("@/server/notifications/fan-out-trigger").fanOutTrigger;
let keyedPool: typeof import("@/server/db").keyedPool;
let closeAll: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ system, db, service, fanOutTrigger, close: closeAll } = await startInProcessFanOut());
  ({ keyedPool } = await import("@/server/db"));
});

afterAll(async () => closeAll?.());

/** Two known recipients and one the system has never seen (the fan-out would create their row). */
async function smallTrigger(): Promise<{ id: string; known: string[]; unknown: string }> {
  const known = [uniqueId("ann"), uniqueId("bob")];
  for (const userId of known) expect((await service.call("PUT", `/api/v1/users/${userId}`, { name: "Someone" })).status).toBe(200);
  const unknown = uniqueId("new");
  const reply = await service.trigger({ type: "comment", to: [...known, unknown], actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "Hi" } });
  expect(reply.status).toBe(202);
  return { id: reply.body.id, known, unknown };
}

/** Holds the trigger's row locked until `release`, and says when `waiters` statements wait for it. */
async function holdTrigger(triggerId: string) {
  const held = await holdRows(db, "SELECT 1 FROM triggers WHERE id = $1 FOR UPDATE", [triggerId]);
  return {
    // The first waits for this holder, a second for the first (its tuple lock).
    waiting: (waiters: number) =>
      eventually(async () => ((await held.waiters()) >= waiters ? true : undefined), 10_000, `${waiters} statement(s) waiting for the trigger's row`),
    release: held.release,
  };
}

const stored = async (triggerId: string) => {
  const { rows } = await db.query<{ notifications: number; deliveries: number; status: string; fanout_count: number; outbox_done: boolean }>(
    `SELECT (SELECT count(*)::int FROM notifications WHERE trigger_id = t.id) AS notifications,
            (SELECT count(*)::int FROM deliveries WHERE trigger_id = t.id) AS deliveries,
            t.status, t.fanout_count, (SELECT bool_and(done_at IS NOT NULL) FROM outbox WHERE trigger_id = t.id) AS outbox_done
       FROM triggers t WHERE t.id = $1`,
    [triggerId],
  );
  return rows[0]!;
};

describe("a small trigger's one-statement fan-out", () => {
  it("stores a trigger once when two runs of it race, each recipient with one seq", async () => {
    const trigger = await smallTrigger();
    const lock = await holdTrigger(trigger.id);
    const runs = Promise.all([fanOutTrigger(trigger.id), fanOutTrigger(trigger.id)]);
    // Both have loaded it as fresh and wait to claim it.
    await lock.waiting(2).finally(() => lock.release());
    const results = await runs;
    expect(results.map((r) => r.inserted).sort()).toEqual([0, 3]);
    expect(await stored(trigger.id)).toMatchObject({ notifications: 3, status: "completed", fanout_count: 3, outbox_done: true });
    const { rows } = await db.query<{ id: string; last_seq: number; unread_count: number }>("SELECT id, last_seq, unread_count FROM users WHERE id = ANY($1) ORDER BY id", [
      [...trigger.known, trigger.unknown],
    ]);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatchObject({ last_seq: 1, unread_count: 1 });
  });

  it("completes the trigger and its outbox row when the list is as long as a chunk", async () => {
    const trigger = await smallTrigger();
    expect(await fanOutTrigger(trigger.id, { chunkSize: 3 })).toEqual({ inserted: 3, status: "completed" });
    expect(await stored(trigger.id)).toMatchObject({ notifications: 3, status: "completed", fanout_count: 3, outbox_done: true });
  });

  it("caches the counts again when a job run again finds its trigger completed (its worker may have died before caching)", async () => {
    const trigger = await smallTrigger();
    expect((await fanOutTrigger(trigger.id)).inserted).toBe(3);
    const recipients = [...trigger.known, trigger.unknown];
    const { encodeCounts, decodeCounts } = await import("@/server/notifications/counts-format");
    const { countsKey } = await import("@/server/notifications/unread-counts");
    const { getRedis } = await import("@/server/redis");
    const stale = encodeCounts({ seq: 0, count: 0, unseen: 0 });
    const cached = async () => (await getRedis().mget(...recipients.map(countsKey))).map((v) => decodeCounts(v)?.count);
    expect(await cached()).toEqual([1, 1, 1]);
    await getRedis().mset(...recipients.flatMap((u) => [countsKey(u), stale]));
    // A first run finds nothing to do and leaves the cache alone; a job run again repairs it.
    expect(await fanOutTrigger(trigger.id)).toEqual({ inserted: 0, status: "skipped" });
    expect(await cached()).toEqual([0, 0, 0]);
    expect(await fanOutTrigger(trigger.id, { resumed: true })).toEqual({ inserted: 0, status: "skipped" });
    expect(await cached()).toEqual([1, 1, 1]);
  });

  it("runs on connections that plan generically and never scan sequentially", async () => {
    const { rows } = await keyedPool().query<{ plan: string; seqscan: string }>("SELECT current_setting('plan_cache_mode') AS plan, current_setting('enable_seqscan') AS seqscan");
    expect(rows[0]).toEqual({ plan: "force_generic_plan", seqscan: "off" });
  });

  it("stores nothing for a trigger cancelled while its statement waits: no notification, decision, counter or new user; the outbox row is done", async () => {
    const trigger = await smallTrigger();
    const lock = await holdTrigger(trigger.id);
    const run = fanOutTrigger(trigger.id);
    await lock.waiting(1).finally(() => lock.release("UPDATE triggers SET status = 'cancelled' WHERE id = $1"));
    expect((await run).inserted).toBe(0);
    expect(await stored(trigger.id)).toMatchObject({ notifications: 0, deliveries: 0, status: "cancelled", fanout_count: 0, outbox_done: true });
    const { rows } = await db.query<{ id: string; last_seq: number }>("SELECT id, last_seq FROM users WHERE id = ANY($1)", [[...trigger.known, trigger.unknown]]);
    expect(rows.map((r) => r.id).sort()).toEqual([...trigger.known].sort());
    for (const row of rows) expect(row.last_seq).toBe(0);
  });
});

describe("small triggers taken together (the fast path's batches)", () => {
  const trigger = async (type: string, to: string[]) => {
    const reply = await service.trigger({ type, to, actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "Hi" } });
    expect(reply.status).toBe(202);
    return reply.body.id as string;
  };

  it("stores several in one statement: a recipient of several takes a seq for each, in the order they were accepted", async () => {
    const { fanOutSmallTriggers } = await import("@/server/notifications/fan-out-trigger");
    const ann = uniqueId("ann");
    const bob = uniqueId("bob");
    const newcomer = uniqueId("new");
    for (const userId of [ann, bob]) expect((await service.call("PUT", `/api/v1/users/${userId}`, { name: "Someone" })).status).toBe(200);
    const first = await trigger("comment", [ann, bob]);
    const second = await trigger("comment", [ann]);
    const third = await trigger("comment", [newcomer, ann]);
    // A type with limits needs more than one statement; a finished trigger and an unknown id need none.
    const limited = await trigger("like", [ann]);
    const done = await trigger("comment", [bob]);
    expect((await fanOutTrigger(done)).inserted).toBe(1);
    const unknown = "01900000-0000-7000-8000-000000000000";

    // Out of order on purpose: the seqs follow acceptance, not the order they were taken in.
    const results = await fanOutSmallTriggers([third, limited, first, done, unknown, second]);
    expect(Object.fromEntries(results)).toEqual({
      [first]: { inserted: 2, status: "completed" },
      [second]: { inserted: 1, status: "completed" },
      [third]: { inserted: 2, status: "completed" },
      [limited]: { inserted: 0, status: "deferred" },
      [done]: { inserted: 0, status: "skipped" },
      [unknown]: { inserted: 0, status: "skipped" },
    });
    for (const [id, count] of [[first, 2], [second, 1], [third, 2]] as const) {
      expect(await stored(id)).toMatchObject({ notifications: count, status: "completed", fanout_count: count, outbox_done: true });
    }
    expect(await stored(limited)).toMatchObject({ notifications: 0, deliveries: 0, status: "accepted", outbox_done: false });

    const { rows: anns } = await db.query<{ trigger_id: string; seq: number; change_seq: number }>(
      `SELECT n.trigger_id, n.seq, c.seq AS change_seq FROM notifications n JOIN notification_changes c ON c.notification_id = n.id AND c.kind = 'new'
        WHERE n.user_id = $1 ORDER BY n.seq`,
      [ann],
    );
    expect(anns).toEqual([
      { trigger_id: first, seq: 1, change_seq: 1 },
      { trigger_id: second, seq: 2, change_seq: 2 },
      { trigger_id: third, seq: 3, change_seq: 3 },
    ]);
    const { rows: users } = await db.query<{ id: string; last_seq: number; unread_count: number; unseen_count: number }>(
      "SELECT id, last_seq, unread_count, unseen_count FROM users WHERE id = ANY($1) ORDER BY id",
      [[ann, bob, newcomer]],
    );
    expect(Object.fromEntries(users.map(({ id, ...u }) => [id, u]))).toEqual({
      [ann]: { last_seq: 3, unread_count: 3, unseen_count: 3 },
      [bob]: { last_seq: 2, unread_count: 2, unseen_count: 2 },
      [newcomer]: { last_seq: 1, unread_count: 1, unseen_count: 1 },
    });
    // The cache holds each user's latest counts, whatever order the batch wrote them in.
    const { decodeCounts } = await import("@/server/notifications/counts-format");
    const { countsKey } = await import("@/server/notifications/unread-counts");
    const { getRedis } = await import("@/server/redis");
    const cached = (await getRedis().mget(countsKey(ann), countsKey(bob), countsKey(newcomer))).map((v) => decodeCounts(v));
    expect(cached).toEqual([
      { seq: 3, count: 3, unseen: 3 },
      { seq: 2, count: 2, unseen: 2 },
      { seq: 1, count: 1, unseen: 1 },
    ]);
  });

  it("stores nothing of a trigger cancelled while the statement waits, and the rest of the batch as usual", async () => {
    const { fanOutSmallTriggers } = await import("@/server/notifications/fan-out-trigger");
    const cancelled = await smallTrigger();
    const kept = await smallTrigger();
    const lock = await holdTrigger(cancelled.id);
    const run = fanOutSmallTriggers([cancelled.id, kept.id]);
    await lock.waiting(1).finally(() => lock.release("UPDATE triggers SET status = 'cancelled' WHERE id = $1"));
    expect(Object.fromEntries(await run)).toEqual({ [cancelled.id]: { inserted: 0, status: "deferred" }, [kept.id]: { inserted: 3, status: "completed" } });
    expect(await stored(cancelled.id)).toMatchObject({ notifications: 0, deliveries: 0, status: "cancelled", fanout_count: 0 });
    expect(await stored(kept.id)).toMatchObject({ notifications: 3, status: "completed", fanout_count: 3, outbox_done: true });
    const { rows } = await db.query<{ id: string }>("SELECT id FROM users WHERE id = $1", [cancelled.unknown]);
    expect(rows).toEqual([]);
  });
});
