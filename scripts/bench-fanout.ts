// npm run bench:fanout -- --recipients 1000000 --mode write|read [--fanout-workers 2] [--samples 200]
// Starts the real system (web node, relay, fan-out workers) on a fresh database, fills a topic with N
// subscribers, and prints:
//  write: the rate at which one topic trigger is materialised into N inboxes (notifications, seqs,
//         counters, changes log: accept → completed), then, on the same database in the same run, the
//         rate of a plain COPY of the same notification rows into a copy of the notifications table
//         (same columns, indexes and constraints): the ceiling, and the ratio of the two;
//  read:  a broadcast to the same N followers (fan-out on read): the time from the POST until an
//         online follower's socket has it, and the inbox query (list and unread count, which merge
//         pending broadcasts first) p50/p99 for followers who were offline.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { connectDevice, request } from "../tests/system/client";
import { startSystem } from "../tests/system/start-system";
import { cpuBetween, cpuSnapshot } from "./cpu-usage";

const { values } = parseArgs({
  options: {
    recipients: { type: "string", default: "100000" },
    mode: { type: "string", default: "write" },
    "fanout-workers": { type: "string", default: "2" },
    samples: { type: "string", default: "200" },
    /** Write a V8 CPU profile of each fan-out worker into this directory. */
    profile: { type: "string" },
  },
});
const recipients = Number(values.recipients);
const mode = values.mode;
const samples = Number(values.samples);
if (!Number.isInteger(recipients) || recipients < 1 || (mode !== "write" && mode !== "read")) {
  console.error("usage: npm run bench:fanout -- --recipients N --mode write|read [--fanout-workers 2] [--samples 200]");
  process.exit(2);
}

