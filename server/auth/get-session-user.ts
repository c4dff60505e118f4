import { cookies } from "next/headers";
import { pool } from "@/server/db";
import { verifyUserToken } from "@/server/auth/user-token";
import { SESSION_COOKIE } from "@/server/auth/session-cookie";

/** The signed-in user of a page request (session cookie), or null. */
export async function getSessionUserId(): Promise<string | null> {
  const session = (await cookies()).get(SESSION_COOKIE)?.value;
  return session ? verifyUserToken(session, "session") : null;
}

/** The signed-in user of a page request with their role, or null. */
export async function getSessionUser(): Promise<{ id: string; name: string | null; isAdmin: boolean } | null> {
  const userId = await getSessionUserId();
  if (!userId) return null;
  const { rows } = await pool.query<{ name: string | null; role: string }>("SELECT name, role FROM users WHERE id = $1", [userId]);
  return { id: userId, name: rows[0]?.name ?? null, isAdmin: rows[0]?.role === "admin" };
}
