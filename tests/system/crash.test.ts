// Crash tests on a private redis-server: a fan-out worker killed with SIGKILL mid-chunk, and Redis
// flushed after the job reached BullMQ. Every recipient must end with exactly one notification.
import pg from "pg";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, serviceClient, uniqueId } from "./client";
import { freePort, startPrivateRedis, startSystem, type Proc, type System } from "./start-system";
import { decodeCounts, encodeCounts } from "@/server/notifications/counts-format";
import { holdRows } from "./row-locks";

let system: System;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  system = await startSystem({
    redisUrl: redis.url,
    webNodes: 1,
    relays: 2,
    fanoutWorkers: 1,
    env: { FANOUT_CHUNK_SIZE: "100", FANOUT_LOCK_MS: "2000", OUTBOX_GRACE_MS: "1000", OUTBOX_REDELIVER_MS: "1500", FANOUT_CONCURRENCY: "2" },
  });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
  await redis?.stop();
});

/**
 * Holds the user rows of the recipients the fan-out reaches last (in PostgreSQL's own id order) locked,
 * sends the trigger, waits until at least `minDone` are stored and a chunk statement waits for the
 * held rows, then SIGKILLs every fan-out worker and lets the rows go. The workers die with a chunk in
 * flight for certain: it cannot commit before the kill, it waits for the lock. (Killing whenever a
 * chunk statement was seen running raced the last chunk on a fast machine, which committed first.)
 */
async function killMidChunk(recipients: string[], minDone: number, send: () => Promise<string>): Promise<string> {
  const { rows: last } = await db.query<{ id: string }>("SELECT id FROM users WHERE id = ANY($1::text[]) ORDER BY id DESC LIMIT 10", [recipients]);
  const held = await holdRows(db, "SELECT 1 FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [last.map((r) => r.id)]);
  try {
    const triggerId = await send();
    await eventually(async () => {
      const { rows } = await db.query("SELECT fanout_count FROM triggers WHERE id = $1", [triggerId]);
      return rows[0].fanout_count >= minDone ? true : undefined;
    });
    await eventually(async () => ((await held.waiters()) > 0 ? true : undefined), 30_000, "a chunk statement waiting for the held rows");
    for (const worker of fanoutWorkers()) worker.child.kill("SIGKILL");
    for (const worker of system.processes.filter((p) => p.name.startsWith("fanout"))) await worker.exited;
    return triggerId;
  } finally {
    await held.release();
  }
}

function fanoutWorkers(): Proc[] {
  return system.processes.filter((p) => p.name.startsWith("fanout") && p.child.exitCode === null && p.child.signalCode === null);
}

async function expectExactlyOneEach(triggerId: string, recipients: string[]): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await db.query("SELECT status FROM triggers WHERE id = $1", [triggerId]);
      return rows[0]?.status === "completed" ? true : undefined;
    },
    90_000,
    "the trigger to complete",
  );
  const { rows } = await db.query<{ user_id: string; n: number }>(
    "SELECT user_id, count(*)::int AS n FROM notifications WHERE trigger_id = $1 GROUP BY user_id",
    [triggerId],
  );
  expect(rows.length).toBe(recipients.length);
  expect(rows.filter((r) => r.n !== 1)).toEqual([]);
  expect(new Set(rows.map((r) => r.user_id))).toEqual(new Set(recipients));
  // Each recipient's seq is still contiguous: the rolled-back chunk took none.
  const { rows: gaps } = await db.query(
    `SELECT u.id FROM users u WHERE u.id = ANY($1::text[])
        AND u.last_seq <> (SELECT count(*) FROM notification_changes c WHERE c.user_id = u.id)`,
    [recipients],
  );
  expect(gaps).toEqual([]);
  const { rows: outbox } = await db.query("SELECT done_at FROM outbox WHERE trigger_id = $1", [triggerId]);
  expect(outbox[0].done_at).not.toBeNull();
}

