import { cookies } from "next/headers";
import { verifyUserToken } from "@/server/auth/user-token";
import { SESSION_COOKIE } from "@/server/auth/session-cookie";

/** The signed-in user of a page request (session cookie), or null. */
export async function getSessionUserId(): Promise<string | null> {
  const session = (await cookies()).get(SESSION_COOKIE)?.value;
  return session ? verifyUserToken(session, "session") : null;
}
