import { getRedis, redisKey, type RedisClient } from "@/server/redis";

/**
 * Which users have a socket open somewhere, so a fan-out publishes only to them (a trigger to a
 * million followers must not publish a million messages for the few thousand online). One sorted
 * set: member = user id, score = until when the user counts as online. Web nodes add a user when a
 * socket connects and renew all their users every HEARTBEAT; a node that dies simply stops renewing.
 * Errs only towards "online": a user who just left may still be published to, never the reverse.
 */
export const PRESENCE_TTL_MS = 60_000;
export const PRESENCE_HEARTBEAT_MS = 20_000;

/** The presence set's key (publish-with-counts.ts checks it in Redis for a small fan-out). */
export function presenceSetKey(): string {
  return redisKey("online");
}

export async function markOnline(userIds: Iterable<string>, redis: RedisClient = getRedis()): Promise<void> {
  const until = Date.now() + PRESENCE_TTL_MS;
  const members: (string | number)[] = [];
  for (const id of userIds) members.push(until, id);
  if (members.length === 0) return;
  const pipeline = redis.pipeline();
  for (let i = 0; i < members.length; i += 2000) pipeline.zadd(presenceSetKey(), ...members.slice(i, i + 2000));
  pipeline.zremrangebyscore(presenceSetKey(), "-inf", Date.now());
  await pipeline.exec();
}

/** The subset of `userIds` that is online. If Redis cannot answer, everyone counts as online. */
export async function filterOnline(userIds: string[], redis: RedisClient = getRedis()): Promise<string[]> {
  if (userIds.length === 0) return [];
  try {
    const scores = await redis.zmscore(presenceSetKey(), ...userIds);
    const now = Date.now();
    return userIds.filter((_, i) => scores[i] !== null && Number(scores[i]) > now);
  } catch {
    return userIds;
  }
}

/** Everyone online now (for a broadcast: the subscribers among them see it live). Empty if Redis cannot answer. */
export async function onlineUsers(redis: RedisClient = getRedis()): Promise<string[]> {
  try {
    return await redis.zrangebyscore(presenceSetKey(), Date.now(), "+inf");
  } catch {
    return [];
  }
}
