// The fan-out worker: turns one trigger into one notification per recipient (see fanOutTrigger).
import { DelayedError, Worker } from "bullmq";
import { flushMetrics } from "@/server/metrics/metrics";
import { env } from "@/server/env";
import { closeDb } from "@/server/db";
import { createWorkerRedis } from "@/server/redis";
import { closePublisher } from "@/server/realtime/publish";
import { closeRedis } from "@/server/redis";
import { bullPrefix, enqueueFanouts, fanoutJobSchema, popFastFanouts, queueNames, type FanoutJob, type FastFanout } from "@/server/queues";
import { fanOutSmallTriggers, fanOutTrigger, type FanOutResult } from "@/server/notifications/fan-out-trigger";
import { closeChannelQueues } from "@/server/channels/channel-queues";
import { logger } from "@/server/logger";

/** How long a job that found every chunked slot taken waits in the queue (plus up to as much again). */
const BUSY_DELAY_MS = 200;

// A failed best-effort publish (its promise is not awaited by the emitter) must not kill the worker.
process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));

const worker = new Worker<FanoutJob>(
  queueNames.fanout,
  async (job, token) => {
    const { triggerId, helper } = fanoutJobSchema.parse(job.data);
    const log = logger.child({ triggerId, job: job.id });
    log.debug({ helper, attempt: job.attemptsMade + 1 }, "fan-out job started");
    // Run before (a failed attempt, or a worker that died holding it).
    const resumed = job.attemptsMade > 0 || job.stalledCounter > 0;
    const result = await fanOutTrigger(triggerId, { helper, resumed, noWait: true });
    if (result.status !== "busy") return result;
    // Every chunked slot of this worker is taken: back in the queue for a moment (not an attempt),
    // with its priority, rather than holding one of this worker's job slots while it waits.
    await job.moveToDelayed(Date.now() + BUSY_DELAY_MS + Math.floor(Math.random() * BUSY_DELAY_MS), token);
    throw new DelayedError();
  },
  {
    connection: createWorkerRedis(),
    prefix: bullPrefix(),
    concurrency: env.FANOUT_CONCURRENCY,
    lockDuration: env.FANOUT_LOCK_MS,
    stalledInterval: env.FANOUT_LOCK_MS,
  },
);
worker.on("failed", (job, error) => logger.error({ err: error, triggerId: job?.data.triggerId, job: job?.id, attempt: job?.attemptsMade }, "fan-out job failed"));
worker.on("error", (error) => logger.error({ err: error }, "fan-out worker error"));
worker.on("ready", () => {
  logger.info("fan-out worker started");
  process.send?.({ type: "ready" });
});

// The fast path (see queues.ts): small fresh triggers, up to FANOUT_FAST_STATEMENTS statements at
// once beside the BullMQ jobs, each storing what waited when it was taken (up to FANOUT_FAST_BATCH
// triggers): one at a time while the worker keeps up, more per statement when it falls behind. What
// is not one statement, or fails, goes to BullMQ, whose retries and locks it needs; if even that
// fails, the outbox relay queues it.
let stopping = false;
let fastInFlight = 0;
let fastSlotFreed: (() => void) | null = null;
const fastRedis = env.FANOUT_FAST_PATH ? createWorkerRedis() : null;
fastRedis?.on("error", () => undefined); // the loop below reports what fails

async function runFast(fanouts: FastFanout[]): Promise<void> {
  const triggerIds = fanouts.map((f) => f.triggerId);
  let results = new Map<string, FanOutResult>();
  try {
    results = await fanOutSmallTriggers(triggerIds);
  } catch (error) {
    logger.warn({ err: error, triggers: triggerIds }, "fast-path fan-out failed; handed to the queue for its retries");
  }
  const handed = fanouts.filter((f) => {
    const status = results.get(f.triggerId)?.status;
    return status !== "completed" && status !== "skipped";
  });
  if (handed.length === 0) return;
  logger.debug({ triggers: handed.map((f) => f.triggerId) }, "fast-path fan-outs handed to the queue");
  await enqueueFanouts(handed.map(({ triggerId, priority }) => ({ triggerId, priority }))).catch((error: unknown) =>
    logger.warn({ err: error, triggers: handed.map((f) => f.triggerId) }, "fan-outs not queued; the outbox relay will"),
  );
}

const fastLoop = (async () => {
  if (!fastRedis) return;
  while (!stopping) {
    if (fastInFlight >= env.FANOUT_FAST_STATEMENTS) {
      await new Promise<void>((resolve) => (fastSlotFreed = resolve));
      continue;
    }
    let taken: FastFanout[];
    try {
      // One second at most, so that a stop is noticed.
      taken = await popFastFanouts(fastRedis, env.FANOUT_FAST_BATCH, 1);
    } catch (error) {
      if (stopping) break;
      logger.error({ err: error }, "fast-path fan-outs not taken; trying again");
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    if (taken.length === 0) continue;
    fastInFlight++;
    void runFast(taken).finally(() => {
      fastInFlight--;
      const wake = fastSlotFreed;
      fastSlotFreed = null;
      wake?.();
    });
  }
  while (fastInFlight > 0) await new Promise<void>((resolve) => (fastSlotFreed = resolve));
})();

async function shutdown(): Promise<void> {
  stopping = true;
  fastSlotFreed?.();
  // Ends a pop that waits (even on a Redis that is down). One Redis served just then is lost to this
  // worker: the relay queues it after OUTBOX_GRACE_MS.
  fastRedis?.disconnect();
  await Promise.all([worker.close(), fastLoop]);
  await flushMetrics().catch(() => undefined);
  await Promise.allSettled([closeDb(), closePublisher(), closeRedis(), closeChannelQueues()]);
  process.exit(0);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
