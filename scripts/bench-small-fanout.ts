// npm run bench:small-fanout [-- --triggers 1500 --rounds 3 --batch 16 --recipients 1]
// The fan-out of a small trigger (one recipient, or `--recipients` of 500 users) by the fan-out worker's own code, called in this
// process one trigger after another on a real system (web node for the triggers, PostgreSQL, Redis;
// no fan-out worker process, no BullMQ), three ways in alternating rounds: the chunk transaction
// (FANOUT_ONE_STATEMENT_MAX=0: load, begin, claim and page, store, commit), one statement per trigger
// (=64, the default), and one statement per `--batch` triggers, as the fast path takes them when they
// wait (fanOutSmallTriggers). Prints per round the wall time, this process's CPU and PostgreSQL's CPU
// (the backends of the run's database) per trigger. Each round runs in a child process of its own,
// since the setting is read once per process.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import pg from "pg";
import { serviceClient } from "../tests/system/client";
import { startSystem, useSystemInProcess } from "../tests/system/start-system";
import { cpuMs } from "./cpu-usage";

const { values } = parseArgs({
  options: {
    triggers: { type: "string", default: "1500" },
    rounds: { type: "string", default: "3" },
    batch: { type: "string", default: "16" },
    recipients: { type: "string", default: "1" },
    child: { type: "boolean", default: false },
  },
});
const TRIGGERS = Number(values.triggers);
const RECIPIENTS = Number(values.recipients);
const WARM = 200;

if (!values.child) {
  if (!existsSync(".next/BUILD_ID")) execFileSync("npm", ["run", "build"], { stdio: "inherit" });
  console.log(`== small-trigger fan-out, ${TRIGGERS} triggers of ${RECIPIENTS} recipient(s) per round, in this process ==`);
  for (let round = 1; round <= Number(values.rounds); round++) {
    const ways = [
      ["chunk transaction (5 round trips)", "0", "1"],
      ["one statement (2 round trips)", "64", "1"],
      [`${values.batch} per statement (2 round trips)`, "64", values.batch],
    ] as const;
    for (const [label, max, batch] of ways) {
      const child = spawnSync(process.execPath, ["--import", "tsx", "scripts/bench-small-fanout.ts", "--child", "--triggers", String(TRIGGERS), "--batch", batch, "--recipients", String(RECIPIENTS)], {
        env: { ...process.env, FANOUT_ONE_STATEMENT_MAX: max, LOG_LEVEL: "error" },
        encoding: "utf8",
      });
      const result = child.stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (child.status !== 0 || !result) {
        console.error(child.stdout, child.stderr);
        process.exit(1);
      }
      console.log(`round ${round}, ${label.padEnd(34)} ${result.slice(7)}`);
    }
  }
  process.exit(0);
}

const system = await startSystem({ webNodes: 1, relays: 0, fanoutWorkers: 0, env: { LOG_LEVEL: "error" } });
const closeServerModules = useSystemInProcess(system);
const { fanOutTrigger, fanOutSmallTriggers } = await import("../server/notifications/fan-out-trigger");
const BATCH = Number(values.batch);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 1 });
try {
  const service = serviceClient(system.webUrls[0]!, system.serviceKey);
  const ids: string[] = [];
  for (let i = 0; i < TRIGGERS + WARM; i++) {
    const reply = await service.trigger({ type: "comment", to: Array.from({ length: RECIPIENTS }, (_, k) => `u${(i + k * 7) % 500}`), actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "Hi" } });
    if (reply.status !== 202) throw new Error(`trigger: ${reply.status} ${JSON.stringify(reply.body)}`);
    ids.push(reply.body.id);
  }
  for (const id of ids.slice(0, WARM)) await fanOutTrigger(id);
  const backends = async () => {
    const { rows } = await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    return rows.reduce((sum, { pid }) => sum + cpuMs(pid), 0);
  };
  const pgBefore = await backends();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let inserted = 0;
  const measured = ids.slice(WARM);
  if (BATCH === 1) for (const id of measured) inserted += (await fanOutTrigger(id)).inserted;
  else {
    for (let i = 0; i < measured.length; i += BATCH) {
      for (const result of (await fanOutSmallTriggers(measured.slice(i, i + BATCH))).values()) inserted += result.inserted;
    }
  }
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const pgMs = (await backends()) - pgBefore;
  if (inserted !== TRIGGERS * RECIPIENTS) throw new Error(`stored ${inserted} of ${TRIGGERS * RECIPIENTS}`);
  const each = (ms: number) => (ms / TRIGGERS).toFixed(3);
  console.log(`RESULT wall ${each(wall)} ms, this process ${each((cpu.user + cpu.system) / 1000)} ms, PostgreSQL ${each(pgMs)} ms per trigger`);
} finally {
  await closeServerModules();
  await db.end();
  await system.stop();
}
process.exit(0);
