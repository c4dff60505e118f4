// The outbox relay: moves accepted triggers from PostgreSQL onto the fan-out queue. Woken by
// LISTEN/NOTIFY at each commit, and polling as a fallback. Any number may run.
import pg from "pg";
import { env } from "@/server/env";
import { closeDb } from "@/server/db";
import { closeQueues } from "@/server/queues";
import { logger } from "@/server/logger";
import { pruneOldRows, relayOutboxBatch } from "@/server/outbox/relay-outbox";

let stopping = false;
let wake: (() => void) | null = null;
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      wake = null;
      resolve();
    }
    wake = done;
  });

async function listen(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  client.on("error", (error) => {
    logger.warn({ err: error }, "relay LISTEN connection lost; polling until it is back");
    setTimeout(() => void listen().catch(() => undefined), 1000);
  });
  client.on("notification", () => wake?.());
  await client.connect();
  await client.query("LISTEN outbox");
  return client;
}

async function main(): Promise<void> {
  const listener = await listen();
  let lastPrune = 0;
  logger.info("outbox relay started");
  process.send?.({ type: "ready" });
  while (!stopping) {
    try {
      let moved: number;
      do moved = await relayOutboxBatch();
      while (moved > 0 && !stopping);
      if (Date.now() - lastPrune > 3_600_000) {
        lastPrune = Date.now();
        await pruneOldRows();
      }
    } catch (error) {
      logger.error({ err: error }, "relay batch failed; retrying");
    }
    if (!stopping) await sleep(env.OUTBOX_POLL_MS);
  }
  await listener.end().catch(() => undefined);
  await closeQueues();
  await closeDb();
  process.exit(0);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopping = true;
    wake?.();
  });
}
void main();
