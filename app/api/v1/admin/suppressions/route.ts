// GET /api/v1/admin/suppressions – addresses not sent to (bounced, complained)
// DELETE /api/v1/admin/suppressions?channel=email&address=… – lift one
import { pool } from "@/server/db";
import { AppError } from "@/server/app-error";
import { adminRoute } from "@/server/http/route-handler";
import { parseQuery } from "@/server/http/read-json-body";
import { suppressionQuerySchema } from "@/server/channels/suppression-query";

export const GET = adminRoute(async () => {
  const { rows } = await pool.query<{ channel: string; address: string; reason: string; created_at: Date }>("SELECT channel, address, reason, created_at FROM suppressions ORDER BY created_at DESC LIMIT 1000");
  return Response.json({ suppressions: rows.map((r) => ({ channel: r.channel, address: r.address, reason: r.reason, createdAt: r.created_at.toISOString() })) });
});

export const DELETE = adminRoute(async (request) => {
  const { channel, address } = parseQuery(request, suppressionQuerySchema);
  const { rowCount } = await pool.query("DELETE FROM suppressions WHERE channel = $1 AND address = lower($2)", [channel, address]);
  if (!rowCount) throw new AppError("not_found", "That address is not suppressed.");
  return Response.json({ removed: true });
});
