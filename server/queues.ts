import { batcherPerKey } from "@/server/batcher";
import { Queue, type JobsOptions } from "bullmq";
import { z } from "zod";
import { env } from "@/server/env";
import { createProducerRedis, redisKey, type RedisClient } from "@/server/redis";
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
  await failFast((queue) => addFanouts(queue, triggers), timeoutMs);
}

/**
 * Runs a queueing step on the fan-out queue's connection, or throws at once when Redis is down and
 * after `timeoutMs` at most, so that a request path can leave the trigger to the outbox relay.
 */
async function failFast(run: (queue: Queue<FanoutJob>, redis: RedisClient) => Promise<unknown>, timeoutMs: number): Promise<void> {
  const { queue, redis } = getFanoutQueueEntry();
  if (redis.status !== "ready" && redis.status !== "connecting" && redis.status !== "connect") {
    throw new Error(`Redis is ${redis.status}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`queueing timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([run(queue, redis), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The fast path of a fresh small trigger (explicit recipients, at most FANOUT_ONE_STATEMENT_MAX): a
 * member of a sorted set per priority, scored by when it was queued, instead of a BullMQ job. Its
 * whole fan-out is one statement that runs again harmlessly (it claims the trigger), so it needs
 * none of a job's locks, retries and events, which cost about three Lua scripts in Redis per trigger
 * (add, fetch, completion). A fan-out worker pops several at a time, highest priority first and
 * oldest first within one (`BZMPOP`); what it cannot do in one statement, or fails at, it hands to
 * BullMQ. One popped by a worker that then dies is in neither place: the outbox relay finds its row
 * not done after OUTBOX_GRACE_MS and queues it in BullMQ. Same slot as the BullMQ queue (its tag).
 */
export const FAST_PRIORITIES: readonly Priority[] = ["urgent", "high", "normal", "low"];

export function fastFanoutKey(priority: Priority): string {
  return redisKey(queueNames.fanout, "fast", priority);
}

/** Whether a trigger of this shape takes the fast path (the web node knows its recipients once stored). */
export function takesFastPath(trigger: { recipients: number; topic: boolean }): boolean {
  return env.FANOUT_FAST_PATH && !trigger.topic && trigger.recipients <= env.FANOUT_ONE_STATEMENT_MAX;
}

/** Queues a small trigger's fan-out on the fast path; fails fast, as enqueueFanouts does. */
export async function enqueueFastFanout(triggerId: string, priority: Priority, timeoutMs = 2000): Promise<void> {
  await failFast((_, redis) => addFast(redis, { triggerId, priority, at: Date.now() }), timeoutMs);
}

type FastAdd = { triggerId: string; priority: Priority; at: number };

/**
 * The fast path's ZADDs of one connection, grouped: while one is on its way, those that come meanwhile
 * wait and then go as one ZADD of several members per priority (the triggers of one shared insert
 * arrive together). On this machine a write to Redis cost the web node about 50 µs of CPU, most of it
 * the system call, whatever its size.
 */
const addFast = batcherPerKey(
  async (redis: RedisClient, adds: FastAdd[]) => {
    await Promise.all(
      FAST_PRIORITIES.map((priority) => {
        const members = adds.filter((a) => a.priority === priority).flatMap((a) => [a.at, a.triggerId]);
        return members.length > 0 ? redis.zadd(fastFanoutKey(priority), "NX", ...members) : null;
      }),
    );
    return adds.map(() => undefined);
  },
  { inFlight: 1, max: 500 },
);

export type FastFanout = { triggerId: string; priority: Priority; queuedAt: number };

/**
 * Takes up to `count` fast-path fan-outs, waiting up to `timeoutSeconds` for one (on a connection of
 * its own: it blocks). Empty when none came.
 */
export async function popFastFanouts(redis: RedisClient, count: number, timeoutSeconds: number): Promise<FastFanout[]> {
  const reply = (await redis.bzmpop(timeoutSeconds, FAST_PRIORITIES.length, ...FAST_PRIORITIES.map(fastFanoutKey), "MIN", "COUNT", count)) as
    | [string, [string, string][]]
    | null;
  if (!reply) return [];
  const [key, members] = reply;
  const priority = FAST_PRIORITIES.find((p) => fastFanoutKey(p) === key) ?? "normal";
  return members.map(([triggerId, score]) => ({ triggerId, priority, queuedAt: Number(score) }));
}

/** Fast-path fan-outs waiting, and when the oldest of them was queued (null: none). */
export async function fastFanoutBacklog(): Promise<{ waiting: number; oldestAt: number | null }> {
  const redis = getFanoutQueueEntry().redis;
  const pipeline = redis.pipeline();
  for (const priority of FAST_PRIORITIES) pipeline.zcard(fastFanoutKey(priority)).zrange(fastFanoutKey(priority), 0, 0, "WITHSCORES");
  const replies = (await pipeline.exec()) ?? [];
  let waiting = 0;
  let oldestAt: number | null = null;
  for (let i = 0; i < replies.length; i += 2) {
    const [countError, count] = replies[i]!;
    const [oldestError, oldest] = replies[i + 1]!;
    if (countError || oldestError) throw countError ?? oldestError;
    waiting += Number(count);
    const at = (oldest as string[])[1];
    if (at !== undefined) oldestAt = Math.min(oldestAt ?? Infinity, Number(at));
  }
  return { waiting, oldestAt };
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

/**
 * Whether the trigger's fan-out is queued: a BullMQ job (waiting, delayed or running), or waiting on
 * the fast path. (One a worker has popped from the fast path and is running is in neither: after
 * OUTBOX_GRACE_MS the relay queues it again, and the second run finds it claimed.)
 */
export async function fanoutJobExists(triggerId: string, priority: Priority): Promise<boolean> {
  const [job, score] = await Promise.all([getFanoutQueue().getJob(fanoutJobId(triggerId)), getFanoutQueueEntry().redis.zscore(fastFanoutKey(priority), triggerId)]);
  return (job !== undefined && job !== null) || score !== null;
}

export async function closeQueues(): Promise<void> {
  const entry = globalForQueues.__notifyFanoutQueue;
  delete globalForQueues.__notifyFanoutQueue;
  await entry?.queue.close().catch(() => undefined);
  await entry?.redis.quit().catch(() => entry.redis.disconnect());
}