if (!existsSync(".next/BUILD_ID")) {
  console.log("building the web app first (npm run build) …");
  execFileSync("npm", ["run", "build"], { stdio: "inherit" });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

const system = await startSystem({
  webNodes: 1,
  relays: 1,
  fanoutWorkers: Number(values["fanout-workers"]),
  env: { LOG_LEVEL: "error" },
  nodeArgs: { fanout: [...(process.env.BENCH_FANOUT_NODE_ARGS?.split(" ").filter(Boolean) ?? []), ...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [])] },
});
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 4 });
const web = system.webUrls[0]!;
try {
  console.log(`== fan-out ${mode}: one trigger to a topic of ${fmt(recipients)} followers (${values["fanout-workers"]} fan-out workers, chunk ${process.env.FANOUT_CHUNK_SIZE ?? 2000}) ==`);
  const topic = `bench-${mode}-${recipients}`;
  const t = performance.now();
  await db.query("INSERT INTO topics (key) VALUES ($1)", [topic]);
  await db.query("INSERT INTO users (id, locale) SELECT 'f-' || lpad(g::text, 8, '0'), 'en' FROM generate_series(1, $1) g", [recipients]);
  await db.query("INSERT INTO topic_subscriptions (topic_key, user_id) SELECT $1, 'f-' || lpad(g::text, 8, '0') FROM generate_series(1, $2) g", [topic, recipients]);
  await db.query("VACUUM ANALYZE users");
  await db.query("VACUUM ANALYZE topic_subscriptions");
  // Each measured phase starts from a clean checkpoint, so none pays for writing out what came before.
  await db.query("CHECKPOINT");
  console.log(`(set-up: ${fmt(recipients)} users and subscriptions in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  const trigger = async (extra: Record<string, unknown>) => {
    const reply = await request<{ id: string }>(`${web}/api/v1/notifications`, {
      method: "POST",
      token: system.serviceKey,
      body: { type: "follow", to: { topic }, actor: { id: "celebrity", name: "Celebrity" }, channels: ["in_app"], ...extra },
    });
    if (reply.status !== 202) throw new Error(`trigger: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.id;
  };
  const waitCompleted = async (id: string) => {
    for (;;) {
      const { rows } = await db.query("SELECT status FROM triggers WHERE id = $1", [id]);
      if (rows[0].status === "completed") return;
      if (rows[0].status === "failed") throw new Error("fan-out failed");
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  if (mode === "write") {
    const cpuBefore = cpuSnapshot(system);
    const id = await trigger({ broadcastThreshold: recipients });
    await waitCompleted(id);
    const cpuAfter = cpuSnapshot(system);
    const { rows } = await db.query(
      `SELECT extract(epoch FROM completed_at - created_at)::float8 AS seconds, (SELECT count(*)::int FROM notifications WHERE trigger_id = $1) AS stored
         FROM triggers WHERE id = $1`,
      [id],
    );
    const written = rows[0].stored / rows[0].seconds;
    console.log(`fan-out on write: ${fmt(rows[0].stored)} notifications (with seqs, counters and changes) in ${rows[0].seconds.toFixed(2)} s: ${fmt(written)} recipients/s`);
    console.log(`CPU µs per recipient: ${cpuBetween(cpuBefore, cpuAfter, rows[0].stored / 1000, 1)}`);

    // The ceiling: COPY the same rows into an empty copy of the notifications table.
    await db.query("CREATE TABLE bench_copy (LIKE notifications INCLUDING ALL)");
    const source = await db.connect();
    const target = await db.connect();
    try {
      const file = `/tmp/bench-fanout-${process.pid}.copy`;
      const { createWriteStream, createReadStream, rmSync } = await import("node:fs");
      await pipeline(source.query(copyTo(`COPY (SELECT * FROM notifications WHERE trigger_id = '${id}') TO STDOUT (FORMAT binary)`)), createWriteStream(file));
      await db.query("CHECKPOINT");
      const c0 = performance.now();
      await pipeline(createReadStream(file), target.query(copyFrom("COPY bench_copy FROM STDIN (FORMAT binary)")));
      const copySeconds = (performance.now() - c0) / 1000;
      rmSync(file);
      const ceiling = rows[0].stored / copySeconds;
      console.log(`COPY ceiling: the same ${fmt(rows[0].stored)} rows into a copy of the table (same columns, indexes, constraints) in ${copySeconds.toFixed(2)} s: ${fmt(ceiling)} rows/s`);
      console.log(`ratio fan-out / COPY: ${(written / ceiling).toFixed(2)} (aim: at least 0.5)`);
    } finally {
      source.release();
      target.release();
      await db.query("DROP TABLE bench_copy");
    }
  } else {
    // An online follower (a socket), and followers who were offline and open their inbox afterwards.
    const online = "f-00000001";
    const tokenOf = async (userId: string) =>
      (await request<{ token: string }>(`${web}/api/v1/users/${userId}/token`, { method: "POST", token: system.serviceKey, body: {} })).body.token;
    const device = await connectDevice(web, await tokenOf(online));
    await new Promise((r) => setTimeout(r, 300));
    const sent = performance.now();
    const id = await trigger({ broadcastThreshold: 0 });
    await device.waitFor("notification:new", () => true, 60_000);
    const seen = performance.now() - sent;
    await waitCompleted(id);
    const { rows } = await db.query("SELECT extract(epoch FROM completed_at - created_at)::float8 * 1000 AS ms, (SELECT count(*)::int FROM notifications WHERE trigger_id = $1) AS copies FROM triggers WHERE id = $1", [id]);
    console.log(`broadcast: accepted → completed ${rows[0].ms.toFixed(1)} ms; ${rows[0].copies} row(s) written for ${fmt(recipients)} followers`);
    console.log(`POST → notification:new on the online follower's socket: ${seen.toFixed(1)} ms (aim: under 1000 ms)`);
    device.close();
    // Offline followers open their inbox: the first list merges the broadcast, later ones find nothing new.
    const followers = Array.from({ length: Math.min(samples, recipients - 1) }, (_, i) => `f-${String(2 + Math.floor((i * (recipients - 1)) / samples)).padStart(8, "0")}`);
    const tokens = await Promise.all(followers.map(tokenOf));
    const timed = async (url: string, token: string) => {
      const s = performance.now();
      const r = await request(url, { token });
      if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
      return { ms: performance.now() - s, body: r.body };
    };
    const first: number[] = [];
    const again: number[] = [];
    const counts: number[] = [];
    for (const token of tokens) {
      const a = await timed(`${web}/api/notifications?limit=20`, token);
      if (a.body.notifications.length !== 1) throw new Error("a follower's inbox does not show the broadcast");
      first.push(a.ms);
      again.push((await timed(`${web}/api/notifications?limit=20`, token)).ms);
      counts.push((await timed(`${web}/api/notifications/unread-count`, token)).ms);
    }
    const show = (label: string, list: number[]) => {
      const sorted = [...list].sort((x, y) => x - y);
      console.log(`${label}: p50 ${percentile(sorted, 50).toFixed(1)} ms  p99 ${percentile(sorted, 99).toFixed(1)} ms  (n=${sorted.length})`);
    };
    show("inbox list, first read (merges the broadcast)", first);
    show("inbox list, later reads", again);
    show("unread count", counts);
  }
} finally {
  await db.end();
  await system.stop();
}
process.exit(0);
