import { AppError } from "@/server/app-error";
import { env } from "@/server/env";
import { signUserToken, verifyUserToken } from "@/server/auth/user-token";
import { SESSION_COOKIE, safeNextPath } from "@/server/auth/session-cookie";

/** Verifies a user token and returns the session cookie to set and where to send the browser. */
export async function createSessionFromToken(token: unknown, next: unknown, requestUrl: string): Promise<{ cookie: string; location: string }> {
  if (typeof token !== "string" || token === "") throw new AppError("validation_failed", "The form field `token` is required.", { details: [{ field: "token", message: "is required" }] });
  const userId = await verifyUserToken(token, "user");
  if (!userId) throw new AppError("unauthorized", "The token is invalid or expired.");
  return { cookie: await sessionCookieFor(userId, requestUrl), location: safeNextPath(next) };
}

/** The `Set-Cookie` value of a new session for `userId` (httpOnly, SameSite=Lax, Secure on https). */
export async function sessionCookieFor(userId: string, requestUrl: string): Promise<string> {
  const session = await signUserToken(userId, env.SESSION_TTL_SECONDS, "session");
  const secure = new URL(env.PUBLIC_URL ?? requestUrl).protocol === "https:" ? "; Secure" : "";
  return `${SESSION_COOKIE}=${session.token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${env.SESSION_TTL_SECONDS}${secure}`;
}
