import { AppError } from "@/server/app-error";
import { withTransaction } from "@/server/db";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { lockUser, recordChange } from "@/server/notifications/change-notification-state";
import { NOTIFICATION_COLUMNS, toNotification, type NotificationRow } from "@/server/notifications/notification-row";
import type { Notification } from "@/server/notifications/notifications.schema";
import { publishToUser } from "@/server/realtime/publish";
import { thawNotifications } from "@/server/notifications/retention";

/** Records a click: marks the notification clicked and read. Another user's id is 404. */
export async function clickNotification(userId: string, notificationId: string): Promise<Notification> {
  const outcome = await withTransaction(async (sql) => {
    const at = new Date();
    if (!(await lockUser(sql, userId))) return null;
    await thawNotifications(sql, userId, [notificationId]);
    const { rows } = await sql.query<NotificationRow & { was_read: boolean; was_seen: boolean; was_clicked: boolean }>(
      `WITH o AS (SELECT id, created_at, read_at, seen_at, clicked_at, archived_at FROM notifications WHERE user_id = $1 AND id = $2)
       UPDATE notifications n SET clicked_at = coalesce(n.clicked_at, $3), read_at = coalesce(n.read_at, $3), seen_at = coalesce(n.seen_at, $3),
              updated_at = CASE WHEN o.clicked_at IS NULL THEN $3 ELSE n.updated_at END
         FROM o WHERE n.id = o.id AND n.created_at = o.created_at
       RETURNING ${NOTIFICATION_COLUMNS}, o.read_at IS NOT NULL AS was_read, o.seen_at IS NOT NULL AS was_seen, o.clicked_at IS NOT NULL AS was_clicked`,
      [userId, notificationId, at],
    );
    const row = rows[0];
    if (!row) return null;
    const active = row.archived_at === null;
    const changed = { id: row.id, unread_delta: !row.was_read && active ? -1 : 0, unseen_delta: !row.was_seen && active ? -1 : 0 };
    // Unread → read is a `read` change; a first click on a read notification is an `updated` one.
    const kind = row.was_read ? "updated" : "read";
    const recorded = row.was_read && row.was_clicked ? null : await recordChange(sql, userId, kind, [changed], at, kind === "updated" ? { storeIds: false, notification: { id: row.id, createdAt: row.created_at } } : {});
    return { row, kind, recorded };
  });
  if (!outcome) throw new AppError("not_found", "No such notification.");
  const notification = toNotification(outcome.row);
  const { recorded } = outcome;
  if (recorded) {
    await cacheCounts([{ userId, counts: { count: recorded.unread, unseen: recorded.unseen, seq: recorded.seq } }]);
    if (outcome.kind === "read") publishToUser(userId, "notifications:read", { ids: recorded.ids, seq: recorded.seq, at: recorded.at });
    else publishToUser(userId, "notification:updated", notification);
    publishToUser(userId, "unread_count", { count: recorded.unread, unseen: recorded.unseen, seq: Number(recorded.seq) });
  }
  return notification;
}
