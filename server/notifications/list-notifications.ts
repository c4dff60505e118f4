import { pool } from "@/server/db";
import { now } from "@/server/clock";
import { encodeCursor } from "@/server/notifications/notification-cursor";
import { toNotification, type NotificationRow } from "@/server/notifications/notification-row";
import { listStatement } from "@/server/notifications/inbox-statements";
import type { ListQuery, Notification } from "@/server/notifications/notifications.schema";

/**
 * A page of the user's inbox in `(sortAt desc, id desc)` order, with the cursor of the next page and
 * `lastSeq`, the user's seq in the same snapshot: a client that applies live events after it knows
 * exactly which ones the page already reflects.
 */
export async function listNotifications(userId: string, query: ListQuery, at: Date = now()): Promise<{ notifications: Notification[]; nextCursor: string | null; lastSeq: number }> {
  const { rows: joined } = await pool.query<NotificationRow & { user_last_seq: number }>(listStatement(userId, query, at));
  const lastSeq = joined[0]?.user_last_seq ?? 0;
  const rows = joined.filter((r) => r.id !== null);
  const page = rows.slice(0, query.limit).map(toNotification);
  const last = page.at(-1);
  return { notifications: page, nextCursor: rows.length > query.limit && last ? encodeCursor({ sortAt: last.sortAt, id: last.id }) : null, lastSeq };
}
