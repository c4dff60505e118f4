import type { Server as HttpServer } from "node:http";
import { Server, type Socket } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import type { ZodType } from "zod";
import { verifyUserToken } from "@/server/auth/user-token";
import { SESSION_COOKIE } from "@/server/auth/session-cookie";
import { createWorkerRedis } from "@/server/redis";
import { logger } from "@/server/logger";
import { changeNotificationState, markAllNotificationsRead, markNotificationDelivered } from "@/server/notifications/change-notification-state";
import { socketChannelPrefix } from "@/server/realtime/publish";
import { markOnline, PRESENCE_HEARTBEAT_MS } from "@/server/realtime/presence";
import {
  socketAckPayloadSchema,
  socketIdsPayloadSchema,
  userRoom,
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
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** Handshake auth: `auth: {token}` (a user token) or the session cookie. Never a token in the URL. */
async function authenticateSocket(socket: NotifySocket): Promise<string | null> {
  const token: unknown = socket.handshake.auth?.token;
  if (typeof token === "string" && token.length > 0) return verifyUserToken(token, "user");
  const session = cookieValue(socket.handshake.headers.cookie, SESSION_COOKIE);
  return session ? verifyUserToken(session, "session") : null;
}

/** Wraps a client event: validates the payload with zod and always answers the acknowledgement. */
function handle<T>(schema: ZodType<T> | null, run: (payload: T) => Promise<Record<string, unknown>>): (payload: unknown, ack?: Ack) => Promise<void> {
  return async (payload: unknown, ack?: Ack): Promise<void> => {
    const reply: Ack = typeof ack === "function" ? ack : () => undefined;
    // With no payload, socket.io passes the callback as the first argument.
    if (typeof payload === "function" && schema === null) return handle(schema, run)(undefined, payload as Ack);
    const parsed = schema ? schema.safeParse(payload) : { success: true as const, data: undefined as T };
    if (!parsed.success) {
      reply({ ok: false, error: { code: "validation_failed", message: parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ") } });
      return;
    }
    try {
      reply({ ok: true, ...(await run(parsed.data)) });
    } catch (error) {
      logger.error({ err: error }, "socket event failed");
      reply({ ok: false, error: { code: "internal_error", message: "Something went wrong on our side." } });
    }
  };
}

/** Attaches Socket.IO (same port, path `/socket.io`) with the Redis adapter to an HTTP server. */
export function attachSocketServer(httpServer: HttpServer): { io: NotifyServer; close: () => Promise<void> } {
  const pub = createWorkerRedis();
  const sub = pub.duplicate();
  for (const client of [pub, sub]) client.on("error", (error) => logger.warn({ err: error }, "socket.io redis adapter connection error"));
  const io: NotifyServer = new Server(httpServer, {
    path: "/socket.io",
    serveClient: false,
    adapter: createAdapter(pub, sub, { key: socketChannelPrefix() }),
    pingInterval: 20_000,
    pingTimeout: 20_000,
  });

  io.use((socket, next) => {
    authenticateSocket(socket)
      .then((userId) => {
        if (!userId) return next(new Error("unauthorized"));
        socket.data.userId = userId;
        next();
      })
      .catch(() => next(new Error("unauthorized")));
  });

  // Sockets per user on this node, renewed in the presence set every heartbeat.
  const connected = new Map<string, number>();
  const heartbeat = setInterval(() => void markOnline(connected.keys()).catch(() => undefined), PRESENCE_HEARTBEAT_MS);
  heartbeat.unref();

  io.on("connection", (socket) => {
    const { userId } = socket.data;
    void socket.join(userRoom(userId));
    connected.set(userId, (connected.get(userId) ?? 0) + 1);
    void markOnline([userId]).catch(() => undefined);
    socket.on("disconnect", () => {
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
  });

  return {
    io,
    close: async () => {
      clearInterval(heartbeat);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}
