// What a service, a browser and a device do against a running system, for the system tests.
import { createECDH, createHmac, randomBytes } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "@/server/realtime/events";
import type { Notification, UnreadCount } from "@/server/notifications/notifications.schema";

export type ErrorBody = { error: { code: string; message: string; details?: { field: string; message: string }[] } };

export type Reply<T = any> = { status: number; body: T; headers: Headers };

export async function request<T = any>(url: string, init: { method?: string; token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(url, { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, body, redirect: "manual" });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** A service's view of one web node. */
export function serviceClient(baseUrl: string, serviceKey: string) {
  return {
    call: <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      request<T>(`${baseUrl}${path}`, { method, token: serviceKey, body, headers }),
    trigger: (body: unknown, headers?: Record<string, string>) => request(`${baseUrl}/api/v1/notifications`, { method: "POST", token: serviceKey, body, headers }),
    async token(userId: string): Promise<string> {
      const reply = await request<{ token: string }>(`${baseUrl}/api/v1/users/${encodeURIComponent(userId)}/token`, { method: "POST", token: serviceKey, body: {} });
      if (reply.status !== 200) throw new Error(`token for ${userId}: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body.token;
    },
    status: (triggerId: string) => request(`${baseUrl}/api/v1/notifications/${triggerId}`, { token: serviceKey }),
  };
}

/** An end user's view of one web node. */
export function userClient(baseUrl: string, token: string) {
  return {
    get: <T = any>(path: string) => request<T>(`${baseUrl}${path}`, { token }),
    post: <T = any>(path: string, body?: unknown) => request<T>(`${baseUrl}${path}`, { method: "POST", token, body: body ?? {} }),
    list: (query = "") => request<{ notifications: Notification[]; nextCursor: string | null } & Partial<ErrorBody>>(`${baseUrl}/api/notifications${query}`, { token }),
    count: () => request<UnreadCount & Partial<ErrorBody>>(`${baseUrl}/api/notifications/unread-count`, { token }),
    changes: (afterSeq: number) => request(`${baseUrl}/api/notifications/changes?afterSeq=${afterSeq}`, { token }),
  };
}

export type Device = {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  events: { event: string; payload: any; at: number }[];
  waitFor: (event: string, predicate?: (payload: any) => boolean, timeoutMs?: number) => Promise<any>;
  close: () => void;
};

/** A device: a real socket.io-client connected with the user's token. */
export async function connectDevice(baseUrl: string, token: string | null): Promise<Device> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(baseUrl, {
    auth: token ? { token } : {},
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  const events: Device["events"] = [];
  const waiters: { event: string; predicate: (p: any) => boolean; resolve: (p: any) => void }[] = [];
  socket.onAny((event: string, payload: unknown) => {
    events.push({ event, payload, at: Date.now() });
    for (const w of [...waiters]) {
      if (w.event === event && w.predicate(payload)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(payload);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (error) => reject(error));
  });
  return {
    socket,
    events,
    waitFor: (event, predicate = () => true, timeoutMs = 20_000) => {
      const seen = events.find((e) => e.event === event && predicate(e.payload));
      if (seen) return Promise.resolve(seen.payload);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ event, predicate, resolve: (p) => (clearTimeout(timer), resolve(p)) });
      });
    },
    close: () => socket.close(),
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A user token signed like the server signs them (HS256 with AUTH_SECRET), but with any expiry: for
 * tokens that expire during a test. Plain node:crypto, so it also works under jsdom.
 */
export function signTestToken(authSecret: string, userId: string, expiresAtMs: number): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: "HS256" })}.${encode({ kind: "user", sub: userId, iss: "notify", iat: now, exp: Math.floor(expiresAtMs / 1000) })}`;
  return `${unsigned}.${createHmac("sha256", authSecret).update(unsigned).digest("base64url")}`;
}

/** A web push subscription as a browser makes one (real P-256 keys), for a push service at `origin`. */
export function pushSubscription(origin = "https://push.invalid") {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    subscription: { endpoint: `${origin}/push/${randomBytes(8).toString("hex")}`, keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: authSecret.toString("base64url") } },
    ecdh,
    authSecret,
  };
}
