import { Queue, type JobsOptions } from "bullmq";
import { z } from "zod";
import { env } from "@/server/env";
import { createProducerRedis, type RedisClient } from "@/server/redis";
import type { Priority } from "@/server/notifications/notifications.schema";

/**
 * Every queue, named with its payload schema. Queue names carry a hash tag so that all of one queue's
 * keys land on one Redis Cluster slot.
 */
export const queueNames = { fanout: "{fanout}" } as const;

/** A trigger's fan-out, or (`helper`) extra hands for a sliced one. */
export const fanoutJobSchema = z.object({ triggerId: z.uuid(), helper: z.number().int().min(0).optional() });
export type FanoutJob = z.infer<typeof fanoutJobSchema>;

export function bullPrefix(): string {
  return `${env.REDIS_PREFIX}:bull`;
}

const globalForQueues = globalThis as typeof globalThis & { __notifyFanoutQueue?: { queue: Queue<FanoutJob>; redis: RedisClient } };

function getFanoutQueueEntry(): { queue: Queue<FanoutJob>; redis: RedisClient } {
  if (!globalForQueues.__notifyFanoutQueue) {
    const redis = createProducerRedis();
    redis.on("error", () => undefined); // a failed add is reported by its promise
    const queue = new Queue<FanoutJob>(queueNames.fanout, { connection: redis, prefix: bullPrefix() });
    queue.on("error", () => undefined);
    globalForQueues.__notifyFanoutQueue = { queue, redis };
  }
  return globalForQueues.__notifyFanoutQueue;
}

export function getFanoutQueue(): Queue<FanoutJob> {
  return getFanoutQueueEntry().queue;
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

/**
 * Puts fan-out jobs on the queue; an id already waiting or running is left as it is. Fails fast
 * (never waits for a Redis that is down) so a request path can hand the job to the outbox relay.
 */
export type FanoutRequest = { triggerId: string; priority: Priority };

/**
 * BullMQ runs jobs without a priority before any prioritised job, and prioritised ones lowest number
 * first: so urgent fan-outs carry no priority and jump every backlog, then high, normal, low.
 */
const BULL_PRIORITY: Record<Priority, number | undefined> = { urgent: undefined, high: 1, normal: 2, low: 3 };

export async function enqueueFanouts(triggers: FanoutRequest[], timeoutMs = 2000): Promise<void> {
  if (triggers.length === 0) return;
  const { queue, redis } = getFanoutQueueEntry();
  if (redis.status !== "ready" && redis.status !== "connecting" && redis.status !== "connect") {
    throw new Error(`Redis is ${redis.status}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`queueing timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([addFanouts(queue, triggers), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function addFanouts(queue: Queue<FanoutJob>, triggers: FanoutRequest[]): Promise<void> {
  const jobs = triggers.map(({ triggerId, priority }) => {
    const bullPriority = BULL_PRIORITY[priority];
    return { name: "fanout", data: { triggerId }, opts: { ...fanoutJobOptions, jobId: fanoutJobId(triggerId), ...(bullPriority ? { priority: bullPriority } : {}) } };
  });
  // One job (every API trigger) without addBulk's ioredis pipeline, whose set-up copies each of
  // BullMQ's scripts onto it: a measurable share of a web node's CPU per trigger.
  if (jobs.length === 1) await queue.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
  else await queue.addBulk(jobs);
}

/** Extra jobs for a sliced fan-out: any fan-out worker that takes one works on free slices of it. */
export async function enqueueFanoutHelpers(triggerId: string, priority: Priority, count: number): Promise<void> {
  if (count === 0) return;
  const bullPriority = BULL_PRIORITY[priority];
  await getFanoutQueue().addBulk(
    Array.from({ length: count }, (_, helper) => ({
      name: "fanout-helper",
      data: { triggerId, helper },
      opts: { ...fanoutJobOptions, attempts: 1, jobId: `${fanoutJobId(triggerId)}-h${helper}`, ...(bullPriority ? { priority: bullPriority } : {}) },
    })),
  );
}

/** Whether the trigger's fan-out job is in the queue (waiting, delayed or running). */
export async function fanoutJobExists(triggerId: string): Promise<boolean> {
  const job = await getFanoutQueue().getJob(fanoutJobId(triggerId));
  return job !== undefined && job !== null;
}

export async function closeQueues(): Promise<void> {
  const entry = globalForQueues.__notifyFanoutQueue;
  delete globalForQueues.__notifyFanoutQueue;
  await entry?.queue.close().catch(() => undefined);
  await entry?.redis.quit().catch(() => entry.redis.disconnect());
}
