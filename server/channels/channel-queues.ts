// The queues of the delivery channels that have senders. One job per (trigger, user, channel): its id
// is derived from them, so a delivery queued twice (the fan-out and the relay) runs once at a time.
import { createHash } from "node:crypto";
import { Queue } from "bullmq";
import { env } from "@/server/env";
import { createProducerRedis, type RedisClient } from "@/server/redis";
import { bullPrefix } from "@/server/queues";
import type { Priority } from "@/server/notifications/notifications.schema";

/** Channels whose deliveries are sent by workers/channels.ts. */
export const SENDING_CHANNELS = ["push", "email", "sms"] as const;
export type SendingChannel = (typeof SENDING_CHANNELS)[number];
export const channelQueueName = (channel: SendingChannel) => `{${channel}}`;

export type DeliveryJob = { triggerId: string; userId: string; channel: SendingChannel };
export type DeliveryRef = DeliveryJob & { priority: Priority };

export function deliveryJobId({ triggerId, userId, channel }: DeliveryJob): string {
  // BullMQ ids may not contain ':', which user ids may.
  return `${channel}-${createHash("sha256").update(`${triggerId}\u0000${userId}`).digest("hex").slice(0, 32)}`;
}

/** The triggers of some deliveries, each once (for a log line about several deliveries). */
export function uniqueTriggerIds(jobs: readonly DeliveryJob[]): string[] {
  return [...new Set(jobs.map((j) => j.triggerId))];
}

export function isSendingChannel(channel: string): channel is SendingChannel {
  return (SENDING_CHANNELS as readonly string[]).includes(channel);
}

const BULL_PRIORITY: Record<Priority, number | undefined> = { urgent: undefined, high: 1, normal: 2, low: 3 };

const globalForChannels = globalThis as typeof globalThis & { __notifyChannelQueues?: { queues: Map<SendingChannel, Queue<DeliveryJob>>; redis: RedisClient } };

export function getChannelQueue(channel: SendingChannel): Queue<DeliveryJob> {
  if (!globalForChannels.__notifyChannelQueues) {
    const redis = createProducerRedis();
    redis.on("error", () => undefined);
    globalForChannels.__notifyChannelQueues = { queues: new Map(), redis };
  }
  const entry = globalForChannels.__notifyChannelQueues;
  let queue = entry.queues.get(channel);
  if (!queue) {
    queue = new Queue<DeliveryJob>(channelQueueName(channel), { connection: entry.redis, prefix: bullPrefix() });
    queue.on("error", () => undefined);
    entry.queues.set(channel, queue);
  }
  return queue;
}

function maxAttempts(channel: SendingChannel): number {
  return { push: env.PUSH_MAX_ATTEMPTS, email: env.EMAIL_MAX_ATTEMPTS, sms: env.SMS_MAX_ATTEMPTS }[channel];
}

/**
 * Puts deliveries on their channel's queue (urgent first, like fan-outs). Retries are the worker's:
 * each job has the channel's attempts and the custom backoff (Retry-After, else exponential with
 * jitter). Completed and failed jobs are removed: the deliveries table records every outcome.
 */
export async function enqueueDeliveries(refs: DeliveryRef[]): Promise<void> {
  const byChannel = new Map<SendingChannel, DeliveryRef[]>();
  for (const ref of refs) byChannel.set(ref.channel, [...(byChannel.get(ref.channel) ?? []), ref]);
  await Promise.all(
    [...byChannel].map(([channel, list]) =>
      getChannelQueue(channel).addBulk(
        list.map((ref) => {
          const priority = BULL_PRIORITY[ref.priority];
          return {
            name: channel,
            data: { triggerId: ref.triggerId, userId: ref.userId, channel },
            opts: { jobId: deliveryJobId(ref), attempts: maxAttempts(channel), backoff: { type: "channel" }, removeOnComplete: true, removeOnFail: true, ...(priority ? { priority } : {}) },
          };
        }),
      ),
    ),
  );
}

export async function deliveryJobExists(job: DeliveryJob): Promise<boolean> {
  return Boolean(await getChannelQueue(job.channel).getJob(deliveryJobId(job)));
}

export async function closeChannelQueues(): Promise<void> {
  const entry = globalForChannels.__notifyChannelQueues;
  delete globalForChannels.__notifyChannelQueues;
  if (!entry) return;
  await Promise.allSettled([...entry.queues.values()].map((q) => q.close()));
  await entry.redis.quit().catch(() => entry.redis.disconnect());
}
