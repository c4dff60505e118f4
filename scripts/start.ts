// `npm start`: runs the whole built system on PORT — one web node (Next.js + Socket.IO), the outbox
// relay, the fan-out worker and the channel workers — each as its own process, restarted if it dies.
// Each part can also be started alone (npm run start:web | start:relay | start:fanout | start:channels)
// to scale them independently.
import { fork, type ChildProcess } from "node:child_process";
import { env } from "@/server/env";

const parts = [
  { name: "web", entry: "server.ts" },
  { name: "relay", entry: "workers/relay.ts" },
  { name: "fanout", entry: "workers/fanout.ts" },
  { name: "channels", entry: "workers/channels.ts" },
] as const;

const children = new Map<string, ChildProcess>();
let stopping = false;

function launch(part: (typeof parts)[number], restarts = 0): void {
  const child = fork(part.entry, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? "production", NOTIFY_SERVICE: part.name },
    stdio: "inherit",
  });
  children.set(part.name, child);
  child.on("message", (message: { type?: string; port?: number }) => {
    if (part.name === "web" && message.type === "ready") console.log(`\nNotify is up: ${env.PUBLIC_URL ?? `http://localhost:${message.port}`}\n`);
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

/** Forwards the signal to every part and exits when all have (or after 15 s). */
function stop(signal: NodeJS.Signals): void {
  stopping = true;
  for (const child of children.values()) child.kill(signal);
  setInterval(() => {
    if (children.size === 0) process.exit(0);
  }, 100);
  setTimeout(() => process.exit(1), 15_000).unref();
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
