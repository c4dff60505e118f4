// npm run bench:load -- [--sockets 10000] [--rates 100,200,400,700,1000,1400] [--step-seconds 12]
//                       [--web 1] [--fanout-workers 1] [--holders 2] [--node-args=--trace-gc]
// Starts the real system (web node(s), relay, fan-out worker, channel worker) on a fresh database,
// creates N users (PUT /api/v1/users/{id}, a name and no addresses) and connects N idle Socket.IO
// clients as them (real socket.io-client over WebSocket, held by
// `--holders` child processes, spread round-robin over the web nodes) and keeps them for the whole
// run. Prints the web node's memory per 1,000 sockets, then steps the trigger rate (each trigger to one
// online user chosen at random, POST /api/v1/notifications from a load generator process, open loop)
// and for each step: achieved throughput, trigger → `notification:new` p50/p95/p99, and the CPU of
// every process, the seconds of the step in which the deliveries past 100 ms were sent (a stall shows
// as a second or two of them) and those in which a web node used more than one core (a major GC),
// how long each process's main thread waited for a CPU (run queue), and each delivery cut in two at
// the web node's handler (send → handler, handler → received).
// The answer is the highest rate whose p99 stayed under 100 ms and that kept up. `--node-args` takes
// its flags after `=` (a value that starts with `--` is otherwise read as an option of its own).
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { request } from "../tests/system/client";
import pg from "pg";
import { startPrivateRedis, startSystem } from "../tests/system/start-system";
import { cpuMs, waitMs } from "./cpu-usage";

const { values } = parseArgs({
  options: {
    sockets: { type: "string", default: "10000" },
    rates: { type: "string", default: "100,200,400,700,1000,1400" },
    "step-seconds": { type: "string", default: "12" },
    web: { type: "string", default: "1" },
    "fanout-workers": { type: "string", default: "1" },
    holders: { type: "string", default: "2" },
    /** Write a V8 CPU profile of each web node and fan-out worker into this directory. */
    profile: { type: "string" },
    /** More Node.js flags for the web nodes and fan-out workers, space-separated (`--node-args=--trace-gc`). */
    "node-args": { type: "string", default: "" },
  },
});
const socketCount = Number(values.sockets);
const rates = values.rates.split(",").map(Number);
const stepSeconds = Number(values["step-seconds"]);
const webNodes = Number(values.web);
const holderCount = Number(values.holders);
if (![socketCount, stepSeconds, webNodes, holderCount, ...rates].every((n) => Number.isFinite(n) && n > 0)) {
  console.error("usage: npm run bench:load -- [--sockets 10000] [--rates 100,200,...] [--step-seconds 12] [--web 1] [--fanout-workers 1] [--holders 2] [--node-args=--trace-gc]");
  process.exit(2);
}

// Every child inherits this process's open-file limit; the busiest ones hold a socket per client.
const fdLimit = Number(execFileSync("sh", ["-c", "ulimit -n"]).toString().trim());
const fdNeeded = Math.ceil(socketCount / Math.min(webNodes, holderCount)) + 1000;
if (Number.isFinite(fdLimit) && fdLimit < fdNeeded) {
  console.error(`open-file limit ${fdLimit} is too low for ${socketCount} sockets (a web node or socket holder needs about ${fdNeeded}): run \`ulimit -n ${fdNeeded}\` first, or add --web/--holders`);
  process.exit(2);
}

