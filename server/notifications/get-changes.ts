import { AppError } from "@/server/app-error";
import { pool } from "@/server/db";
import { changesStatement } from "@/server/notifications/inbox-statements";
import { toNotification, type NotificationRow } from "@/server/notifications/notification-row";
import type { Change, ChangeKind } from "@/server/notifications/notifications.schema";

type ChangeRow = { seq: number; kind: ChangeKind; ids: string[]; at: Date; notification_id: string | null } & Partial<NotificationRow>;

/**
 * Everything that changed for the user after `afterSeq`, in seq order, with `new`/`updated` changes
 * carrying the notification as it is now. When the log no longer reaches back to `afterSeq` (pruned),
 * or `afterSeq` is ahead of the user, the client must refetch: `410 resync_required`.
 */
export async function getChanges(userId: string, afterSeq: number, limit: number): Promise<{ changes: Change[]; lastSeq: number; hasMore: boolean }> {
  const { rows: users } = await pool.query<{ last_seq: number }>("SELECT last_seq FROM users WHERE id = $1", [userId]);
  const lastSeq = users[0]?.last_seq ?? 0;
  if (afterSeq > lastSeq) throw resync("afterSeq is ahead of this user's changes");
  if (afterSeq === lastSeq) return { changes: [], lastSeq, hasMore: false };
  const { rows } = await pool.query<ChangeRow>(changesStatement(userId, afterSeq, limit));
  if (rows[0]?.seq !== afterSeq + 1) throw resync("the changes after afterSeq are no longer kept");
  const changes = rows.map((row): Change => {
    const change: Change = { seq: row.seq, kind: row.kind, at: row.at.toISOString() };
    if (row.ids && row.ids.length > 0) change.ids = row.ids;
    if (row.notification_id && row.id) {
      const { n_seq, ...rest } = row as ChangeRow & { n_seq: number };
      change.notification = toNotification({ ...(rest as NotificationRow), seq: n_seq });
    }
    return change;
  });
  const reached = changes.at(-1)?.seq ?? afterSeq;
  return { changes, lastSeq: reached, hasMore: reached < lastSeq };
}

function resync(reason: string): AppError {
  return new AppError("resync_required", `Refetch the inbox: ${reason}.`);
}
