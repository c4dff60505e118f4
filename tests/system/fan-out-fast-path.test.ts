// The fan-out's fast path (server/queues.ts): a small fresh trigger waits in a sorted set per
// priority instead of as a BullMQ job, and a fan-out worker takes it from there, highest priority
// first and oldest first. What needs more than one statement goes to BullMQ, by the web node (a
// topic, more than FANOUT_ONE_STATEMENT_MAX recipients) or by the worker (a type with limits,
// aggregation or batching). The relay leaves a trigger waiting there alone; one a killed worker had
// taken is queued again by the relay (crash.test.ts).
import pg from "pg";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, serviceClient, uniqueId } from "./client";
import { startPrivateRedis, startSystem, type System } from "./start-system";

let system: System;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let client: Redis;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  // One job at a time, so that the order the worker takes them in is the order they complete in.
  system = await startSystem({ redisUrl: redis.url, webNodes: 1, relays: 1, fanoutWorkers: 1, env: { FANOUT_CONCURRENCY: "1", OUTBOX_GRACE_MS: "2000", OUTBOX_POLL_MS: "100" } });
  client = new Redis(redis.url);
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
});

afterAll(async () => {
  client?.disconnect();
  await db?.end();
  await system?.stop();
  await redis?.stop();
});

const fastKey = (priority: string) => `${system.redisPrefix}:{fanout}:fast:${priority}`;
const bullJobs = async (triggerId: string) => (await client.keys(`${system.redisPrefix}:bull:*${triggerId}*`)).length;

async function send(body: Record<string, unknown>): Promise<string> {
  const reply = await service.trigger({ type: "comment", actor: { id: "ann", name: "Ann" }, ...body });
  expect(reply.status).toBe(202);
  return reply.body.id as string;
}

async function stopFanoutWorkers(): Promise<void> {
  for (const worker of system.processes.filter((p) => p.name.startsWith("fanout"))) {
    worker.child.kill("SIGTERM");
    await worker.exited;
  }
}

it("small triggers wait on the fast path, untouched by the relay, and are fanned out urgent first, then oldest first", async () => {
  await stopFanoutWorkers();
  const lows: string[] = [];
  for (let i = 0; i < 4; i++) lows.push(await send({ to: [uniqueId(`low${i}`)], priority: "low", title: `low ${i}` }));
  const urgent = await send({ to: [uniqueId("urgent"), uniqueId("urgent")], priority: "urgent", title: "urgent" });
  // More than FANOUT_ONE_STATEMENT_MAX (64) recipients: a BullMQ job from the start.
  const big = await send({ to: Array.from({ length: 65 }, (_, i) => uniqueId(`big${i}`)), priority: "low", title: "big" });

  for (const id of lows) expect(await client.zscore(fastKey("low"), id)).not.toBeNull();
  expect(await client.zscore(fastKey("urgent"), urgent)).not.toBeNull();
  expect(await client.zscore(fastKey("low"), big)).toBeNull();
  expect(await bullJobs(big)).toBeGreaterThan(0);
  for (const id of [...lows, urgent]) expect(await bullJobs(id)).toBe(0);

  // Well past OUTBOX_GRACE_MS: the relay looked at every row, found each queued, and queued nothing again.
  await eventually(async () => {
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE trigger_id = ANY($1::uuid[]) AND enqueued_at IS NOT NULL", [[...lows, urgent]]);
    return rows[0]!.n === 5 ? true : undefined;
  }, 10_000, "the relay to look at every row");
  const { rows: attempts } = await db.query<{ attempts: number }>("SELECT attempts FROM outbox WHERE trigger_id = ANY($1::uuid[])", [[...lows, urgent]]);
  expect(attempts.map((r) => r.attempts)).toEqual([0, 0, 0, 0, 0]);
  for (const id of [...lows, urgent]) expect(await bullJobs(id)).toBe(0);

  // Oldest first: by score (when queued, in ms), then by id for a tie, as Redis orders them.
  const scores = new Map(await Promise.all(lows.map(async (id) => [id, Number(await client.zscore(fastKey("low"), id))] as const)));
  const lowOrder = [...lows].sort((a, b) => scores.get(a)! - scores.get(b)! || (a < b ? -1 : 1));

  // One trigger per statement, one statement at a time: the order they are taken in is the order they complete in.
  await system.startPart("fanout", { FANOUT_FAST_BATCH: "1", FANOUT_FAST_STATEMENTS: "1" });
  const ids = [urgent, ...lows, big];
  await eventually(async () => {
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM triggers WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids]);
    return rows[0]!.n === ids.length ? true : undefined;
  }, 30_000, "every trigger completed");
  const { rows: order } = await db.query<{ id: string }>("SELECT id FROM triggers WHERE id = ANY($1::uuid[]) ORDER BY completed_at, id", [[urgent, ...lows]]);
  expect(order.map((r) => r.id)).toEqual([urgent, ...lowOrder]);
  const { rows: stored } = await db.query<{ trigger_id: string; n: number }>("SELECT trigger_id, count(*)::int AS n FROM notifications WHERE trigger_id = ANY($1::uuid[]) GROUP BY trigger_id", [ids]);
  expect(Object.fromEntries(stored.map((r) => [r.trigger_id, r.n]))).toEqual(Object.fromEntries(ids.map((id) => [id, id === big ? 65 : id === urgent ? 2 : 1])));
  for (const priority of ["urgent", "high", "normal", "low"]) expect(await client.zcard(fastKey(priority))).toBe(0);
  const { rows: done } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE trigger_id = ANY($1::uuid[]) AND done_at IS NULL", [ids]);
  expect(done[0]!.n).toBe(0);
});