if (!existsSync(".next/BUILD_ID")) {
  console.log("building the web app first (npm run build) …");
  execFileSync("npm", ["run", "build"], { stdio: "inherit" });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const fmt = (n: number) => Math.round(n).toLocaleString("en");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** A child of this bench (socket holder or load generator) that answers messages over IPC. */
type Child = { name: string; child: ChildProcess; ask: <T>(message: unknown, answer: string) => Promise<T> };
function forkChild(name: string, file: string): Promise<Child> {
  const child = fork(file, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ask = <T>(message: unknown, answer: string) =>
    new Promise<T>((resolve) => {
      const listener = (reply: { type: string }) => {
        if (reply.type !== answer) return;
        child.off("message", listener);
        resolve(reply as T);
      };
      child.on("message", listener);
      child.send(message as object);
    });
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve({ name, child, ask }));
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

/** Resident set size of a process, bytes (VmRSS of /proc/<pid>/status; `VmHWM` for its peak so far). */
function rssBytes(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return Number(line?.[1] ?? NaN) * 1024;
}

/** A gauge of a web node's /metrics (prom-client's default process metrics carry the `notify_web_` prefix). */
async function metric(url: string, name: string): Promise<number> {
  const text = (await request<string>(`${url}/metrics`)).body;
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(" ").at(-1) ?? NaN);
}

/** Busy and total CPU time of the whole machine (ms), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0) * 10;
  const idle = (fields[3]! + fields[4]!) * 10;
  return { busy: total - idle, total };
}

/**
 * A web node's memory right after it ran a full garbage collection (heap-probe.cjs), bytes: RSS, and
 * what its live objects hold, the V8 heap used plus the memory outside it that they own (buffers).
 */
function heapAfterGc(child: ChildProcess): Promise<{ rss: number; heap: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("web node did not answer bench:heap within 30 s")), 30_000);
    const onMessage = (message: { type?: string; heapUsed?: number; external?: number; rss?: number }) => {
      if (message?.type !== "bench:heap") return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve({ rss: message.rss!, heap: message.heapUsed! + message.external! });
    };
    child.on("message", onMessage);
    child.send({ type: "bench:heap" });
  });
}

const heapProbe = fileURLToPath(new URL("./bench-load/heap-probe.cjs", import.meta.url));
const profileArgs = [...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : []), ...values["node-args"].split(/\s+/).filter(Boolean)];
// A Redis of its own, so its CPU is this system's alone (the machine's shared one serves other runs too).
const redis = await startPrivateRedis();
const redisPid = readdirSync("/proc")
  .filter((d) => /^\d+$/.test(d))
  .find((d) => {
    try {
      // redis-server retitles itself "redis-server 127.0.0.1:<port>".
      return readFileSync(`/proc/${d}/comm`, "utf8").startsWith("redis-server") && readFileSync(`/proc/${d}/cmdline`, "utf8").includes(`:${redis.port}`);
    } catch {
      return false;
    }
  });
