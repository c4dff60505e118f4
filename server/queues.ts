import { Queue, type ConnectionOptions, type JobsOptions } from "bullmq";
import { z } from "zod";
import { env } from "@/server/env";
import { createProducerRedis } from "@/server/redis";

/**
 * Every queue, named with its payload schema. Queue names carry a hash tag so that all of one queue's
 * keys land on one Redis Cluster slot.
 */
export const queueNames = { fanout: "{fanout}" } as const;

export const fanoutJobSchema = z.object({ triggerId: z.uuid() });
export type FanoutJob = z.infer<typeof fanoutJobSchema>;

export function bullPrefix(): string {
  return `${env.REDIS_PREFIX}:bull`;
}

const globalForQueues = globalThis as typeof globalThis & { __notifyFanoutQueue?: Queue<FanoutJob> };

export function getFanoutQueue(connection?: ConnectionOptions): Queue<FanoutJob> {
  if (!globalForQueues.__notifyFanoutQueue) {
    globalForQueues.__notifyFanoutQueue = new Queue<FanoutJob>(queueNames.fanout, {
      connection: connection ?? createProducerRedis(),
      prefix: bullPrefix(),
    });
  }
  return globalForQueues.__notifyFanoutQueue;
}

/** The job id of a trigger's fan-out: deterministic, so a re-sent outbox row cannot run twice at once. */
export function fanoutJobId(triggerId: string): string {
  return `fanout-${triggerId}`;
}

export const fanoutJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: "exponential", delay: 500 },
  // Completed jobs are removed so the id is free again; the outbox row, not the job, records success.
  removeOnComplete: true,
  removeOnFail: true,
};

/** Puts fan-out jobs on the queue; an id already waiting or running is left as it is. */
export async function enqueueFanouts(triggerIds: string[]): Promise<void> {
  if (triggerIds.length === 0) return;
  await getFanoutQueue().addBulk(
    triggerIds.map((triggerId) => ({ name: "fanout", data: { triggerId }, opts: { ...fanoutJobOptions, jobId: fanoutJobId(triggerId) } })),
  );
}

export async function closeQueues(): Promise<void> {
  const queue = globalForQueues.__notifyFanoutQueue;
  delete globalForQueues.__notifyFanoutQueue;
  await queue?.close();
}
