// `npm start`: runs the whole built system on PORT — one web node (Next.js + Socket.IO), the outbox
// relay, the fan-out worker and the channel workers — each as its own process, restarted if it dies.
// Each part can also be started alone (npm run start:web | start:relay | start:fanout | start:channels)
// to scale them independently.
//
// `npm run start:cluster` (= `start -- --web 2 --workers 2`): several web nodes on PORT+1… behind the
// sticky proxy on PORT (server/cluster/sticky-proxy.ts), and that many of each worker: the scale-out
// layout on one machine, without Docker.
import { fork, type ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import { env } from "@/server/env";
import { startStickyProxy } from "@/server/cluster/sticky-proxy";

const { values } = parseArgs({ options: { web: { type: "string", default: "1" }, workers: { type: "string", default: "1" } } });
const webNodes = Math.max(1, Number(values.web) || 1);
const workersEach = Math.max(1, Number(values.workers) || 1);
const clustered = webNodes > 1;

type Part = { name: string; entry: string; env?: Record<string, string> };
const parts: Part[] = [
  ...Array.from({ length: webNodes }, (_, i) => ({
    name: clustered ? `web-${i}` : "web",
    entry: "server.ts",
    env: clustered ? { PORT: String(env.PORT + 1 + i), BIND_ADDRESS: "127.0.0.1" } : undefined,
  })),
  ...(["relay", "fanout", "channels"] as const).flatMap((kind) =>
    Array.from({ length: workersEach }, (_, i) => ({ name: workersEach > 1 ? `${kind}-${i}` : kind, entry: `workers/${kind}.ts` })),
  ),
];

const children = new Map<string, ChildProcess>();
let stopping = false;

function launch(part: Part, restarts = 0): void {
  const child = fork(part.entry, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? "production", NOTIFY_SERVICE: part.name, ...part.env },
    stdio: "inherit",
  });
  children.set(part.name, child);
  child.on("message", (message: { type?: string; port?: number }) => {
    if (!clustered && part.name === "web" && message.type === "ready") console.log(`\nNotify is up: ${env.PUBLIC_URL ?? `http://localhost:${message.port}`}\n`);
  });
  child.on("exit", (code, signal) => {
    children.delete(part.name);
    if (stopping) return;
    const delay = Math.min(30_000, 500 * 2 ** restarts);
    console.error(`${part.name} exited (${signal ?? code}); restarting in ${delay} ms`);
    setTimeout(() => launch(part, restarts + 1), delay);
  });
}

for (const part of parts) launch(part);

let closeProxy: (() => Promise<void>) | null = null;
if (clustered) {
  const backends = parts.filter((p) => p.entry === "server.ts").map((p) => `http://127.0.0.1:${p.env!.PORT}`);
  const proxy = await startStickyProxy(backends, env.PORT, env.BIND_ADDRESS);
  closeProxy = proxy.close;
  console.log(`\nNotify is up: ${env.PUBLIC_URL ?? `http://localhost:${env.PORT}`} (${webNodes} web nodes behind the proxy, ${workersEach} of each worker)\n`);
}

/** Forwards the signal to every part and exits when all have (or after 15 s). */
function stop(signal: NodeJS.Signals): void {
  stopping = true;
  void closeProxy?.();
  for (const child of children.values()) child.kill(signal);
  setInterval(() => {
    if (children.size === 0) process.exit(0);
  }, 100);
  setTimeout(() => process.exit(1), 15_000).unref();
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
