// The fan-out worker: turns one trigger into one notification per recipient (see fanOutTrigger).
import { DelayedError, Worker } from "bullmq";
import { flushMetrics } from "@/server/metrics/metrics";
import { env } from "@/server/env";
import { closeDb } from "@/server/db";
import { createWorkerRedis } from "@/server/redis";
import { closePublisher } from "@/server/realtime/publish";
import { closeRedis } from "@/server/redis";
import { bullPrefix, fanoutJobSchema, queueNames, type FanoutJob } from "@/server/queues";
import { fanOutTrigger } from "@/server/notifications/fan-out-trigger";
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

async function shutdown(): Promise<void> {
  await worker.close();
  await flushMetrics().catch(() => undefined);
  await Promise.allSettled([closeDb(), closePublisher(), closeRedis(), closeChannelQueues()]);
  process.exit(0);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
