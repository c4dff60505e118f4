// The channel workers: send queued push, email and SMS deliveries (see deliver). One BullMQ worker per
// channel, with the provider's rate limit shared by every process through Redis; retries back off
// exponentially with jitter or as the provider's Retry-After says; an outage (unreachable, 5xx)
// pauses the whole channel for a growing while instead of burning every job's attempts; a permanent
// error or the last attempt puts the delivery in the dead-letter queue.
import { UnrecoverableError, Worker } from "bullmq";
import { flushMetrics } from "@/server/metrics/metrics";
import { env } from "@/server/env";
import { closeDb } from "@/server/db";
import { closeRedis, createWorkerRedis } from "@/server/redis";
import { bullPrefix } from "@/server/queues";
import { logger } from "@/server/logger";
import { deliver } from "@/server/channels/deliver";
import { channelQueueName, SENDING_CHANNELS, type DeliveryJob } from "@/server/channels/channel-queues";
import { DeliveryError } from "@/server/channels/delivery-error";
import { retryDelay } from "@/server/channels/retry-delay";

process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));

const workers = SENDING_CHANNELS.map((channel) => {
  let outages = 0;
  const worker: Worker<DeliveryJob> = new Worker<DeliveryJob>(
    channelQueueName(channel),
    async (job) => {
      // Every line about the job carries its trigger, user and channel.
      const log = logger.child({ triggerId: job.data.triggerId, userId: job.data.userId, channel, job: job.id });
      try {
        const outcome = await deliver(job.data, { attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1 });
        outages = 0;
        log.debug({ outcome, attempt: job.attemptsMade + 1 }, "delivery attempt done");
        return outcome;
      } catch (error) {
        const failure = error as DeliveryError & { final?: boolean };
        if (failure.final) throw new UnrecoverableError(failure.message);
        if (failure instanceof DeliveryError && failure.kind === "outage") {
          outages++;
          log.warn({ err: failure.message, outages }, `${channel} provider outage: the channel pauses`);
          // The whole channel waits (this job's attempt counts; the others keep theirs).
          await worker.rateLimit(retryDelay(outages, failure));
        }
        throw error;
      }
    },
    {
      connection: createWorkerRedis(),
      prefix: bullPrefix(),
      concurrency: env.CHANNEL_CONCURRENCY,
      limiter: { max: { push: env.PUSH_RATE_PER_SECOND, email: env.EMAIL_RATE_PER_SECOND, sms: env.SMS_RATE_PER_SECOND }[channel], duration: 1000 },
      settings: { backoffStrategy: (attemptsMade, _type, error) => retryDelay(attemptsMade, error as DeliveryError | undefined) },
    },
  );
  worker.on("failed", (job, error) => logger.info({ ...job?.data, job: job?.id, attempt: job?.attemptsMade, err: error.message }, `${channel} attempt failed`));
  worker.on("error", (error) => logger.error({ err: error }, `${channel} worker error`));
  return worker;
});

void Promise.all(workers.map((w) => w.waitUntilReady())).then(() => {
  logger.info({ channels: SENDING_CHANNELS }, "channel workers started");
  process.send?.({ type: "ready" });
});

async function shutdown(): Promise<void> {
  await Promise.allSettled(workers.map((w) => w.close()));
  await flushMetrics().catch(() => undefined);
  await Promise.allSettled([closeDb(), closeRedis()]);
  process.exit(0);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
