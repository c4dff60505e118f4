/** The httpOnly cookie that holds a browser session (a signed token of kind "session"). */
export const SESSION_COOKIE = "notify_session";

/** A `next` target that stays on this origin: a path, never `//host` or a scheme. */
export function safeNextPath(next: unknown): string {
  // Printable ASCII only (a Location header carries nothing else), no `//host`, no backslashes.
  if (typeof next !== "string" || !next.startsWith("/") || next.startsWith("//") || !/^[\x21-\x7e]*$/.test(next) || next.includes("\\")) return "/";
  return next;
}
