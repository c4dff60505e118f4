import { Emitter } from "@socket.io/redis-emitter";
import { createProducerRedis, redisKey, type RedisClient } from "@/server/redis";
import { userRoom, type ServerToClientEvents } from "@/server/realtime/events";

/**
 * Publishes Socket.IO events to users through Redis, from any process (web node or worker), without
 * importing the Socket.IO server. Pairs with the pub/sub `@socket.io/redis-adapter` on every web node,
 * using the same channel prefix.
 */
const globalForEmitter = globalThis as typeof globalThis & { __notifyEmitter?: { emitter: Emitter<ServerToClientEvents>; redis: RedisClient } };

function getEmitter(): Emitter<ServerToClientEvents> {
  if (!globalForEmitter.__notifyEmitter) {
    const redis = createProducerRedis({ enableAutoPipelining: true });
    redis.on("error", () => undefined);
    // The emitter publishes without looking at the result: while Redis is down each event would be
    // an unhandled rejection. Best effort (see publishToUser), so the failure is dropped here.
    const publisher = { publish: (channel: string, message: string | Buffer) => redis.publish(channel, message).catch(() => 0) };
    globalForEmitter.__notifyEmitter = { emitter: new Emitter<ServerToClientEvents>(publisher, { key: socketChannelPrefix() }), redis };
  }
  return globalForEmitter.__notifyEmitter.emitter;
}

export function socketChannelPrefix(): string {
  return redisKey("socket.io");
}

export function publishToUser<E extends keyof ServerToClientEvents>(userId: string, event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
  // Real-time delivery is best effort: a client that misses an event sees a gap in `seq` and asks
  // `changes?afterSeq=`, so a publish failure never fails the change that was already committed.
  try {
    getEmitter().to(userRoom(userId)).emit(event, ...args);
  } catch {
    /* see above */
  }
}

/** Closes every socket of the user, on every web node (after their data was erased). Best effort. */
export function disconnectUser(userId: string): void {
  try {
    getEmitter().in(userRoom(userId)).disconnectSockets(true);
  } catch {
    /* their tokens stay valid until they expire, but there is nothing left to see */
  }
}

export async function closePublisher(): Promise<void> {
  const entry = globalForEmitter.__notifyEmitter;
  delete globalForEmitter.__notifyEmitter;
  if (entry) await entry.redis.quit().catch(() => entry.redis.disconnect());
}