const system = await startSystem({
  redisUrl: redis.url,
  webNodes,
  relays: 1,
  fanoutWorkers: Number(values["fanout-workers"]),
  channelWorkers: 1,
  // The default ingestion limit (1,000 requests/s per service key) would answer 429 above it: the
  // bench measures the system, so the bucket is set far above the rates it offers (still checked).
  env: { LOG_LEVEL: "error", INGEST_REQUESTS_PER_SECOND: "1000000" },
  nodeArgs: { web: [`--require=${heapProbe}`, ...profileArgs], fanout: profileArgs },
});
const children: Child[] = [];
let db: pg.Client | undefined;
try {
  const webs = system.processes.filter((p) => p.name.startsWith("web"));
  const prefix = "load-";
  console.log(`== load: ${fmt(socketCount)} idle sockets on ${webNodes} web node(s), ${values["fanout-workers"]} fan-out worker(s); ${holderCount} socket holder process(es) ==`);

  // --- Users and their tokens, as a service creates and obtains them ------------------------------
  let t = performance.now();
  const devices: { userId: string; token: string; url: string }[] = new Array(socketCount);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < socketCount) {
        const i = next++;
        const url = system.webUrls[i % webNodes]!;
        // Known users, as a product's are (a profile without addresses, so only the inbox and push
        // route): the measured steps then store notifications, not the first row of each recipient.
        const profile = await request(`${url}/api/v1/users/${prefix}${i}`, { method: "PUT", token: system.serviceKey, body: { name: `Load user ${i}` } });
        if (profile.status !== 200) throw new Error(`user ${prefix}${i}: ${profile.status} ${JSON.stringify(profile.body)}`);
        const reply = await request<{ token: string }>(`${url}/api/v1/users/${prefix}${i}/token`, { method: "POST", token: system.serviceKey, body: {} });
        if (reply.status !== 200) throw new Error(`token for ${prefix}${i}: ${reply.status} ${JSON.stringify(reply.body)}`);
        devices[i] = { userId: `${prefix}${i}`, token: reply.body.token, url };
      }
    }),
  );
  console.log(`(set-up: ${fmt(socketCount)} users and their tokens in ${((performance.now() - t) / 1000).toFixed(1)} s)`);

  for (let i = 0; i < holderCount; i++) children.push(await forkChild(`socket holder ${i}`, "scripts/bench-load/sockets.ts"));
  const generator = await forkChild("load generator", "scripts/bench-load/generator.ts");
  children.push(generator);
  const holders = children.filter((c) => c.name.startsWith("socket holder"));

  // --- Memory per 1,000 sockets ---------------------------------------------------------------------
  await sleep(3000);
  // Each web node's RSS and live V8 heap right after a full collection (scripts/bench-load/heap-probe.cjs).
  const memory = async () => Promise.all(webs.map((w) => heapAfterGc(w.child)));
  const before = await memory();
  t = performance.now();
  const connected = await Promise.all(
    holders.map((h, k) => h.ask<{ count: number; failed: number }>({ type: "connect", devices: devices.filter((_, i) => i % holderCount === k) }, "connected")),
  );
  const connectSeconds = (performance.now() - t) / 1000;
  const sockets = connected.reduce((n, c) => n + c.count, 0);
  const failedSockets = connected.reduce((n, c) => n + c.failed, 0);
  console.log(`connected ${fmt(sockets)} sockets in ${connectSeconds.toFixed(1)} s (${fmt(sockets / connectSeconds)}/s), failed: ${failedSockets}`);
  if (sockets === 0) throw new Error("no socket connected");
  await sleep(5000);
  const after = await memory();
  const perNode = await Promise.all(system.webUrls.map((url) => metric(url, "notify_sockets_connected")));
  console.log(`web node(s) report ${perNode.map(fmt).join(" + ")} sockets connected; users online: ${fmt(await metric(system.webUrls[0]!, "notify_users_online"))}`);
  const sum = (list: { rss: number; heap: number }[], key: "rss" | "heap") => list.reduce((n, m) => n + m[key], 0);
  const perThousand = (key: "rss" | "heap") => (sum(after, key) - sum(before, key)) / (sockets / 1000);
  // RSS is shown but not divided: V8 gives freed pages back to the system when it pleases, so its
  // difference moves by tens of MiB either way; the live objects' memory is what sockets add.
  console.log(
    `web node memory after a full GC: RSS ${mib(sum(before, "rss"))} → ${mib(sum(after, "rss"))} MiB, V8 heap used + external ${mib(sum(before, "heap"))} → ${mib(sum(after, "heap"))} MiB` +
      ` ⇒ per 1,000 sockets: ${mib(perThousand("heap"))} MiB of live objects`,
  );
  console.log(`socket holders: RSS ${holders.map((h) => mib(rssBytes(h.child.pid!))).join(" + ")} MiB`);

  // --- Trigger rate steps ---------------------------------------------------------------------------
  type Done = { sent: number; accepted: number; statuses: Record<string, number>; acceptLatencies: number[]; sendSeconds: number; behind: number };
  type Samples = { latencies: number[]; ingest: number[]; onward: number[]; late: Record<string, number>; connected: number; unexpectedDisconnects: number };
  const runStep = (step: string, rate: number, seconds: number) =>
    generator.ask<Done>({ type: "run", step, rate, seconds, urls: system.webUrls, key: system.serviceKey, users: socketCount, prefix }, "done");
  const collect = async (step: string) => {
    const all = await Promise.all(holders.map((h) => h.ask<Samples>({ type: "collect", step }, "samples")));
    const late: Record<string, number> = {};
    for (const s of all) for (const [second, n] of Object.entries(s.late)) late[second] = (late[second] ?? 0) + n;
    return {
      latencies: all.flatMap((s) => s.latencies),
      ingest: all.flatMap((s) => s.ingest),
      onward: all.flatMap((s) => s.onward),
      late,
      connected: all.reduce((n, s) => n + s.connected, 0),
      unexpectedDisconnects: all.reduce((n, s) => n + s.unexpectedDisconnects, 0),
    };
  };
  // PostgreSQL's CPU for this system: the backends connected to its database (the pools keep them
  // for the whole run; the server's shared background processes are not counted).
  const client = (db = new pg.Client({ connectionString: system.databaseUrl }));
  client.on("error", () => undefined);
  await client.connect();
  let pgPids: number[] = [];
  const snapshot = async () => {
    const s = new Map<string, number>();
    for (const p of system.processes) s.set(p.name, cpuMs(p.child.pid!));
    const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    for (const r of rows) s.set(`postgres ${r.pid}`, cpuMs(r.pid));
    pgPids = rows.map((r) => r.pid);
    s.set("redis", redisPid ? cpuMs(Number(redisPid)) : NaN);
    for (const c of children) s.set(c.name, cpuMs(c.child.pid!));
    return s;
  };
  // Run-queue waits of the main threads (the event loops, Redis's one thread), ms so far.
  const waits = () => {
    const w = new Map<string, number>();
    for (const p of system.processes) w.set(p.name, waitMs(p.child.pid!));
    w.set("redis", redisPid ? waitMs(Number(redisPid)) : NaN);
    // Summed over the backends, as their CPU is (one that started meanwhile counts whole).
    w.set("postgres", pgPids.reduce((n, pid) => n + waitMs(pid), 0));
    for (const c of children) w.set(c.name, waitMs(c.child.pid!));
    return w;
  };

  // Warm-up, not measured: the first requests compile route handlers, and the first rate's
  // concurrency opens the pools' connections (each plans its statements when it first runs them).
  // At the first step's rate, else that step measures the start-up (p99 of seconds at 550/s).
  const warm = await runStep("warm-up", rates[0]!, 5);
  for (let seen = 0, waited = 0; seen < warm.accepted && waited < 20_000; waited += 100) {
    await sleep(100);
    seen += (await collect("warm-up")).latencies.length;
  }

  type Row = { rate: number; offered: number; delivered: number; accepted: number; sent: number; late: number; p: number[]; accept99: number; cpu: Map<string, number>; machine: number; ours: number; behind: number; statuses: Record<string, number> };
  const rows: Row[] = [];
  for (const rate of rates) {
    const cpu0 = await snapshot();
    const wait0 = waits();
    const m0 = machineCpu();
    const wall0 = performance.now();
    const stepStart = Date.now();
    // Every 100 ms, each web node's CPU: above one core (its JavaScript runs on one thread, so this is
    // the garbage collector's helper threads at work, a major GC) is noted by the second of the step.
    const burst = new Map<string, Set<number>>();
    let previous = webs.map((w) => cpuMs(w.child.pid!));
    let previousAt = performance.now();
    const sampler = setInterval(() => {
      const current = webs.map((w) => cpuMs(w.child.pid!));
      const at = performance.now();
      current.forEach((ms, i) => {
        if ((ms - previous[i]!) / (at - previousAt) < 1.2) return;
        const seconds = burst.get(webs[i]!.name) ?? new Set<number>();
        burst.set(webs[i]!.name, seconds);
        seconds.add(Math.floor((Date.now() - stepStart) / 1000));
      });
      previous = current;
      previousAt = at;
    }, 100);
    const done = await runStep(`step-${rate}`, rate, stepSeconds).finally(() => clearInterval(sampler));
    const cpu1 = await snapshot();
    const wait1 = waits();
    const m1 = machineCpu();
    const window = performance.now() - wall0;
    // Drain: what is still in flight arrives, or is counted late after 10 s (a saturated step's backlog,
    // delivered later: `npm run chaos` is what checks that nothing is lost).
    const drainStart = performance.now();
    let samples = await collect(`step-${rate}`);
    const latencies = samples.latencies;
    const ingest = samples.ingest;
    const onward = samples.onward;
    const late = samples.late;
    while (latencies.length < done.accepted && performance.now() - drainStart < 10_000) {
      await sleep(100);
      samples = await collect(`step-${rate}`);
      latencies.push(...samples.latencies);
      ingest.push(...samples.ingest);
      onward.push(...samples.onward);
      for (const [second, n] of Object.entries(samples.late)) late[second] = (late[second] ?? 0) + n;
    }
    const received = latencies.length;
    const sorted = latencies.sort((a, b) => a - b);
    const acceptSorted = done.acceptLatencies.sort((a, b) => a - b);
    // % of one core per process (PostgreSQL's backends summed; one that started meanwhile counts whole).
    const cpu = new Map<string, number>();
    for (const [key, ms] of cpu1) {
      const name = key.startsWith("postgres ") ? "postgres" : key;
      cpu.set(name, (cpu.get(name) ?? 0) + ((ms - (cpu0.get(key) ?? 0)) / window) * 100);
    }
    const ours = [...cpu.values()].reduce((a, b) => a + b, 0);
    const row: Row = {
      rate,
      sent: done.sent,
      accepted: done.accepted,
      offered: (done.sent - 1) / done.sendSeconds,
      // Deliveries per second from the first send until the last one arrived.
      delivered: received / ((done.sendSeconds * 1000 + (sorted.at(-1) ?? 0)) / 1000),
      late: done.accepted - received,
      p: [50, 95, 99].map((q) => percentile(sorted, q)).concat(sorted.at(-1) ?? NaN),
      accept99: percentile(acceptSorted, 99),
      cpu,
      machine: ((m1.busy - m0.busy) / window) * 100,
      ours,
      behind: done.behind,
      statuses: done.statuses,
    };
    rows.push(row);
    const failed = Object.entries(done.statuses).filter(([s]) => s !== "202");
    console.log(
      `${String(rate).padStart(5)}/s: sent ${fmt(row.offered)}/s, delivered ${fmt(row.delivered)}/s, p50 ${row.p[0]!.toFixed(1)} p95 ${row.p[1]!.toFixed(1)} p99 ${row.p[2]!.toFixed(1)} max ${row.p[3]!.toFixed(1)} ms` +
        `, 202 p99 ${row.accept99.toFixed(1)} ms${failed.length ? `, not accepted: ${failed.map(([s, n]) => `${s}×${n}`).join(" ")}` : ""}${row.late ? `, ${row.late} not delivered within 10 s of the step's end` : ""}` +
        `; sockets still connected ${fmt(samples.connected)}${samples.unexpectedDisconnects ? ` (${samples.unexpectedDisconnects} dropped)` : ""}`,
    );
    const cut = (list: number[]) => {
      const s = list.sort((a, b) => a - b);
      return [50, 99].map((q) => percentile(s, q).toFixed(1)).join(" / ");
    };
    if (ingest.length > 0) console.log(`         p50 / p99 of its parts: send → handler ${cut(ingest)} ms, handler → received ${cut(onward)} ms`);
    const lateSeconds = Object.entries(late).sort(([a], [b]) => Number(a) - Number(b));
    if (lateSeconds.length > 0) {
      // Seconds from the step's start: one or two seconds holding most of them is a stall.
      const at = (second: string) => Number(second) - Math.floor(stepStart / 1000);
      console.log(`         past 100 ms, by the second of the step they were sent in: ${lateSeconds.map(([second, n]) => `${at(second)} s ×${n}`).join(", ")}`);
    }
    const waited = [...wait1]
      .map(([name, ms]) => [name, ((ms - (wait0.get(name) ?? 0)) / window) * 100] as const)
      .filter(([, pct]) => pct >= 0.5)
      .map(([name, pct]) => `${name.replace("socket holder ", "holder-").replace("load generator", "generator")} ${pct.toFixed(0)}%`);
    if (waited.length > 0) console.log(`         waiting for a CPU (run queue, % of the step): ${waited.join(", ")}`);
    for (const [name, seconds] of burst) console.log(`         ${name} above one core (GC threads) in second(s): ${[...seconds].join(", ")}`);
    // Far past saturation a further step only measures a growing backlog.
    if (row.p[2]! > 2000 || row.late > row.accepted * 0.05) {
      console.log("(saturated: later steps skipped)");
      break;
    }
    await sleep(3000);
  }

  // --- The table ------------------------------------------------------------------------------------
  const names = [...rows[0]!.cpu.keys()];
  const short = (name: string) => name.replace("socket holder ", "holder-").replace("load generator", "generator");
  console.log(`\n== ${fmt(sockets)} idle sockets, ${webNodes} web node(s): trigger → notification:new on the recipient's socket (${stepSeconds} s per step, open loop) ==`);
  const header = ["offered/s", "sent/s", "delivered/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "202 p99", "late or refused", ...names.map((n) => `${short(n)} %`), "machine %", "others %"];
  const table = rows.map((r) => [
    String(r.rate),
    fmt(r.offered),
    fmt(r.delivered),
    r.p[0]!.toFixed(1),
    r.p[1]!.toFixed(1),
    r.p[2]!.toFixed(1),
    r.p[3]!.toFixed(0),
    r.accept99.toFixed(1),
    String(r.late + (r.sent - r.accepted)),
    ...names.map((n) => (r.cpu.get(n) ?? 0).toFixed(0)),
    r.machine.toFixed(0),
    Math.max(0, r.machine - r.ours).toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  console.log(header.map((h, i) => h.padStart(widths[i]!)).join("  "));
  for (const row of table) console.log(row.map((c, i) => c.padStart(widths[i]!)).join("  "));
  console.log(
    "CPU in % of one core over each step's sending window (the machine has " +
      `${readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length ?? "?"} cores, 100% each); postgres: the backends of this run's database; redis: its own` +
      " redis-server; others %: what processes outside this bench used meanwhile (other users of the machine, PostgreSQL's shared background work).",
  );
  console.log("CPU ms per trigger sent (the cost of one trigger, which contention inflates less than it does latency):");
  for (const r of rows) {
    const per = [...r.cpu].filter(([n]) => !/holder|generator/.test(n)).map(([n, pct]) => [short(n), (pct * 10) / r.offered] as const);
    console.log(`${String(r.rate).padStart(5)}/s: system ${per.reduce((n, [, ms]) => n + ms, 0).toFixed(2)} ms = ${per.map(([n, ms]) => `${n} ${ms.toFixed(2)}`).join(", ")}`);
  }
  // What WEB_HEAP_GROWING_PERCENT trades for fewer major GCs: a web node's heap grows further between them.
  console.log(`web node memory at the end: ${webs.map((w) => `${w.name} RSS ${mib(rssBytes(w.child.pid!))} MiB (peak ${mib(rssBytes(w.child.pid!, "VmHWM"))} MiB)`).join(", ")}`);
  const kept = (r: Row) => r.late === 0 && r.accepted === r.sent && r.offered >= 0.97 * r.rate && r.delivered >= 0.95 * r.rate;
  const best = rows.filter((r) => r.p[2]! < 100 && kept(r)).at(-1);
  console.log(
    best
      ? `highest steady rate with p99 < 100 ms that kept up: ${fmt(best.rate)} triggers/s (p99 ${best.p[2]!.toFixed(1)} ms; aim: 1,000/s)`
      : "no step had p99 < 100 ms and kept up",
  );
} finally {
  for (const c of children) if (c.child.connected) c.child.send({ type: "close" });
  await Promise.all(children.map((c) => (c.child.exitCode === null ? new Promise((r) => c.child.once("exit", r)) : undefined)));
  await db?.end();
  await system.stop();
  await redis.stop();
}
process.exit(0);
