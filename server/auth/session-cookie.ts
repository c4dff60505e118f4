/** The httpOnly cookie that holds a browser session (a signed token of kind "session"). */
export const SESSION_COOKIE = "notify_session";

/** A `next` target that stays on this origin: a path, never `//host` or a scheme. */
export function safeNextPath(next: unknown): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || /[\\\u0000-\u001f]/.test(next)) return "/";
  return next;
}
