import type { Server as HttpServer } from "node:http";
import { Server, type Socket } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import type { ZodType } from "zod";
import { verifyUserTokenClaims, type TokenClaims } from "@/server/auth/user-token";
import { SESSION_COOKIE } from "@/server/auth/session-cookie";
import { createWorkerRedis } from "@/server/redis";
import { logger } from "@/server/logger";
import { AppError } from "@/server/app-error";
import { isAdminUser } from "@/server/users/is-admin-user";
import { changeNotificationState, markAllNotificationsRead, markNotificationDelivered } from "@/server/notifications/change-notification-state";
import { socketChannelPrefix, userEventsChannel } from "@/server/realtime/publish";
import { markOnline, PRESENCE_HEARTBEAT_MS } from "@/server/realtime/presence";
import {
  socketAckPayloadSchema,
  socketIdsPayloadSchema,
  userRoom,
  ADMIN_OVERVIEW_ROOM,
  type Ack,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SocketData,
} from "@/server/realtime/events";

export type NotifyServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type NotifySocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of header?.split(";") ?? []) {
    const [key, ...rest] = part.trim().split("=");
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join("="));
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Handshake auth: `auth: {token}` (a user token) or the session cookie. Never a token in the URL.
 * With the cookie, the handshake must come from this origin (the cookie would also ride along on a
 * cross-site WebSocket).
 */
async function authenticateSocket(socket: NotifySocket): Promise<TokenClaims | null> {
  const token: unknown = socket.handshake.auth?.token;
  if (typeof token === "string" && token.length > 0) return verifyUserTokenClaims(token, "user");
  const session = cookieValue(socket.handshake.headers.cookie, SESSION_COOKIE);
  const headers = socket.handshake.headers;
  const sameOrigin = headers["sec-fetch-site"] === "same-origin" || isSameOrigin(headers.origin, headers.host);
  if (!session || !sameOrigin) return null;
  return verifyUserTokenClaims(session, "session");
}

function isSameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Wraps a client event: validates the payload with zod and always answers the acknowledgement. */
function handle<T>(schema: ZodType<T> | null, run: (payload: T) => Promise<Record<string, unknown>>): (payload: unknown, ack?: Ack) => Promise<void> {
  return async (payload: unknown, ack?: Ack): Promise<void> => {
    const reply: Ack = typeof ack === "function" ? ack : () => undefined;
    // With no payload, socket.io passes the callback as the first argument.
    if (typeof payload === "function") return handle(schema, run)(undefined, payload as Ack);
    const parsed = schema ? schema.safeParse(payload) : { success: true as const, data: undefined as T };
    if (!parsed.success) {
      reply({ ok: false, error: { code: "validation_failed", message: parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ") } });
      return;
    }
    try {
      reply({ ok: true, ...(await run(parsed.data)) });
    } catch (error) {
      if (error instanceof AppError) return reply({ ok: false, error: { code: error.code, message: error.message } });
      logger.error({ err: error }, "socket event failed");
      reply({ ok: false, error: { code: "internal_error", message: "Something went wrong on our side." } });
    }
  };
}

/** The parts of engine.io's socket and WebSocket transport that HeldWrites uses. */
type EngineConnection = {
  flush: () => void;
  transport: { name: string; writable: boolean; socket?: { _socket?: { cork: () => void; uncork: () => void } } };
};

/**
 * Holds the WebSocket writes of the sockets in some rooms while one message of events is emitted, then
 * sends each socket's packets as one system call. Without it engine.io writes a socket's first packet
 * at once and the next one (a notification's `unread_count` after its `notification:new`) once the
 * first write has completed: two writes, each costing the web node about 20–50 µs of CPU on these
 * machines. Held: the transport is marked busy, so engine.io buffers the packets; released: marked
 * free again and flushed with the TCP socket corked, so the frames leave in one `writev`. All of it
 * runs synchronously, within one Redis message.
 */
class HeldWrites {
  private readonly held = new Set<EngineConnection>();
  constructor(private readonly io: NotifyServer) {}

  hold(room: string): void {
    const ids = this.io.of("/").adapter.rooms.get(room);
    if (!ids) return;
    for (const id of ids) {
      const conn = this.io.of("/").sockets.get(id)?.conn as unknown as EngineConnection | undefined;
      if (!conn || this.held.has(conn) || conn.transport.name !== "websocket" || !conn.transport.writable) continue;
      conn.transport.writable = false;
      this.held.add(conn);
    }
  }

  release(): void {
    // Every transport free again first: one flush that throws must not leave the others held.
    for (const conn of this.held) conn.transport.writable = true;
    for (const conn of this.held) {
      const tcp = conn.transport.socket?._socket;
      tcp?.cork();
      try {
        conn.flush();
      } catch (error) {
        logger.warn({ err: error }, "socket flush failed");
      } finally {
        tcp?.uncork();
      }
    }
    this.held.clear();
  }
}

/** Attaches Socket.IO (same port, path `/socket.io`) with the Redis adapter to an HTTP server. */
export function attachSocketServer(httpServer: HttpServer): { io: NotifyServer; ready: Promise<void>; close: () => Promise<void> } {
  const pub = createWorkerRedis();
  const sub = pub.duplicate();
  // The batched events to users (publishToUser), on a connection of their own.
  const userEvents = pub.duplicate();
  for (const client of [pub, sub, userEvents]) client.on("error", (error) => logger.warn({ err: error }, "socket.io redis connection error"));
  const io: NotifyServer = new Server(httpServer, {
    path: "/socket.io",
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: socketChannelPrefix() }),
    pingInterval: 20_000,
    pingTimeout: 20_000,
  });

  io.use((socket, next) => {
    authenticateSocket(socket)
      .then(async (claims) => {
        if (!claims) return next(new Error("unauthorized"));
        socket.data.userId = claims.userId;
        socket.data.expiresAt = claims.expiresAt;
        // Online before the connection completes, so no fan-out that commits from now on skips it.
        await markOnline([claims.userId]).catch(() => undefined);
        next();
      })
      .catch(() => next(new Error("unauthorized")));
  });

  const channel = userEventsChannel();
  userEvents.on("message", (from: string, message: string) => {
    if (from !== channel) return;
    let events: unknown;
    try {
      events = JSON.parse(message);
    } catch {
      return logger.warn({ channel }, "unreadable message on the user-events channel");
    }
    if (!Array.isArray(events)) return;
    const held = new HeldWrites(io);
    try {
      for (const item of events) {
        if (!Array.isArray(item) || typeof item[0] !== "string" || typeof item[1] !== "string") continue;
        const room = userRoom(item[0]);
        held.hold(room);
        try {
          // This node's sockets only: every web node receives the message.
          (io.local.to(room).emit as (event: string, payload: unknown) => boolean)(item[1], item[2]);
        } catch (error) {
          // A name Socket.IO reserves ("disconnect", ...): that event alone is dropped.
          logger.warn({ err: error, event: item[1] }, "event on the user-events channel not emitted");
        }
      }
    } finally {
      held.release();
    }
  });
  // Subscribed again by ioredis after a reconnection; what was published meanwhile is lost, as with
  // the adapter: clients catch up through `changes?afterSeq=` when they see a gap in `seq`.
  const ready = userEvents.subscribe(channel).then(
    () => undefined,
    (error: unknown) => logger.warn({ err: error }, "user-events subscription failed"),
  );

  // Sockets per user on this node, renewed in the presence set every heartbeat.
  const connected = new Map<string, number>();
  const heartbeat = setInterval(() => void markOnline(connected.keys()).catch(() => undefined), PRESENCE_HEARTBEAT_MS);
  heartbeat.unref();

  io.on("connection", (socket) => {
    const { userId } = socket.data;
    void socket.join(userRoom(userId));
    connected.set(userId, (connected.get(userId) ?? 0) + 1);
    // A socket lives no longer than its token.
    const expiry = setTimeout(() => socket.disconnect(true), Math.min(socket.data.expiresAt - Date.now(), 2_147_483_647));
    socket.on("disconnect", () => {
      clearTimeout(expiry);
      const left = (connected.get(userId) ?? 1) - 1;
      if (left > 0) connected.set(userId, left);
      else connected.delete(userId);
    });
    socket.on(
      "notifications:read",
      handle(socketIdsPayloadSchema, async ({ ids }) => ({ count: (await changeNotificationState(userId, "read", ids)).count })),
    );
    socket.on(
      "notifications:seen",
      handle(socketIdsPayloadSchema, async ({ ids }) => ({ count: (await changeNotificationState(userId, "seen", ids)).count })),
    );
    socket.on("notifications:read_all", handle(null, async () => ({ count: (await markAllNotificationsRead(userId)).count })));
    socket.on("notification:ack", handle(socketAckPayloadSchema, async ({ id }) => ({ delivered: await markNotificationDelivered(userId, id) })));
    socket.on(
      "admin:overview:subscribe",
      handle(null, async () => {
        if (!(await isAdminUser(userId))) throw new AppError("forbidden", "Only admins can watch the overview.");
        await socket.join(ADMIN_OVERVIEW_ROOM);
        return {};
      }),
    );
  });

  return {
    io,
    ready,
    close: async () => {
      clearInterval(heartbeat);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await Promise.allSettled([pub.quit(), sub.quit(), userEvents.quit()]);
    },
  };
}
