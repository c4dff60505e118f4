import { pool } from "@/server/db";
import { decodeCursorOrThrow, encodeCursor } from "@/server/notifications/notification-cursor";
import { NOTIFICATION_COLUMNS, toNotification, type NotificationRow } from "@/server/notifications/notification-row";
import type { ListQuery, Notification } from "@/server/notifications/notifications.schema";

/**
 * A page of the user's inbox in `(sortAt desc, id desc)` order, with the cursor of the next page and
 * `lastSeq`, the user's seq in the same snapshot: a client that applies live events after it knows
 * exactly which ones the page already reflects.
 */
export async function listNotifications(userId: string, query: ListQuery): Promise<{ notifications: Notification[]; nextCursor: string | null; lastSeq: number }> {
  const params: unknown[] = [userId];
  const where = ["n.user_id = $1"];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (query.filter === "unread") where.push("n.read_at IS NULL AND n.archived_at IS NULL");
  else if (query.filter === "archived") where.push("n.archived_at IS NOT NULL");
  else where.push("n.archived_at IS NULL");
  if (query.type) add((p) => `n.type = ${p}`, query.type);
  if (query.category) add((p) => `n.category = ${p}`, query.category);
  if (query.q) {
    const pattern = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    add((p) => `(n.title ILIKE ${p} OR n.body ILIKE ${p})`, pattern);
  }
  if (query.cursor) {
    const position = decodeCursorOrThrow(query.cursor);
    params.push(position.sortAt, position.id);
    where.push(`(n.sort_at, n.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const { rows: joined } = await pool.query<NotificationRow & { user_last_seq: number }>(
    `SELECT me.last_seq AS user_last_seq, page.* FROM (SELECT coalesce((SELECT last_seq FROM users WHERE id = $1), 0) AS last_seq) me
       LEFT JOIN LATERAL (
         SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE ${where.join(" AND ")}
          ORDER BY n.sort_at DESC, n.id DESC LIMIT $${params.length}
       ) page ON true`,
    params,
  );
  const lastSeq = joined[0]?.user_last_seq ?? 0;
  const rows = joined.filter((r) => r.id !== null);
  const page = rows.slice(0, query.limit).map(toNotification);
  const last = page.at(-1);
  return { notifications: page, nextCursor: rows.length > query.limit && last ? encodeCursor({ sortAt: last.sortAt, id: last.id }) : null, lastSeq };
}