it("a small trigger of a type with limits is handed from the fast path to BullMQ by the worker, not left to the relay", async () => {
  // `like` has a limit per hour: its fan-out locks rows of its own, so it is not one statement.
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    ids.push(await send({ type: "like", to: [uniqueId("liked")], target: { type: "post", id: uniqueId("post") } }));
  }
  for (const id of ids) await eventually(async () => ((await service.status(id)).body.status === "completed" ? true : undefined), 15_000, "completed");
  const { rows } = await db.query<{ attempts: number; n: number }>(
    "SELECT o.attempts, (SELECT count(*)::int FROM notifications n WHERE n.trigger_id = o.trigger_id) AS n FROM outbox o WHERE o.trigger_id = ANY($1::uuid[])",
    [ids],
  );
  // Done well within OUTBOX_GRACE_MS: the relay never had to queue them (that would count an attempt).
  expect(rows).toEqual([{ attempts: 0, n: 1 }, { attempts: 0, n: 1 }]);
});

it("takes what waits together: one statement for the triggers that waited, and a trigger it cannot do so is handed to BullMQ", async () => {
  await stopFanoutWorkers();
  const waiting: string[] = [];
  for (let i = 0; i < 5; i++) waiting.push(await send({ to: [uniqueId(`batched${i}`), uniqueId(`batched${i}`)], title: `batched ${i}` }));
  const limited = await send({ type: "like", to: [uniqueId("liked")], target: { type: "post", id: uniqueId("post") } });
  await system.startPart("fanout", { FANOUT_FAST_BATCH: "32", FANOUT_FAST_STATEMENTS: "2" });
  for (const id of [...waiting, limited]) await eventually(async () => ((await service.status(id)).body.status === "completed" ? true : undefined), 15_000, "completed");
  // A statement's writes share its transaction's time: one time for all five, so one statement.
  const { rows: batches } = await db.query<{ n: number }>("SELECT count(DISTINCT completed_at)::int AS n FROM triggers WHERE id = ANY($1::uuid[])", [waiting]);
  expect(batches[0]!.n).toBe(1);
  const { rows } = await db.query<{ trigger_id: string; attempts: number; n: number }>(
    "SELECT o.trigger_id, o.attempts, (SELECT count(*)::int FROM notifications n WHERE n.trigger_id = o.trigger_id) AS n FROM outbox o WHERE o.trigger_id = ANY($1::uuid[]) AND o.done_at IS NOT NULL",
    [[...waiting, limited]],
  );
  expect(Object.fromEntries(rows.map((r) => [r.trigger_id, [r.n, r.attempts]]))).toEqual(
    Object.fromEntries([...waiting.map((id) => [id, [2, 0]]), [limited, [1, 0]]]),
  );
});
