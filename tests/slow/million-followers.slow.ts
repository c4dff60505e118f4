// One trigger to a topic of 1,000,000 followers, both ways: fanned out on write (every follower gets
// exactly one notification, seqs contiguous, counters right) and as a broadcast (fanned out on read:
// one row, the online follower sees it live, an offline one merges it when reading). Prints timings.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDevice, eventually, request, serviceClient, userClient } from "../system/client";
import { startSystem, type System } from "../system/start-system";

const N = Number(process.env.SLOW_RECIPIENTS ?? 1_000_000);
const topic = "million";
const id = (i: number) => `m-${String(i).padStart(7, "0")}`;
let system: System;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  if (!existsSync(".next/BUILD_ID")) execFileSync("npm", ["run", "build"], { stdio: "inherit" });
  system = await startSystem({ webNodes: 1, relays: 1, fanoutWorkers: 2, env: { LOG_LEVEL: "error" } });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 4 });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
  const t = performance.now();
  await db.query("INSERT INTO topics (key) VALUES ($1)", [topic]);
  await db.query("INSERT INTO users (id) SELECT 'm-' || lpad(g::text, 7, '0') FROM generate_series(1, $1) g", [N]);
  await db.query("INSERT INTO topic_subscriptions (topic_key, user_id) SELECT $1, 'm-' || lpad(g::text, 7, '0') FROM generate_series(1, $2) g", [topic, N]);
  await db.query("VACUUM ANALYZE users");
  await db.query("VACUUM ANALYZE topic_subscriptions");
  console.log(`set-up: ${N.toLocaleString("en")} followers in ${((performance.now() - t) / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
});

async function completed(triggerId: string, timeoutMs: number) {
  await eventually(async () => ((await db.query("SELECT status FROM triggers WHERE id = $1", [triggerId])).rows[0].status === "completed" ? true : undefined), timeoutMs, "completed");
  return (await db.query("SELECT extract(epoch FROM completed_at - created_at)::float8 AS s, fanout_count FROM triggers WHERE id = $1", [triggerId])).rows[0] as { s: number; fanout_count: number };
}

describe(`a topic of ${N.toLocaleString("en")} followers`, () => {
  it("fan-out on write: exactly one notification each, seqs contiguous, counters right", async () => {
    const reply = await service.trigger({ type: "follow", to: { topic }, actor: { id: "star", name: "Star" }, channels: ["in_app"], broadcastThreshold: N });
    expect(reply.status).toBe(202);
    expect(reply.body.recipients).toBe(N);
    const done = await completed(reply.body.id, 1_500_000);
    console.log(`write: ${N.toLocaleString("en")} notifications in ${done.s.toFixed(1)} s = ${Math.round(N / done.s).toLocaleString("en")} recipients/s`);
    expect(done.fanout_count).toBe(N);
    const { rows } = await db.query<{ n: number; users: number }>("SELECT count(*)::int AS n, count(DISTINCT user_id)::int AS users FROM notifications WHERE trigger_id = $1", [reply.body.id]);
    expect(rows[0]).toEqual({ n: N, users: N });
    const { rows: wrong } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM users u LEFT JOIN (SELECT user_id, count(*) AS c FROM notification_changes GROUP BY user_id) c ON c.user_id = u.id
        WHERE u.id LIKE 'm-%' AND (u.last_seq <> 1 OR u.unread_count <> 1 OR coalesce(c.c, 0) <> 1)`,
    );
    expect(wrong[0]!.n).toBe(0);
    const me = userClient(system.webUrls[0]!, await service.token(id(Math.ceil(N / 2))));
    expect((await me.count()).body.count).toBe(1);
  });

  it("broadcast (fan-out on read): one row, live for the online follower, merged on read for an offline one", async () => {
    const web = system.webUrls[0]!;
    const device = await connectDevice(web, await service.token(id(1)));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const reply = await service.trigger({ type: "follow", to: { topic }, actor: { id: "star2", name: "Star Two" }, channels: ["in_app"], broadcastThreshold: 0 });
    const live = await device.waitFor("notification:new", (n) => n.actor?.id === "star2", 30_000);
    const seenMs = performance.now() - t0;
    device.close();
    console.log(`read: POST → notification:new on the online follower's socket in ${seenMs.toFixed(1)} ms`);
    expect(live.seq).toBe(2);
    const done = await completed(reply.body.id, 60_000);
    console.log(`read: accepted → completed in ${(done.s * 1000).toFixed(1)} ms`);
    expect(Number((await db.query("SELECT count(*) FROM notifications WHERE trigger_id = $1", [reply.body.id])).rows[0].count)).toBe(1);
    const offline = userClient(web, await service.token(id(N)));
    const t1 = performance.now();
    const list = (await offline.list()).body.notifications;
    console.log(`read: an offline follower's first inbox read (merging it) in ${(performance.now() - t1).toFixed(1)} ms`);
    expect(list.map((n) => n.actor?.id)).toEqual(["star2", "star"]);
    expect((await offline.count()).body.count).toBe(2);
    const status = await request(`${web}/api/v1/notifications/${reply.body.id}`, { token: system.serviceKey });
    expect(status.body.broadcast).toEqual({ recipients: N, merged: 2 });
  });
});
