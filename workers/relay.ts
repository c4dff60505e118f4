// The outbox relay and scheduler. Every OUTBOX_POLL_MS it queues accepted triggers whose fan-out has
// not committed in time and scheduled ones that are due (see relayOutboxBatch), releases deferred
// deliveries whose window has ended and removes expired notifications (see runDueWork). Any number
// may run at once.
import { env } from "@/server/env";
import { closeDb } from "@/server/db";
import { closeQueues } from "@/server/queues";
import { closeChannelQueues } from "@/server/channels/channel-queues";
import { logger } from "@/server/logger";

// A failed best-effort publish (its promise is not awaited by the emitter) must not kill the worker.
process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));
import { pruneOldRows, relayOutboxBatch } from "@/server/outbox/relay-outbox";
import { runDueWork } from "@/server/scheduling/run-due-work";
import { ensureNotificationPartitions } from "@/server/notifications/partitions";
import { runRetentionIfDue } from "@/server/notifications/retention";

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

async function main(): Promise<void> {
  let lastPrune = 0;
  let retention: Promise<unknown> | null = null;
  logger.info("outbox relay started");
  process.send?.({ type: "ready" });
  while (!stopping) {
    try {
      let moved: number;
      do moved = await relayOutboxBatch();
      while (moved > 0 && !stopping);
      await runDueWork();
      // Once a day, in RETENTION_HOUR_UTC (checked every round: an hourly check could step over it),
      // beside the loop: moving a day's old notifications must not hold up the outbox.
      if (!retention) {
        retention = runRetentionIfDue()
          .catch((error: unknown) => logger.error({ err: error }, "retention run failed; tried again next round"))
          .finally(() => (retention = null));
      }
      if (Date.now() - lastPrune > 3_600_000) {
        lastPrune = Date.now();
        // Next months' partitions, long before they are needed (until then rows would land in the
        // default partition, which every inbox query must then read too).
        await ensureNotificationPartitions().catch((error: unknown) => logger.error({ err: error }, "notification partitions not created; tried again in an hour"));
        await pruneOldRows();
      }
    } catch (error) {
      logger.error({ err: error }, "relay batch failed; retrying");
    }
    if (!stopping) await sleep(env.OUTBOX_POLL_MS);
  }
  await retention;
  await closeQueues();
  await closeChannelQueues();
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
