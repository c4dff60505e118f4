// One-time sign-in links, for admins on a deployment without the demo shortcut: a command prints a
// link, the browser exchanges it once for a session. The token travels in the URL fragment (never
// sent to a server or written to its logs) and the page posts it; only its hash is stored.
import { createHash, randomBytes } from "node:crypto";
import { AppError } from "@/server/app-error";
import { pool } from "@/server/db";

export const SIGN_IN_LINK_TTL_MINUTES = 15;

const hash = (token: string) => createHash("sha256").update(token).digest("hex");

/** Creates a link token for an existing user; `grantAdmin` makes them an admin first (bootstrap). */
export async function createSignInLink(userId: string, options: { grantAdmin?: boolean } = {}): Promise<{ token: string; expiresAt: Date; role: string }> {
  const { rows } = options.grantAdmin
    ? await pool.query<{ role: string }>(
        "INSERT INTO users (id, role) VALUES ($1, 'admin') ON CONFLICT (id) DO UPDATE SET role = 'admin', updated_at = now() RETURNING role",
        [userId],
      )
    : await pool.query<{ role: string }>("SELECT role FROM users WHERE id = $1", [userId]);
  if (!rows[0]) throw new AppError("not_found", `No user '${userId}'.`);
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + SIGN_IN_LINK_TTL_MINUTES * 60_000);
  await pool.query("INSERT INTO sign_in_links (token_hash, user_id, expires_at) VALUES ($1, $2, $3)", [hash(token), userId, expiresAt]);
  await pool.query("DELETE FROM sign_in_links WHERE expires_at < now() - interval '1 day'");
  return { token, expiresAt, role: rows[0].role };
}

/** Uses a link token up: the user it signs in, or a 401 when it is unknown, used or expired. */
export async function consumeSignInLink(token: unknown): Promise<string> {
  if (typeof token !== "string" || token.length < 20 || token.length > 100) throw new AppError("unauthorized", "This sign-in link is invalid.");
  const { rows } = await pool.query<{ user_id: string }>(
    "UPDATE sign_in_links SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    [hash(token)],
  );
  if (!rows[0]) throw new AppError("unauthorized", "This sign-in link was already used or has expired. Ask for a new one.");
  return rows[0].user_id;
}
