// GET /api/v1/admin/local-outbox – emails and SMS kept locally (no provider credentials), newest first
import { pool } from "@/server/db";
import { adminRoute } from "@/server/http/route-handler";

export const GET = adminRoute(async () => {
  const { rows } = await pool.query<{ id: string; channel: string; recipient: string; subject: string | null; html: string | null; text: string | null; created_at: Date; user_id: string }>(
    "SELECT id, channel, recipient, subject, html, text, created_at, user_id FROM local_outbox ORDER BY created_at DESC LIMIT 200",
  );
  return Response.json({ messages: rows.map((r) => ({ id: r.id, channel: r.channel, to: r.recipient, userId: r.user_id, subject: r.subject, html: r.html, text: r.text, createdAt: r.created_at.toISOString() })) });
});
