// What a service and a signed-in browser do in the e2e tests. The system is the one started by
// e2e/global-setup.ts, found through the E2E_* variables it sets.
import { randomBytes } from "node:crypto";
import { expect, type Browser, type BrowserContext, type BrowserContextOptions, type Page, type Response, type WebSocket } from "@playwright/test";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the e2e tests with \`npx playwright test\` (its global setup starts the system).`);
  return value;
}

/** The first web node, e.g. http://127.0.0.1:41234. */
export const baseUrl = (): string => required("E2E_BASE_URL");
/** The second web node: a page there shares nothing with the first but PostgreSQL and Redis. */
export const baseUrl2 = (): string => required("E2E_BASE_URL_2");
export const serviceKey = (): string => required("E2E_SERVICE_KEY");

/** A user id no other test (or earlier run) uses. */
export function uniqueUserId(prefix = "e2e"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

async function serviceCall<T>(method: string, path: string, body: unknown, expected: number[]): Promise<T> {
  const response = await fetch(`${baseUrl()}${path}`, {
    method,
    headers: { authorization: `Bearer ${serviceKey()}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!expected.includes(response.status)) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

export type TriggerReply = { id: string; status?: string; [key: string]: unknown };

/** POST /api/v1/notifications with the service key; throws unless it is accepted (202, or 200 on an idempotent replay). */
export function trigger(body: Record<string, unknown>): Promise<TriggerReply> {
  return serviceCall<TriggerReply>("POST", "/api/v1/notifications", body, [200, 202]);
}

/** A fresh user token for `userId` (the user is created if unknown). */
export async function userToken(userId: string): Promise<string> {
  const reply = await serviceCall<{ token: string; expiresAt: string }>("POST", `/api/v1/users/${encodeURIComponent(userId)}/token`, {}, [200]);
  return reply.token;
}

/**
 * Signs `context` in as `userId`: mints a user token through the service API and exchanges it at
 * `POST /auth/session`, so the httpOnly `notify_session` cookie lands in the context's cookie jar
 * (shared by its pages). Cookies ignore the port, so the session is valid on every web node.
 */
export async function signIn(context: BrowserContext, userId: string, baseURL: string = baseUrl()): Promise<void> {
  const token = await userToken(userId);
  const response = await context.request.post(`${baseURL}/auth/session`, { form: { token, next: "/notifications" }, maxRedirects: 0 });
  expect(response.status(), `POST /auth/session: ${await response.text()}`).toBe(303);
  expect(response.headers()["location"]).toBe("/notifications");
  const cookies = await context.cookies(baseURL);
  const session = cookies.find((c) => c.name === "notify_session");
  expect(session, "the notify_session cookie is in the browser context").toBeDefined();
  expect(session?.httpOnly).toBe(true);
}

/**
 * Resolves once `page` has a connected Socket.IO client (the server's CONNECT packet, `40`, arrived
 * over WebSocket or long-polling). Call it before `page.goto`: it listens for what the page opens next.
 * A trigger sent after this reaches the page live: the server joins the user's room and marks the
 * user online before it sends that packet.
 */
export function socketConnected(page: Page, timeoutMs = 15_000): Promise<void> {
  const connected = new Promise<void>((resolve, reject) => {
    const isConnect = (payload: string) => /(^|\x1e)40/.test(payload);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      page.off("websocket", onWebSocket);
      page.off("response", onResponse);
      page.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`the page did not connect to Socket.IO within ${timeoutMs} ms`)), timeoutMs);
    const onClose = () => finish(new Error("the page closed before it connected to Socket.IO"));
    const onWebSocket = (ws: WebSocket) => {
      if (!ws.url().includes("/socket.io/")) return;
      ws.on("framereceived", ({ payload }) => {
        if (typeof payload === "string" && isConnect(payload)) finish();
      });
    };
    const onResponse = (response: Response) => {
      if (!response.url().includes("/socket.io/") || !response.url().includes("transport=polling")) return;
      response.text().then((text) => (isConnect(text) ? finish() : undefined), () => undefined);
    };
    page.on("websocket", onWebSocket);
    page.on("response", onResponse);
    page.on("close", onClose);
  });
  // Not awaited when the test fails before it gets there: never an unhandled rejection.
  connected.catch(() => undefined);
  return connected;
}

export type OpenInboxOptions = {
  /** Which web node (default: the first). */
  baseURL?: string;
  /** Abort every /socket.io request, so the page must fall back to polling. */
  blockSocket?: boolean;
  /** Viewport, color scheme, ... for the new context. */
  context?: Omit<BrowserContextOptions, "baseURL">;
};

/**
 * A new browser context signed in as `userId`, with `/notifications` open and (unless blocked) its
 * socket connected, so that a trigger sent afterwards arrives live.
 */
export async function openInbox(browser: Browser, userId: string, options: OpenInboxOptions = {}): Promise<Page> {
  const baseURL = options.baseURL ?? baseUrl();
  const context = await browser.newContext({ ...options.context, baseURL });
  await signIn(context, userId, baseURL);
  if (options.blockSocket) await context.route("**/socket.io/**", (route) => route.abort());
  const page = await context.newPage();
  const connected = options.blockSocket ? null : socketConnected(page);
  const response = await page.goto("/notifications");
  expect(response?.status(), "GET /notifications").toBe(200);
  await expect(page, "signed in: not sent back to /").toHaveURL(/\/notifications$/);
  await expect(bell(page)).toBeVisible();
  await connected;
  return page;
}

/** The header bell (its name says the unread count). */
export const bell = (page: Page) => page.getByRole("button", { name: /^Notifications/ });
