// Triggers without an Idempotency-Key share their insert statement when they arrive while the
// statements in flight are busy (server/batcher.ts; create-trigger.ts). Here one statement at a time
// (DB_POOL_SIZE 2) is held up by a lock on the outbox, so that the requests arriving meanwhile
// certainly wait, then go together: each gets its own answer, the refused ones store nothing, and
// the accepted ones are one transaction.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, serviceClient, uniqueId } from "./client";
import { holdRows } from "./row-locks";
import { startSystem, type System } from "./start-system";

let system: System;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  system = await startSystem({ webNodes: 1, relays: 0, fanoutWorkers: 0, env: { DB_POOL_SIZE: "2", FANOUT_CHUNKED_CONCURRENCY: "1" } });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 3 });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
});

it("stores the triggers that waited in one statement, each with its own answer, and nothing of those refused", async () => {
  const topic = uniqueId("topic");
  const [ann, bob, cat] = [uniqueId("ann"), uniqueId("bob"), uniqueId("cat")];
  expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: [ann, bob] })).status).toBeLessThan(300);

  const held = await holdRows(db, "LOCK TABLE outbox IN SHARE MODE", []);
  let first: Promise<{ status: number; body: Record<string, unknown> }>;
  let rest: Promise<{ status: number; body: Record<string, unknown> }>[];
  try {
    // The one statement in flight: it waits for the lock.
    first = service.trigger({ type: "comment", to: [cat], title: "first" });
    await eventually(async () => ((await held.waiters()) >= 1 ? true : undefined), 10_000, "the first insert to wait for the outbox");
    rest = [
      service.trigger({ type: "comment", to: [ann, bob, ann], title: "to two, one named twice" }),
      service.trigger({ type: "no-such-type", to: [ann] }),
      service.trigger({ type: "comment", to: { topic }, title: "to the topic" }),
      service.trigger({ type: "comment", to: [bob], channels: ["sms"], title: "a channel the type has not" }),
      service.trigger({ type: "comment", to: [cat, ann], priority: "urgent", title: "urgent" }),
    ];
    // Their requests reach the web node and wait behind the statement in flight.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await held.release();
  }
  const replies = await Promise.all([first, ...rest]);
  expect(replies.map((r) => r.status)).toEqual([202, 202, 422, 202, 422, 202]);
  expect((replies[2]!.body.error as { code: string }).code).toBe("unknown_type");
  expect((replies[4]!.body.error as { code: string }).code).toBe("validation_failed");
  expect([1, 3, 5].map((i) => replies[i]!.body.recipients)).toEqual([2, 2, 2]);

  const accepted = [0, 1, 3, 5].map((i) => replies[i]!.body.id as string);
  const { rows } = await db.query<{ id: string; tx: string; recipient_ids: string[]; topic_key: string | null; priority: string; outbox: number }>(
    `SELECT t.id, t.xmin::text AS tx, t.recipient_ids, t.topic_key, t.priority, (SELECT count(*)::int FROM outbox o WHERE o.trigger_id = t.id) AS outbox
       FROM triggers t WHERE t.id = ANY($1::uuid[])`,
    [accepted],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  expect(accepted.map((id) => byId.get(id)).map((r) => r && { recipients: r.recipient_ids, topic: r.topic_key, priority: r.priority, outbox: r.outbox })).toEqual([
    { recipients: [cat], topic: null, priority: "normal", outbox: 1 },
    { recipients: [ann, bob], topic: null, priority: "normal", outbox: 1 },
    { recipients: [], topic, priority: "normal", outbox: 1 },
    { recipients: [cat, ann], topic: null, priority: "urgent", outbox: 1 },
  ]);
  // The three that waited were stored by one transaction, apart from the first.
  const tx = accepted.map((id) => byId.get(id)!.tx);
  expect(new Set(tx.slice(1)).size).toBe(1);
  expect(tx[0]).not.toBe(tx[1]);
  // And nothing else: the refused ones stored no trigger.
  const { rows: all } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM triggers");
  expect(all[0]!.n).toBe(4);
});
