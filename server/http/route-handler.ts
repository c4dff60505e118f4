import { ZodError } from "zod";
import { AppError } from "@/server/app-error";
import { findServicePrincipal, type ServicePrincipal, type ServiceScope } from "@/server/auth/service-key";
import { verifyUserToken } from "@/server/auth/user-token";
import { SESSION_COOKIE } from "@/server/auth/session-cookie";
import { logger } from "@/server/logger";
import { isAdminUser } from "@/server/users/is-admin-user";

type RouteContext<P> = { params: Promise<P> };
type Handler<P> = (request: Request, context: RouteContext<P>) => Promise<Response>;

/** Turns any thrown error into API.md's error body. Unknown errors are logged, never leaked. */
export function errorResponse(error: unknown): Response {
  if (error instanceof AppError) {
    return Response.json(error.toBody(), { status: error.status, headers: error.headers });
  }
  if (error instanceof ZodError) {
    const details = error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message }));
    const fields = [...new Set(details.map((d) => d.field))].join(", ");
    return Response.json({ error: { code: "validation_failed", message: `Invalid input: ${fields}.`, details } }, { status: 422 });
  }
  const isDown = isConnectionError(error);
  logger.error({ err: error }, "request failed");
  return isDown
    ? Response.json({ error: { code: "unavailable", message: "A backing service is unavailable; try again shortly." } }, { status: 503, headers: { "Retry-After": "5" } })
    : Response.json({ error: { code: "internal_error", message: "Something went wrong on our side." } }, { status: 500 });
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "57P01", "57P03", "53300"].includes(code);
}

function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1] ?? null;
}

function cookieValue(request: Request, name: string): string | null {
  const header = request.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
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

/** A cookie-authenticated write must come from this origin (API.md, CSRF). */
function isSameOriginWrite(request: Request): boolean {
  if (request.headers.get("sec-fetch-site") === "same-origin") return true;
  const origin = request.headers.get("origin");
  if (!origin) return false;
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** A route for internal services: a service key with `scope`. */
export function serviceRoute<P = Record<string, never>>(
  scope: ServiceScope,
  handler: (request: Request, input: { params: P; principal: ServicePrincipal }) => Promise<Response>,
): Handler<P> {
  return async (request, context) => {
    try {
      const key = bearerToken(request);
      const principal = key ? await findServicePrincipal(key) : null;
      if (!principal) throw new AppError("unauthorized", "A valid service key is required (Authorization: Bearer <key>).");
      if (!principal.scopes.includes(scope)) throw new AppError("forbidden", `This key lacks the '${scope}' scope.`);
      return await handler(request, { params: await context.params, principal });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** The user a request acts for: bearer user token, or the session cookie (with the CSRF check on writes). */
export async function authenticateUser(request: Request): Promise<string> {
  const token = bearerToken(request);
  if (token) {
    const userId = await verifyUserToken(token, "user");
    if (!userId) throw new AppError("unauthorized", "The user token is invalid or expired.");
    return userId;
  }
  const session = cookieValue(request, SESSION_COOKIE);
  if (session) {
    const userId = await verifyUserToken(session, "session");
    if (!userId) throw new AppError("unauthorized", "The session has expired; sign in again.");
    if (!["GET", "HEAD", "OPTIONS"].includes(request.method) && !isSameOriginWrite(request)) {
      throw new AppError("forbidden", "Cross-site request refused (the Origin header must be this site).");
    }
    return userId;
  }
  throw new AppError("unauthorized", "Sign in, or send a user token (Authorization: Bearer <token>).");
}

/** A route for end users: a user token or the session cookie. */
export function userRoute<P = Record<string, never>>(handler: (request: Request, input: { params: P; userId: string }) => Promise<Response>): Handler<P> {
  return async (request, context) => {
    try {
      const userId = await authenticateUser(request);
      return await handler(request, { params: await context.params, userId });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** Who made an admin request: a service key with the `admin` scope, or a user whose role is admin. */
export type AdminPrincipal = { kind: "key"; keyId: string } | { kind: "user"; userId: string };

/**
 * A route under /api/v1/admin (API.md): a service key with the `admin` scope, or an admin's user
 * token or session. A key without the scope, or a signed-in non-admin, is 403; nothing else is 401.
 */
export function adminRoute<P = Record<string, never>>(handler: (request: Request, input: { params: P; principal: AdminPrincipal }) => Promise<Response>): Handler<P> {
  return async (request, context) => {
    try {
      const bearer = bearerToken(request);
      const key = bearer ? await findServicePrincipal(bearer) : null;
      let principal: AdminPrincipal;
      if (key) {
        if (!key.scopes.includes("admin")) throw new AppError("forbidden", "This key lacks the 'admin' scope.");
        principal = { kind: "key", keyId: key.keyId };
      } else {
        const userId = await authenticateUser(request).catch((error: unknown) => {
          // A bearer that is neither a key nor a user token.
          if (error instanceof AppError && error.code === "unauthorized" && bearer) throw new AppError("unauthorized", "A service key with the 'admin' scope, or an admin's user token, is required.");
          throw error;
        });
        if (!(await isAdminUser(userId))) throw new AppError("forbidden", "Only admins can do this.");
        principal = { kind: "user", userId };
      }
      return await handler(request, { params: await context.params, principal });
    } catch (error) {
      return errorResponse(error);
    }
  };
}

/** How an admin principal is named in audit fields (template versions, ...). */
export function principalName(principal: AdminPrincipal): string {
  return principal.kind === "key" ? `key:${principal.keyId}` : `user:${principal.userId}`;
}
