// Per-recipient limits of a notification type (`limits: {perHour, perDay}`), as sliding windows in
// Redis shared by every worker: one sorted set per recipient and type, one member per trigger (so a
// retried chunk never counts a trigger twice).
import type { Redis } from "ioredis";
import { getRedis, redisKey } from "@/server/redis";

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

/**
 * For each recipient, whether this trigger of `typeKey` may still be sent to them (push, email, SMS):
 * true counts it against their windows, false means a limit is used up.
 */
export async function takeRateLimits(typeKey: string, triggerId: string, userIds: string[], limits: Limits, now: Date, redis: Redis = getRedis()): Promise<Map<string, boolean>> {
  const allowed = new Map<string, boolean>();
  if (userIds.length === 0 || (!limits.perHour && !limits.perDay)) {
    for (const id of userIds) allowed.set(id, true);
    return allowed;
  }
  if (!("takeRateLimit" in redis)) redis.defineCommand("takeRateLimit", { lua: TAKE });
  const command = redis as Redis & LimitsCommand;
  for (let i = 0; i < userIds.length; i += 500) {
    const batch = userIds.slice(i, i + 500);
    const keys = batch.map((id) => redisKey("limit", typeKey, id));
    const answers = await command.takeRateLimit(keys.length, ...keys, now.getTime(), limits.perHour ?? 0, limits.perDay ?? 0, triggerId);
    batch.forEach((id, j) => allowed.set(id, answers[j] === 1));
  }
  return allowed;
}
