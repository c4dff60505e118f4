// npm run bench:priority -- [--backlog 10000] [--urgent 5]
// Starts the real system (web node, relay, one fan-out worker) on a fresh database, builds a backlog
// of low-priority triggers through the API while no fan-out worker runs, starts the worker, and then
// sends urgent triggers while the backlog is being worked off. Prints, for each urgent trigger, the
// backlog still waiting when it was sent and how long it waited: from `202` to `notification:new` on
// the recipient's socket (aim: under 100 ms).
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { connectDevice, request } from "../tests/system/client";
import { startSystem } from "../tests/system/start-system";

const { values } = parseArgs({ options: { backlog: { type: "string", default: "10000" }, urgent: { type: "string", default: "5" } } });
const backlog = Number(values.backlog);
const urgentCount = Number(values.urgent);

if (!existsSync(".next/BUILD_ID")) {
  console.log("building the web app first (npm run build) …");
  execFileSync("npm", ["run", "build"], { stdio: "inherit" });
}

const system = await startSystem({ webNodes: 1, relays: 1, fanoutWorkers: 1, env: { LOG_LEVEL: "warn" } });
const web = system.webUrls[0]!;
const redis = new Redis(system.redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue("{fanout}", { connection: redis, prefix: `${system.redisPrefix}:bull` });
const waiting = async () => {
  const counts = await queue.getJobCounts("waiting", "prioritized", "active");
  // These one-recipient triggers wait on the fan-out's fast path (server/queues.ts), if it is on.
  const fast = await Promise.all(["urgent", "high", "normal", "low"].map((p) => redis.zcard(`${system.redisPrefix}:{fanout}:fast:${p}`)));
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + fast.reduce((a, b) => a + b, 0);
};

try {
  // No fan-out worker while the backlog is built.
  for (const worker of system.processes.filter((p) => p.name.startsWith("fanout"))) {
    worker.child.kill("SIGTERM");
    await worker.exited;
  }
  const started = Date.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < backlog) {
        next++;
        const r = await request(`${web}/api/v1/notifications`, { method: "POST", token: system.serviceKey, body: { type: "like", to: [`fan-${next}`], priority: "low", actor: { id: "x", name: "X" } } });
        if (r.status !== 202) failed++;
      }
    }),
  );
  console.log(`backlog: ${backlog} low-priority triggers accepted in ${((Date.now() - started) / 1000).toFixed(1)} s (${failed} failed); queued: ${await waiting()}`);

  await system.startPart("fanout");
  // Let the worker get going on the backlog first.
  while ((await waiting()) > backlog - 200) await new Promise((r) => setTimeout(r, 20));

  const results: { backlog: number; ms: number }[] = [];
  for (let i = 0; i < urgentCount; i++) {
    const user = `oncall-${i}`;
    const token = (await request(`${web}/api/v1/users/${user}/token`, { method: "POST", token: system.serviceKey, body: {} })).body.token as string;
    const device = await connectDevice(web, token);
    const queued = await waiting();
    const sent = performance.now();
    const reply = await request(`${web}/api/v1/notifications`, { method: "POST", token: system.serviceKey, body: { type: "system", to: [user], title: "Database down", priority: "urgent" } });
    if (reply.status !== 202) throw new Error(`urgent trigger: ${reply.status}`);
    await device.waitFor("notification:new", () => true, 30_000);
    results.push({ backlog: queued, ms: performance.now() - sent });
    device.close();
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log("\n== urgent trigger behind a low-priority backlog: 202 → notification:new ==");
  for (const r of results) console.log(`backlog waiting ${String(r.backlog).padStart(6)}  →  urgent delivered in ${r.ms.toFixed(1)} ms`);
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
  console.log(`median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, worst ${sorted.at(-1)!.toFixed(1)} ms (aim: under 100 ms)`);
} finally {
  await queue.close();
  redis.disconnect();
  await system.stop();
}
