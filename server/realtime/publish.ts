import { Emitter } from "@socket.io/redis-emitter";
import { createProducerRedis, redisKey, type RedisClient } from "@/server/redis";
import { ADMIN_OVERVIEW_ROOM, userRoom, type ServerToClientEvents } from "@/server/realtime/events";

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
  signalAdminActivity();
  // Real-time delivery is best effort: a client that misses an event sees a gap in `seq` and asks
  // `changes?afterSeq=`, so a publish failure never fails the change that was already committed.
  try {
    getEmitter().to(userRoom(userId)).emit(event, ...args);
  } catch {
    /* see above */
  }
}

/**
 * At most one `admin:activity` a second from this process; the last activity is always signalled.
 * Kept on globalThis, like the emitter: the web node loads this module both in Next.js's bundle and
 * beside it (direct routes), and the second a process allows is one.
 */
const ACTIVITY_SIGNAL_MS = 1_000;
const globalForActivity = globalThis as typeof globalThis & { __notifyActivity?: { last: number; timer: NodeJS.Timeout | null } };
const activity = (globalForActivity.__notifyActivity ??= { last: -ACTIVITY_SIGNAL_MS, timer: null });

/**
 * Tells the admins watching the overview that its numbers moved (see `admin:activity`). Called on
 * every change the overview counts, so it costs one clock read when nothing is due; a burst is
 * signalled at once and then once more when it ends (a trailing signal), never more than once a
 * second. Best effort: an admin's page also refreshes on its own, slowly.
 */
export function signalAdminActivity(): void {
  if (activity.timer) return;
  // The spacing on the monotonic clock (a wall clock set back would hold signals back as long).
  const wait = activity.last + ACTIVITY_SIGNAL_MS - performance.now();
  if (wait <= 0) return sendActivity();
  activity.timer = setTimeout(() => {
    activity.timer = null;
    sendActivity();
  }, wait);
  activity.timer.unref();
}

function sendActivity(): void {
  activity.last = performance.now();
  try {
    getEmitter().to(ADMIN_OVERVIEW_ROOM).emit("admin:activity", { at: new Date().toISOString() });
  } catch {
    /* see signalAdminActivity */
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
  if (activity.timer) clearTimeout(activity.timer);
  activity.timer = null;
  const entry = globalForEmitter.__notifyEmitter;
  delete globalForEmitter.__notifyEmitter;
  if (entry) await entry.redis.quit().catch(() => entry.redis.disconnect());
}
