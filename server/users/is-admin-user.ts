import { pool } from "@/server/db";

/** A user is an admin when their row says so (looked up at each use: a demotion takes effect at once). */
export async function isAdminUser(userId: string): Promise<boolean> {
  const { rows } = await pool.query<{ role: string }>("SELECT role FROM users WHERE id = $1", [userId]);
  return rows[0]?.role === "admin";
}
