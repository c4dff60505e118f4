// npm run bench:deliver -- [--rate 200] [--seconds 10] [--devices 50] [--recipients 100000] [--fanout-workers 1]
// Starts the real system (web node, relay, fan-out workers) on a fresh database and prints:
//  1. the latency from POST /api/v1/notifications to `notification:new` on a connected socket.io
//     client, p50/p95/p99, at the steady trigger rate it achieved;
//  2. the fan-out rate, in recipients per second, of one trigger to a topic of N subscribers.
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import http from "node:http";
import { parseArgs } from "node:util";
import pg from "pg";
import { connectDevice, request } from "../tests/system/client";
import { startSystem } from "../tests/system/start-system";
import { cpuSnapshot as cpuSnapshotOf } from "./cpu-usage";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "10" },
    devices: { type: "string", default: "50" },
    recipients: { type: "string", default: "100000" },
    "fanout-workers": { type: "string", default: "1" },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const deviceCount = Number(values.devices);
const recipients = Number(values.recipients);

if (!existsSync(".next/BUILD_ID")) {
  console.log("building the web app first (npm run build) …");
  execFileSync("npm", ["run", "build"], { stdio: "inherit" });
}

const cpuSnapshot = () => cpuSnapshotOf(system);

// The load generator should cost as little CPU as it can (it shares the machine with the system):
// node:http with kept-alive connections instead of fetch.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function postTrigger(url: string, key: string, body: unknown): Promise<{ status: number; body: { id?: string } }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/notifications`,
      { method: "POST", agent, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString() || "{}") as { id?: string } }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

const system = await startSystem({
  webNodes: 1,
  relays: 1,
  fanoutWorkers: Number(values["fanout-workers"]),
  env: { LOG_LEVEL: "error", OUTBOX_POLL_MS: "1000" },
  // BENCH_WEB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": a CPU profile of the web node.
  nodeArgs: { web: process.env.BENCH_WEB_NODE_ARGS?.split(" ").filter(Boolean) ?? [] },
});
const web = system.webUrls[0]!;
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 4 });
try {
  // --- 1. Trigger → notification:new latency at a steady rate -------------------------------------
  const users = Array.from({ length: deviceCount }, (_, i) => `bench-user-${i}`);
  const devices = await Promise.all(
    users.map(async (user) => {
      const { body } = await request<{ token: string }>(`${web}/api/v1/users/${user}/token`, { method: "POST", token: system.serviceKey, body: {} });
      return connectDevice(web, body.token);
    }),
  );
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  for (const device of devices) {
    device.socket.on("notification:new", (n: { data: { benchId?: string } }) => {
      const started = n.data.benchId ? sentAt.get(n.data.benchId) : undefined;
      if (started !== undefined) latencies.push(performance.now() - started);
    });
  }
  // Warm up (first requests compile and connect pools).
  for (let i = 0; i < 50; i++) await postTrigger(web, system.serviceKey, { type: "like", to: [users[i % users.length]], data: { warmup: true } });
  const total = rate * seconds;
  const interval = 1000 / rate;
  const cpuBefore = cpuSnapshot();
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  const acceptLatencies: number[] = [];
  const triggerIds: string[] = [];
  let failures = 0;
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const benchId = `b${i}`;
    sentAt.set(benchId, performance.now());
    pending.push(
      postTrigger(web, system.serviceKey, { type: "comment", to: [users[i % users.length]], actor: { id: "bench", name: "Bench" }, data: { benchId, excerpt: "hello" } }).then((r) => {
        acceptLatencies.push(performance.now() - sentAt.get(benchId)!);
        if (r.status !== 202 || !r.body.id) failures++;
        else triggerIds.push(r.body.id);
      }),
    );
  }
  const sendSeconds = (performance.now() - start) / 1000;
  await Promise.all(pending);
  const cpuAfter = cpuSnapshot();
  const deadline = Date.now() + 15_000;
  while (latencies.length < total - failures && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log("\n== trigger → notification:new (socket.io client, same machine) ==");
  console.log(`triggers sent: ${total} in ${sendSeconds.toFixed(2)} s = ${(total / sendSeconds).toFixed(1)} triggers/s (target ${rate}/s), failed: ${failures}`);
  console.log(`delivered: ${latencies.length}/${total}`);
  console.log(`latency ms: p50 ${percentile(sorted, 50).toFixed(1)}  p95 ${percentile(sorted, 95).toFixed(1)}  p99 ${percentile(sorted, 99).toFixed(1)}  max ${(sorted.at(-1) ?? NaN).toFixed(1)}`);
  const acceptSorted = [...acceptLatencies].sort((a, b) => a - b);
  console.log(`202 answered ms: p50 ${percentile(acceptSorted, 50).toFixed(1)}  p95 ${percentile(acceptSorted, 95).toFixed(1)}  p99 ${percentile(acceptSorted, 99).toFixed(1)}`);
  const { rows: stages } = await db.query(
    `SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM t.completed_at - t.created_at) * 1000) AS stored
       FROM triggers t WHERE t.id = ANY($1::uuid[])`,
    [triggerIds],
  );
  const fmt = (v: number[]) => `p50 ${v[0]!.toFixed(1)}  p99 ${v[1]!.toFixed(1)}`;
  console.log(`accepted → fanned out (committed) ms: ${fmt(stages[0].stored)}`);
  console.log("CPU ms per trigger: " + [...cpuAfter].map(([name, ms]) => `${name} ${((ms - (cpuBefore.get(name) ?? 0)) / total).toFixed(2)}`).join(", "));
  for (const d of devices) d.close();

  // --- 2. Fan-out rate for one topic trigger -----------------------------------------------------
  const topic = `bench-topic-${recipients}`;
  await db.query("INSERT INTO topics (key) VALUES ($1)", [topic]);
  await db.query("INSERT INTO users (id) SELECT 'f-' || g FROM generate_series(1, $1) g", [recipients]);
  await db.query("INSERT INTO topic_subscriptions (topic_key, user_id) SELECT $1, 'f-' || g FROM generate_series(1, $2) g", [topic, recipients]);
  await db.query("ANALYZE");
  const reply = await request<{ id: string }>(`${web}/api/v1/notifications`, {
    method: "POST",
    token: system.serviceKey,
    body: { type: "follow", to: { topic }, actor: { id: "celebrity", name: "Celebrity" }, broadcastThreshold: recipients },
  });
  const t0 = performance.now();
  for (;;) {
    const { rows } = await db.query("SELECT status FROM triggers WHERE id = $1", [reply.body.id]);
    if (rows[0].status === "completed" || rows[0].status === "failed") break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const wall = (performance.now() - t0) / 1000;
  const { rows } = await db.query(
    `SELECT extract(epoch FROM completed_at - created_at)::float8 AS total_s, fanout_count,
            (SELECT count(*)::int FROM notifications WHERE trigger_id = $1) AS stored
       FROM triggers WHERE id = $1`,
    [reply.body.id],
  );
  const r = rows[0];
  console.log(`\n== fan-out: one trigger to a topic of ${recipients.toLocaleString("en")} subscribers ==`);
  console.log(`stored ${r.stored.toLocaleString("en")} notifications in ${r.total_s.toFixed(2)} s (accept → completed; ${wall.toFixed(2)} s observed)`);
  console.log(`fan-out rate: ${Math.round(r.stored / r.total_s).toLocaleString("en")} recipients/s (chunk ${process.env.FANOUT_CHUNK_SIZE ?? 2000})`);
} finally {
  await db.end();
  await system.stop();
}
process.exit(0);
