// Ingestion limits per service key: requests per second and recipients per second, as two token
// buckets in Redis shared by every web node (INGEST_REQUESTS_PER_SECOND, INGEST_RECIPIENTS_PER_SECOND,
// bursts of INGEST_BURST_SECONDS; 0 turns a limit off). Past a limit the API answers 429 with
// Retry-After and stores nothing, so what it accepted (202) is never dropped. A topic's size is only
// known once the trigger is stored: its recipients are charged then, and the bucket may go into debt,
// refusing the key's next triggers until it has refilled. A key may have its own limits (set by an
// admin, stored on its row; null is the default, 0 unlimited); the bucket is the same, so a changed
// limit applies from the next request, with what the key has left.
//
// A key far from its limits does not wait for Redis: each web node remembers the levels the buckets'
// last answer reported and what it has sent since, and while both stay above a tenth of their burst
// (the headroom) after this request, it admits the request at once and charges it in the background
// (the charge is never skipped, and may put the bucket in debt, which refuses what follows). Near a
// limit, or without a fresh answer, each request waits for the bucket as before. One node never
// admits past a limit; several can overshoot by what the others took in the moment since their last
// answer, bounded by the headroom a node needs to admit without asking.
import type { ServiceKeyLimits } from "@/server/auth/service-key-input";
import { AppError } from "@/server/app-error";
import { env } from "@/server/env";
import { batcherPerKey } from "@/server/batcher";
import { getRedis, groupBySlot, redisKey, slotTag, type RedisClient } from "@/server/redis";

// KEYS = requests bucket, recipients bucket (hashes {tokens, at}); ARGV = now ms, then per bucket
// rate/s, capacity, cost; then mode ("take": both must hold their cost and not be in debt, else
// nothing is taken and the wait is in ms; "admit": take both whatever is left; "charge": take the
// recipients whatever is left). Answers {wait ms, requests left, recipients left} ('' for a bucket
// that is off), the levels after what was taken.
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
local after = { levels[1], levels[2] }
if wait == 0 then
  for i = 1, 2 do
    if levels[i] and (mode ~= 'charge' or i == 2) then
      local left = levels[i] - costs[i]
      after[i] = left
      redis.call('HSET', KEYS[i], 'tokens', left, 'at', now)
      -- Kept until it would be full again (a debt is never forgiven early).
      redis.call('PEXPIRE', KEYS[i], math.ceil((capacities[i] - left) * 1000 / rates[i]) + 1000)
    end
  end
