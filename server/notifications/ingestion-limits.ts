// Ingestion limits per service key: requests per second and recipients per second, as two token
// buckets in Redis shared by every web node (INGEST_REQUESTS_PER_SECOND, INGEST_RECIPIENTS_PER_SECOND,
// bursts of INGEST_BURST_SECONDS; 0 turns a limit off). Past a limit the API answers 429 with
// Retry-After and stores nothing, so what it accepted (202) is never dropped. A topic's size is only
// known once the trigger is stored: its recipients are charged then, and the bucket may go into debt,
// refusing the key's next triggers until it has refilled. A key may have its own limits (set by an
// admin, stored on its row; null is the default, 0 unlimited); the bucket is the same, so a changed
// limit applies from the next request, with what the key has left.
import type { ServiceKeyLimits } from "@/server/auth/service-key-input";
import { AppError } from "@/server/app-error";
import { env } from "@/server/env";
import { batcherPerKey } from "@/server/batcher";
import { getRedis, groupBySlot, redisKey, slotTag, type RedisClient } from "@/server/redis";

// KEYS = requests bucket, recipients bucket (hashes {tokens, at}); ARGV = now ms, then per bucket
// rate/s, capacity, cost; then mode ("take": both must hold their cost and not be in debt, else
// nothing is taken and the answer is the wait in ms; "charge": take the recipients whatever is left).
const TAKE = `
local now = tonumber(ARGV[1])
local mode = ARGV[8]
local function level(key, rate, capacity)
  if rate <= 0 then return nil end
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  return math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
end
local rates = { tonumber(ARGV[2]), tonumber(ARGV[5]) }
local capacities = { tonumber(ARGV[3]), tonumber(ARGV[6]) }
local costs = { tonumber(ARGV[4]), tonumber(ARGV[7]) }
local levels = {}
local wait = 0
for i = 1, 2 do
  levels[i] = level(KEYS[i], rates[i], capacities[i])
  if levels[i] and mode == 'take' then
    -- A cost above the whole burst passes when the bucket is full (and leaves it in debt).
    local need = math.min(math.max(costs[i], 0), capacities[i])
    if levels[i] < need or levels[i] < 0 then
      wait = math.max(wait, math.ceil((need - levels[i]) * 1000 / rates[i]))
    end
  end
end
if wait > 0 then return wait end
for i = 1, 2 do
  if levels[i] and (mode == 'take' or i == 2) then
    local left = levels[i] - costs[i]
    redis.call('HSET', KEYS[i], 'tokens', left, 'at', now)
    -- Kept until it would be full again (a debt is never forgiven early).
    redis.call('PEXPIRE', KEYS[i], math.ceil((capacities[i] - left) * 1000 / rates[i]) + 1000)
  end
end
return 0`;

type IngestCommand = { takeIngestion: (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number> };

function command(redis: RedisClient): RedisClient & IngestCommand {
  if (!("takeIngestion" in redis)) redis.defineCommand("takeIngestion", { lua: TAKE });
  return redis as RedisClient & IngestCommand;
}

const NO_OWN_LIMITS: ServiceKeyLimits = { requestsPerSecond: null, recipientsPerSecond: null };

/** What the key is held to: its own limits where set, else the deployment's (0: unlimited). */
export function effectiveIngestionLimits(own: ServiceKeyLimits = NO_OWN_LIMITS): { requestsPerSecond: number; recipientsPerSecond: number } {
  return {
    requestsPerSecond: own.requestsPerSecond ?? env.INGEST_REQUESTS_PER_SECOND,
    recipientsPerSecond: own.recipientsPerSecond ?? env.INGEST_RECIPIENTS_PER_SECOND,
  };
}

/** A service key's two buckets, tagged with its id so that they share a slot of a Redis Cluster (one script reads both). */
export function ingestionKeys(keyId: string): [requests: string, recipients: string] {
  return [redisKey("ingest", slotTag(keyId), "requests"), redisKey("ingest", slotTag(keyId), "recipients")];
}

async function run(keyId: string, own: ServiceKeyLimits, recipients: number, mode: "take" | "charge", redis: RedisClient): Promise<number> {
  const burst = env.INGEST_BURST_SECONDS;
  const { requestsPerSecond: requests, recipientsPerSecond: perRecipient } = effectiveIngestionLimits(own);
  const args = [Date.now(), requests, requests * burst, mode === "take" ? 1 : 0, perRecipient, perRecipient * burst, recipients, mode];
  const answer = await takeGrouped(redis, { keys: ingestionKeys(keyId), args });
  if (answer instanceof Error) throw answer;
  return answer;
}

type Take = { keys: [string, string]; args: (string | number)[] };

/**
 * The scripts of one connection, grouped: while one is on its way, the requests that come meanwhile
 * wait for it and then go as one pipeline (one per hash slot on a cluster), which is one write to Redis
 * instead of one each (on this machine a write cost the web node about 50 µs of CPU, most of it the
 * system call). Each request gets its own answer or error, and a batch never fails as a whole (so is
 * never run again: a take is not idempotent).
 */
const takeGrouped = batcherPerKey(
  async (redis: RedisClient, takes: Take[]) => {
    const answers: (number | Error)[] = new Array(takes.length);
    await Promise.all(
      groupBySlot(redis, takes.map((t) => t.keys[0])).map(async (group) => {
        const pipeline = command(redis).pipeline() as unknown as IngestCommand & { exec: () => Promise<[Error | null, unknown][] | null> };
        for (const i of group) void pipeline.takeIngestion(2, ...takes[i]!.keys, ...takes[i]!.args);
        const replies = await pipeline.exec().catch((error: unknown) => group.map((): [Error, null] => [error instanceof Error ? error : new Error(String(error)), null]));
        group.forEach((i, j) => {
          const [error, value] = replies?.[j] ?? [new Error("no reply"), null];
          answers[i] = error ?? Number(value);
        });
      }),
    );
    return answers;
  },
  { inFlight: 1, max: 200 },
);

/**
 * Takes one request and `recipients` (known before storing: an explicit list) from the key's budget,
 * or throws 429 with Retry-After when either is used up (or the recipients are in debt).
 */
export async function takeIngestion(keyId: string, own: ServiceKeyLimits, recipients: number, redis: RedisClient = getRedis()): Promise<void> {
  const limits = effectiveIngestionLimits(own);
  if (limits.requestsPerSecond <= 0 && limits.recipientsPerSecond <= 0) return;
  // Without Redis the limits cannot be shared: accept (the trigger is durable in PostgreSQL either way).
  let timer: NodeJS.Timeout | undefined;
  const waitMs = await Promise.race([
    run(keyId, own, recipients, "take", redis).catch(() => 0),
    new Promise<number>((resolve) => (timer = setTimeout(() => resolve(0), env.INGEST_REDIS_WAIT_MS).unref())),
  ]).finally(() => clearTimeout(timer));
  if (waitMs > 0) {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw new AppError("rate_limited", `This service key is over its ingestion limit; retry in ${seconds} s.`, { headers: { "Retry-After": String(seconds) } });
  }
}

/** Charges a stored topic trigger's recipients to the key (its size was unknown before). */
export async function chargeRecipients(keyId: string, own: ServiceKeyLimits, recipients: number, redis: RedisClient = getRedis()): Promise<void> {
  if (effectiveIngestionLimits(own).recipientsPerSecond <= 0 || recipients <= 0) return;
  await run(keyId, own, recipients, "charge", redis);
}
