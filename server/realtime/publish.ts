import { Emitter } from "@socket.io/redis-emitter";
import { createProducerRedis, redisKey, type RedisClient } from "@/server/redis";
import { ADMIN_OVERVIEW_ROOM, userRoom, type ServerToClientEvents } from "@/server/realtime/events";

/**
 * Publishes Socket.IO events to users through Redis, from any process (web node or worker), without
 * importing the Socket.IO server.
 *
 * Events to users (publishToUser) are gathered for the rest of the current tick and go out as ONE
 * message on the user-events channel (`userEventsChannel()`), which every web node subscribes to and
 * emits to its own sockets in the users' rooms (socket-server.ts). A fan-out of 32 triggers is then one
 * message, not 64 Socket.IO adapter messages each encoded, published, routed and decoded alone. One
 * connection per process publishes them, so on a single Redis a user's events arrive in the order
 * they were published (on a cluster, keyless PUBLISHes may leave through different nodes: the events
 * of one flush stay in order, two flushes may not, as with the Socket.IO emitter).
 * The rest (the admins' room, disconnecting a user's sockets) goes through `@socket.io/redis-emitter`
 * to the `@socket.io/redis-adapter` of every web node, with the same channel prefix.
 */
type UserEvent = [userId: string, event: string, payload: unknown];
type Publisher = { emitter: Emitter<ServerToClientEvents>; redis: RedisClient; pending: UserEvent[]; scheduled: boolean };

// On globalThis: the web node loads this module both in Next.js's bundle and beside it (direct
// routes), and one queue per process keeps one user's events in order.
const globalForEmitter = globalThis as typeof globalThis & { __notifyEmitter?: Publisher };

function publisher(): Publisher {
  if (!globalForEmitter.__notifyEmitter) {
    // Not auto-pipelined: the events are batched here already, and a PUBLISH must be written before
    // a QUIT that follows it (closePublisher).
    const redis = createProducerRedis();
    redis.on("error", () => undefined);
    // The emitter publishes without looking at the result: while Redis is down each event would be
    // an unhandled rejection. Best effort (see publishToUser), so the failure is dropped here.
    const publish = { publish: (channel: string, message: string | Buffer) => redis.publish(channel, message).catch(() => 0) };
    globalForEmitter.__notifyEmitter = { emitter: new Emitter<ServerToClientEvents>(publish, { key: socketChannelPrefix() }), redis, pending: [], scheduled: false };
  }
  return globalForEmitter.__notifyEmitter;
}

function getEmitter(): Emitter<ServerToClientEvents> {
  return publisher().emitter;
}

export function socketChannelPrefix(): string {
  return redisKey("socket.io");
}

/** The channel of the batched events to users (an array of `[userId, event, payload]` in JSON). */
export function userEventsChannel(): string {
  return redisKey("user-events");
}

/** Events per message at most: a chunk of 1,000 recipients is split rather than sent as megabytes at once. */
export const EVENTS_PER_MESSAGE = 256;

function flushUserEvents(entry: Publisher): Promise<unknown>[] {
  entry.scheduled = false;
  const events = entry.pending;
  entry.pending = [];
  const sent: Promise<unknown>[] = [];
  for (let at = 0; at < events.length; at += EVENTS_PER_MESSAGE) {
    try {
      sent.push(entry.redis.publish(userEventsChannel(), JSON.stringify(events.slice(at, at + EVENTS_PER_MESSAGE))).catch(() => 0));
    } catch {
      /* best effort, see publishToUser */
    }
  }
  return sent;
}

export function publishToUser<E extends keyof ServerToClientEvents>(userId: string, event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
  signalAdminActivity();
  // Real-time delivery is best effort: a client that misses an event sees a gap in `seq` and asks
  // `changes?afterSeq=`, so a publish failure never fails the change that was already committed.
  const entry = publisher();
  entry.pending.push([userId, event, args[0]]);
  if (!entry.scheduled) {
    entry.scheduled = true;
    setImmediate(() => void flushUserEvents(entry));
  }
}

/**
 * The publisher's connection, when it keeps the order of what is sent on it (a single Redis; on a
 * cluster keys of other slots go to other nodes): publish-with-counts.ts sends its scripts on it, so
 * they leave after the events this process queued before (flushPendingUserEvents). Null on a cluster.
 */
export function orderedPublisherConnection(): RedisClient | null {
  const { redis } = publisher();
  return redis.isCluster ? null : redis;
}

/** Sends now what publishToUser gathered in this tick (what is sent next on the connection follows it). */
export function flushPendingUserEvents(): void {
  const entry = publisher();
  if (entry.pending.length > 0) void flushUserEvents(entry);
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
  if (!entry) return;
  // What this tick published still goes out before the connection closes.
  await Promise.allSettled(flushUserEvents(entry));
  await entry.redis.quit().catch(() => entry.redis.disconnect());
}