end
return { wait, after[1] and tostring(after[1]) or '', after[2] and tostring(after[2]) or '' }`;

type IngestCommand = { takeIngestion: (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown> };

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

/** The buckets' answer: the wait in ms (0: taken), and the levels left (null: that bucket is off). */
type Answer = { wait: number; left: [number | null, number | null] };

/**
 * What a web node knows of a key's buckets: the levels the latest answer on this connection reported
 * (answers come in the order the scripts were sent, so the latest has seen every earlier one), when,
 * under which capacities (a changed limit makes them unknown), and the costs sent since that are not
 * answered yet.
 */
type Known = { left: [number | null, number | null] | null; at: number; capacities: [number, number]; pending: [number, number] };

/** An answer older than this is not trusted to admit without asking (other nodes take from the bucket too). */
const FRESH_MS = 500;
const known = new WeakMap<RedisClient, Map<string, Known>>();

function knownFor(redis: RedisClient, keyId: string): Known {
  let byKey = known.get(redis);
  if (!byKey) known.set(redis, (byKey = new Map()));
  let entry = byKey.get(keyId);
  if (!entry) byKey.set(keyId, (entry = { left: null, at: 0, capacities: [0, 0], pending: [0, 0] }));
  return entry;
}

/** The two buckets' capacities (a burst of INGEST_BURST_SECONDS at each rate; 0: that limit is off). */
function capacitiesOf(limits: { requestsPerSecond: number; recipientsPerSecond: number }): [number, number] {
  return [limits.requestsPerSecond * env.INGEST_BURST_SECONDS, limits.recipientsPerSecond * env.INGEST_BURST_SECONDS];
}

async function run(keyId: string, own: ServiceKeyLimits, recipients: number, mode: "take" | "admit" | "charge", redis: RedisClient): Promise<number> {
  const limits = effectiveIngestionLimits(own);
  const capacities = capacitiesOf(limits);
  const requestCost = mode === "charge" ? 0 : 1;
  const args = [Date.now(), limits.requestsPerSecond, capacities[0], requestCost, limits.recipientsPerSecond, capacities[1], recipients, mode];
  const entry = knownFor(redis, keyId);
  entry.pending[0] += requestCost;
  entry.pending[1] += recipients;
  try {
    const answer = await takeGrouped(redis, { keys: ingestionKeys(keyId), args });
    if (answer instanceof Error) throw answer;
    entry.left = answer.left;
    entry.at = performance.now();
    entry.capacities = capacities;
    return answer.wait;
  } catch (error) {
    // Not known any more: the next requests ask.
    entry.left = null;
    throw error;
  } finally {
    entry.pending[0] -= requestCost;
    entry.pending[1] -= recipients;
  }
}

/** Whether both buckets, as last answered and less what is on its way, keep their headroom after these costs. */
function hasRoom(entry: Known, costs: [number, number], capacities: [number, number]): boolean {
  if (!entry.left || performance.now() - entry.at > FRESH_MS) return false;
  if (entry.capacities[0] !== capacities[0] || entry.capacities[1] !== capacities[1]) return false;
  for (const i of [0, 1] as const) {
    const left = entry.left[i];
    if (capacities[i] <= 0 || left === null) continue;
    if (left - entry.pending[i] - costs[i] < Math.max(1, capacities[i] / 10)) return false;
  }
  return true;
}

type Take = { keys: [string, string]; args: (string | number)[] };

const level = (value: unknown) => (value === "" || value === undefined || value === null ? null : Number(value));

/**
 * The scripts of one connection, grouped: while one is on its way, the requests that come meanwhile
 * wait for it and then go as one pipeline (one per hash slot on a cluster), which is one write to Redis
 * instead of one each (on this machine a write cost the web node about 50 µs of CPU, most of it the
 * system call). Each request gets its own answer or error, and a batch never fails as a whole (so is
 * never run again: a take is not idempotent).
 */
const takeGrouped = batcherPerKey(
  async (redis: RedisClient, takes: Take[]) => {
    const answers: (Answer | Error)[] = new Array(takes.length);
    await Promise.all(
      groupBySlot(redis, takes.map((t) => t.keys[0])).map(async (group) => {
        const pipeline = command(redis).pipeline() as unknown as IngestCommand & { exec: () => Promise<[Error | null, unknown][] | null> };
        for (const i of group) void pipeline.takeIngestion(2, ...takes[i]!.keys, ...takes[i]!.args);
        const replies = await pipeline.exec().catch((error: unknown) => group.map((): [Error, null] => [error instanceof Error ? error : new Error(String(error)), null]));
        group.forEach((i, j) => {
          const [error, value] = replies?.[j] ?? [new Error("no reply"), null];
          const [wait, requests, recipients] = (value ?? []) as unknown[];
          answers[i] = error ?? { wait: Number(wait), left: [level(requests), level(recipients)] };
        });
      }),
    );
    return answers;
  },
  { inFlight: 1, max: 200 },
);

/**
 * Takes one request and `recipients` (known before storing: an explicit list) from the key's budget,
 * or throws 429 with Retry-After when either is used up (or the recipients are in debt). Far from the
 * limits it returns at once and the take follows in the background (see the top of this file).
 */
export async function takeIngestion(keyId: string, own: ServiceKeyLimits, recipients: number, redis: RedisClient = getRedis()): Promise<void> {
  const limits = effectiveIngestionLimits(own);
  if (limits.requestsPerSecond <= 0 && limits.recipientsPerSecond <= 0) return;
  if (hasRoom(knownFor(redis, keyId), [1, recipients], capacitiesOf(limits))) {
    // A failed charge forgets what was known (run), so the next request asks.
    void run(keyId, own, recipients, "admit", redis).catch(() => undefined);
    return;
  }
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