describe("crash safety", { timeout: 150_000 }, () => {
  it("a fan-out worker killed with SIGKILL mid-chunk and restarted leaves exactly one notification per recipient", async () => {
    const topic = uniqueId("big");
    // Large enough that the fan-out is still far from done when it is killed (a fast machine does
    // 8,000 in well under a second, and the kill then races the last chunk).
    const recipients = Array.from({ length: 20_000 }, (_, i) => `${topic}-u${i}`);
    for (let i = 0; i < recipients.length; i += 10_000) {
      expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: recipients.slice(i, i + 10_000) })).status).toBe(200);
    }
    // Every recipient already has cached counts (from earlier reads), which the fan-out must keep true
    // even when the worker dies between a commit and its cache write.
    const client = new Redis(redis.url);
    const countsKey = (user: string) => `${system.redisPrefix}:unread:{${user}}`;
    const seed = client.pipeline();
    for (const user of recipients) seed.set(countsKey(user), encodeCounts({ seq: 0, count: 0, unseen: 0 }), "EX", 600);
    await seed.exec();
    // Let it get part of the way, then kill it without warning while a chunk statement runs.
    const triggerId = await killMidChunk(recipients, 300, async () => {
      const reply = await service.trigger({ type: "follow", to: { topic }, actor: { id: "star", name: "Star" }, broadcastThreshold: 1_000_000 });
      expect(reply.status).toBe(202);
      return reply.body.id as string;
    });
    const { rows } = await db.query("SELECT fanout_count, status FROM triggers WHERE id = $1", [triggerId]);
    expect(rows[0].status).toBe("processing");
    expect(rows[0].fanout_count).toBeLessThan(recipients.length);
    await system.startPart("fanout");
    await expectExactlyOneEach(triggerId, recipients);
    const read = client.pipeline();
    for (const user of recipients) read.get(countsKey(user));
    const cached = (await read.exec())!.map(([, value]) => decodeCounts(value as string | null));
    client.disconnect();
    const { rows: truth } = await db.query<{ id: string; unread_count: number; unseen_count: number }>(
      "SELECT id, unread_count, unseen_count FROM users WHERE id = ANY($1::text[])",
      [recipients],
    );
    const byId = new Map(truth.map((r) => [r.id, r]));
    const drifted = recipients.filter((user, i) => {
      const counts = cached[i];
      return counts !== null && (counts!.count !== byId.get(user)!.unread_count || counts!.unseen !== byId.get(user)!.unseen_count);
    });
    expect(drifted).toEqual([]);
  });

  it("Redis flushed after the job reached BullMQ: the outbox sends it again and nothing is lost or doubled", async () => {
    for (const worker of fanoutWorkers()) {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
    const recipients = Array.from({ length: 700 }, (_, i) => uniqueId(`flush${i}`));
    const reply = await service.trigger({ type: "like", to: recipients, actor: { id: "x", name: "X" } });
    expect(reply.status).toBe(202);
    const { rows: accepted } = await db.query("SELECT done_at FROM outbox WHERE trigger_id = $1", [reply.body.id]);
    expect(accepted).toEqual([{ done_at: null }]);
    const client = new Redis(redis.url);
    try {
      await eventually(async () => ((await client.keys(`${system.redisPrefix}:bull:*${reply.body.id}*`)).length > 0 ? true : undefined), 10_000, "the job in BullMQ");
      expect(await client.flushall()).toBe("OK");
      expect(await client.dbsize()).toBe(0);
    } finally {
      client.disconnect();
    }
    await system.startPart("fanout");
    await expectExactlyOneEach(reply.body.id, recipients);
  });

  it("killed mid-chunk and Redis flushed before the restart: still exactly one each", async () => {
    const topic = uniqueId("both");
    const recipients = Array.from({ length: 6000 }, (_, i) => `${topic}-u${i}`);
    await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: recipients });
    const triggerId = await killMidChunk(recipients, 200, async () => {
      const reply = await service.trigger({ type: "comment", to: { topic }, actor: { id: "y", name: "Y" }, data: { excerpt: "hi" } });
      return reply.body.id as string;
    });
    const { rows } = await db.query("SELECT status FROM triggers WHERE id = $1", [triggerId]);
    expect(rows[0].status).toBe("processing");
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
    await system.startPart("fanout");
    await expectExactlyOneEach(triggerId, recipients);
  });

  it("a fan-out worker killed while it runs a trigger it took from the fast path: the relay queues it again, exactly one each", async () => {
    if (fanoutWorkers().length === 0) await system.startPart("fanout");
    const recipients = [uniqueId("fast0"), uniqueId("fast1"), uniqueId("fast2")];
    for (const user of recipients) expect((await service.call("PUT", `/api/v1/users/${user}`, { name: user })).status).toBe(200);
    // The one statement waits for the recipients' rows, so the worker dies with it in flight.
    const held = await holdRows(db, "SELECT 1 FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [recipients]);
    let triggerId: string;
    const client = new Redis(redis.url);
    try {
      const reply = await service.trigger({ type: "comment", to: recipients, actor: { id: "z", name: "Z" }, data: { excerpt: "hi" } });
      expect(reply.status).toBe(202);
      triggerId = reply.body.id as string;
      await eventually(async () => ((await held.waiters()) > 0 ? true : undefined), 30_000, "the fan-out statement waiting for the held rows");
      // Taken from the fast path: in no queue now, only in the dying worker's hands.
      expect(await client.zscore(`${system.redisPrefix}:{fanout}:fast:normal`, triggerId)).toBeNull();
      expect(await client.keys(`${system.redisPrefix}:bull:*${triggerId}*`)).toEqual([]);
      for (const worker of fanoutWorkers()) worker.child.kill("SIGKILL");
      for (const worker of system.processes.filter((p) => p.name.startsWith("fanout"))) await worker.exited;
      // Its connection dies too (PostgreSQL would otherwise run the statement, which commits by itself,
      // to the end): the statement is rolled back, and the trigger is in no one's hands.
      const { rows: ended } = await db.query<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
      );
      expect(ended).toEqual([{ ok: true }]);
    } finally {
      await held.release();
    }
    try {
      expect((await db.query("SELECT count(*)::int AS n FROM notifications WHERE trigger_id = $1", [triggerId])).rows[0].n).toBe(0);
      // The relay finds the row not done after OUTBOX_GRACE_MS, and nothing queued: an attempt (its
      // transaction commits after the job is added), and a BullMQ job.
      await eventually(async () => {
        const { rows } = await db.query("SELECT attempts FROM outbox WHERE trigger_id = $1", [triggerId]);
        return rows[0].attempts >= 1 ? true : undefined;
      }, 15_000, "the relay to queue it again");
      expect((await client.keys(`${system.redisPrefix}:bull:*${triggerId}*`)).length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
      // (Whatever happened above, the next tests need a fan-out worker.)
      await system.startPart("fanout");
    }
    await expectExactlyOneEach(triggerId, recipients);
  });

  it("a web node that cannot reach Redis still accepts durably, and the relay queues what it could not", async () => {
    const lonely = await system.startPart("web", { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, LOG_LEVEL: "fatal" });
    const web = serviceClient(`http://127.0.0.1:${lonely.port}`, system.serviceKey);
    const health = await web.call("GET", "/api/health");
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ ok: false, db: "up", redis: "down" });
    const recipients = [uniqueId("lonely"), uniqueId("lonely")];
    const reply = await web.trigger({ type: "system", to: recipients, title: "Still here", body: "Redis was down on that node" });
    expect(reply.status).toBe(202);
    await expectExactlyOneEach(reply.body.id, recipients);
    lonely.child.kill("SIGTERM");
    await lonely.exited;
  });

  it("a web node whose PostgreSQL is down answers 503 with the error body, without a stack trace", async () => {
    const orphan = await system.startPart("web", { DATABASE_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/nowhere`, LOG_LEVEL: "fatal" });
    const web = serviceClient(`http://127.0.0.1:${orphan.port}`, system.serviceKey);
    const health = await web.call("GET", "/api/health");
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ ok: false, db: "down", redis: "up" });
    const reply = await web.trigger({ type: "system", to: [uniqueId("x")], title: "t" });
    expect(reply.status).toBe(503);
    expect(reply.body.error.code).toBe("unavailable");
    expect(reply.headers.get("retry-after")).toBe("5");
    expect(JSON.stringify(reply.body)).not.toMatch(/ECONNREFUSED|at .*\.js/);
    orphan.child.kill("SIGTERM");
    await orphan.exited;
  });
});
