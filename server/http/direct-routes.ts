// The hottest API routes, served by the web node with the very route-handler modules Next.js serves,
// without Next.js's request pipeline in front of them. On this 2-core machine that pipeline costs about
// 1.5–2 ms of CPU per request (a bare 404 included), several times what accepting a trigger or serving
// a cached inbox page costs itself; `npm run bench:load` and `bench:read` measure the difference.
// The handlers are the route modules' own exports, so behaviour is one code path: the system test
// `direct-routes.test.ts` compares every route here against the same request through Next.js.
import type { IncomingMessage, ServerResponse } from "node:http";
import { MAX_BODY_BYTES, withReadBody } from "@/server/http/read-body-bytes";
import { logger } from "@/server/logger";

type RouteHandler = (request: Request, context: { params: Promise<Record<string, never>> }) => Promise<Response>;
type RouteModule = Partial<Record<"GET" | "POST" | "PATCH" | "DELETE" | "PUT", RouteHandler>>;

/** Exact paths only (no `[param]` segments); anything else, including a trailing slash, goes to Next.js. */
const ROUTES: Record<string, () => Promise<RouteModule>> = {
  "/api/v1/notifications": () => import("@/app/api/v1/notifications/route"),
  "/api/notifications": () => import("@/app/api/notifications/route"),
  "/api/notifications/unread-count": () => import("@/app/api/notifications/unread-count/route"),
  "/api/notifications/changes": () => import("@/app/api/notifications/changes/route"),
  "/api/notifications/read": () => import("@/app/api/notifications/read/route"),
  "/api/notifications/unread": () => import("@/app/api/notifications/unread/route"),
  "/api/notifications/seen": () => import("@/app/api/notifications/seen/route"),
  "/api/notifications/read-all": () => import("@/app/api/notifications/read-all/route"),
  "/api/notifications/archive": () => import("@/app/api/notifications/archive/route"),
  "/api/notifications/unarchive": () => import("@/app/api/notifications/unarchive/route"),
};

const loaded = new Map<string, RouteModule>();

/** Loads every direct route's module, so the first request does not pay for it (and a broken import fails the start). */
export async function loadDirectRoutes(): Promise<void> {
  await Promise.all(Object.entries(ROUTES).map(async ([path, load]) => loaded.set(path, await load())));
}

type Direct = { handler: RouteHandler; url: string; headers: Headers };

/**
 * The handler for this request, or null when Next.js should serve it: another path or method, a
 * body the direct path does not buffer (no Content-Length, or one past the API's limit, which Next.js
 * then answers with the usual 413 from the same handler), or a request line or header that the
 * Fetch API's Request would refuse (Next.js answers those as it always did).
 */
export function directRoute(req: IncomingMessage): Direct | null {
  const path = req.url ?? "";
  const query = path.indexOf("?");
  const module = loaded.get(query === -1 ? path : path.slice(0, query));
  const handler = module?.[req.method as keyof RouteModule];
  if (!handler) return null;
  if (req.method !== "GET") {
    const length = req.headers["content-length"];
    if (length === undefined || req.headers["transfer-encoding"] !== undefined) return null;
    const bytes = Number(length);
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_BODY_BYTES) return null;
  }
  try {
    // The handlers read only the path and query from the URL (and Host, Origin from the headers).
    const url = new URL(path, "http://localhost");
    url.host = req.headers.host ?? "localhost";
    // As Node.js merged them (as Next.js reads them): a repeated Authorization or Host keeps the first.
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    return { handler, url: url.href, headers };
  } catch {
    return null;
  }
}

/** Runs a route handler on a Node request: the body buffered (its length is known and bounded), the response written back. */
export async function serveDirect({ handler, url, headers }: Direct, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    // The body goes to the handler beside the Request, not as its stream (see withReadBody).
    const request = new Request(url, { method: req.method, headers });
    if (req.method !== "GET") withReadBody(request, await readBody(req));
    const response = await handler(request, { params: Promise.resolve({}) });
    const out: Record<string, string | string[]> = {};
    response.headers.forEach((value, key) => {
      if (key !== "set-cookie") out[key] = value;
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) out["set-cookie"] = cookies;
    const payload = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
    if (payload) out["content-length"] = String(payload.byteLength);
    res.writeHead(response.status, out);
    res.end(payload);
  } catch (error) {
    // A client that went away mid-body: nobody to answer, nothing to report.
    if (req.destroyed || res.destroyed) return;
    // The handlers answer every error themselves; this is a bug here.
    logger.error({ err: error, url: req.url }, "direct route failed");
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "internal_error", message: "Something went wrong on our side." } }));
    } else res.destroy();
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      // Content-Length was checked; a client sending more than it announced is cut off.
      if (size > MAX_BODY_BYTES) req.destroy(new Error("request body longer than its Content-Length"));
      else chunks.push(chunk);
    });
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
    req.once("aborted", () => reject(new Error("request aborted")));
  });
}
