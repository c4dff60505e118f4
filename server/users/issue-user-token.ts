import { env } from "@/server/env";
import { pool } from "@/server/db";
import { signUserToken } from "@/server/auth/user-token";

/** Mints a user token; a user who does not exist yet is created, so the token is usable at once. */
export async function issueUserToken(userId: string, ttlSeconds = env.USER_TOKEN_TTL_SECONDS): Promise<{ token: string; expiresAt: Date }> {
  await pool.query("INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING", [userId]);
  return signUserToken(userId, ttlSeconds, "user");
}
