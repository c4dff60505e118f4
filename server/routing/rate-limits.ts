// Per-recipient limits of a notification type (`limits: {perHour, perDay}`), as sliding windows in
// Redis shared by every worker: one sorted set per recipient and type, one member per trigger (so a
// retried chunk never counts a trigger twice).
import { getRedis, groupBySlot, redisKey, type RedisClient } from "@/server/redis";

// KEYS = one sorted set per recipient; ARGV = now, hour limit (0: none), day limit (0: none), member.
// Answers 1 per key when the trigger may go (and counts it), 0 when a limit is used up.
const TAKE = `
local now = tonumber(ARGV[1])
local perHour = tonumber(ARGV[2])
local perDay = tonumber(ARGV[3])
local member = ARGV[4]
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 86400000)
  if redis.call('ZSCORE', key, member) then
    out[i] = 1
  else
    local hour = redis.call('ZCOUNT', key, now - 3600000, '+inf')
    local day = redis.call('ZCARD', key)
    if (perHour > 0 and hour >= perHour) or (perDay > 0 and day >= perDay) then
      out[i] = 0
    else
      redis.call('ZADD', key, now, member)
      redis.call('PEXPIRE', key, 86400000)
      out[i] = 1
    end
  end
end
return out`;

type LimitsCommand = { takeRateLimit: (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number[]> };

export type Limits = { perHour?: number; perDay?: number };

/** A recipient's window for one type (also removed by erasure, server/users/privacy.ts). */
export function rateLimitKey(typeKey: string, userId: string): string {
  return redisKey("limit", typeKey, userId);
}

/**
 * For each recipient, whether this trigger of `typeKey` may still be sent to them (push, email, SMS):
 * true counts it against their windows, false means a limit is used up.
 */
export async function takeRateLimits(
  typeKey: string,
  triggerId: string,
  userIds: string[],
  limits: Limits,
  now: Date,
  redis: RedisClient = getRedis(),
): Promise<Map<string, boolean>> {
  const allowed = new Map<string, boolean>();
  if (userIds.length === 0 || (!limits.perHour && !limits.perDay)) {
    for (const id of userIds) allowed.set(id, true);
    return allowed;
  }
  if (!("takeRateLimit" in redis)) redis.defineCommand("takeRateLimit", { lua: TAKE });
  const command = redis as RedisClient & LimitsCommand;
  const allKeys = userIds.map((id) => rateLimitKey(typeKey, id));
  // One script call per 500 recipients; on a Redis Cluster its keys must share a slot, so there the
  // calls are per slot (sent in parallel).
  const calls: Promise<void>[] = [];
  for (const group of groupBySlot(redis, allKeys)) {
    for (let i = 0; i < group.length; i += 500) {
      const batch = group.slice(i, i + 500);
      const keys = batch.map((at) => allKeys[at]!);
      calls.push(
        command.takeRateLimit(keys.length, ...keys, now.getTime(), limits.perHour ?? 0, limits.perDay ?? 0, triggerId).then((answers) => {
          batch.forEach((at, j) => allowed.set(userIds[at]!, answers[j] === 1));
        }),
      );
      // On a single Redis the calls go one after another, as they always did.
      if (!redis.isCluster) await calls[calls.length - 1];
    }
  }
  await Promise.all(calls);
  const ordered = new Map<string, boolean>();
  for (const id of userIds) ordered.set(id, allowed.get(id)!);
  return ordered;
}
