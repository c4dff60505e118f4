// What happens to an email after it is sent, as reported by the recipient (open pixel, click) or
// the provider (delivered, bounced, complained): the delivery moves forward, never back.
import { pool } from "@/server/db";

const RANK = `CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'opened' THEN 3 WHEN 'clicked' THEN 4 ELSE 0 END`;
const RANK_OF = (s: string) => ({ sent: 1, delivered: 2, opened: 3, clicked: 4 })[s] ?? 0;

/** Moves an email delivery to `status` if that is further than where it is; true when it moved. */
export async function advanceEmail(triggerId: string, userId: string, status: "delivered" | "opened" | "clicked"): Promise<boolean> {
  return advanceDelivery(triggerId, userId, "email", status);
}

/** The same for any channel (an SMS status callback says `delivered`). */
export async function advanceDelivery(triggerId: string, userId: string, channel: string, status: "delivered" | "opened" | "clicked"): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE deliveries SET status = $4, updated_at = now()
      WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND ${RANK} BETWEEN 1 AND $5 - 1`,
    [triggerId, userId, channel, status, RANK_OF(status)],
  );
  return (rowCount ?? 0) > 0;
}
