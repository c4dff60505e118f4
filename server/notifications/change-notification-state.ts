import { pool, withTransaction, type Sql } from "@/server/db";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { publishToUser, signalAdminActivity } from "@/server/realtime/publish";
import { thawNotifications } from "@/server/notifications/retention";
import type { ChangeKind } from "@/server/notifications/notifications.schema";

/** The bulk state operations of the end-user API and the socket. */
export type StateOperation = "read" | "unread" | "seen" | "archive" | "unarchive";

type OperationSql = {
  /** Which of the given notifications the operation changes. */
  where: string;
  /** The SET clause; `$3` is the time of the change. */
  set: string;
  /** How the unread and unseen counters move per changed row (over the row's old values `o`). */
  unreadDelta: string;
  unseenDelta: string;
  kind: ChangeKind;
  event: "notifications:read" | "notifications:unread" | "notifications:seen" | "notifications:archived" | "notifications:unarchived";
};

// unread_count counts (read_at IS NULL AND archived_at IS NULL); unseen_count counts (seen_at IS NULL AND archived_at IS NULL).
const operations: Record<StateOperation, OperationSql> = {
  read: {
    where: "read_at IS NULL",
    set: "read_at = $3, seen_at = coalesce(n.seen_at, $3)",
    unreadDelta: "CASE WHEN o.archived_at IS NULL THEN -1 ELSE 0 END",
    unseenDelta: "CASE WHEN o.archived_at IS NULL AND o.seen_at IS NULL THEN -1 ELSE 0 END",
    kind: "read",
    event: "notifications:read",
  },
  unread: {
    where: "read_at IS NOT NULL",
    set: "read_at = NULL",
    unreadDelta: "CASE WHEN o.archived_at IS NULL THEN 1 ELSE 0 END",
    unseenDelta: "0",
    kind: "unread",
    event: "notifications:unread",
  },
  seen: {
    where: "seen_at IS NULL",
    set: "seen_at = $3",
    unreadDelta: "0",
    unseenDelta: "CASE WHEN o.archived_at IS NULL THEN -1 ELSE 0 END",
    kind: "seen",
    event: "notifications:seen",
  },
  archive: {
    where: "archived_at IS NULL",
    set: "archived_at = $3",
    unreadDelta: "CASE WHEN o.read_at IS NULL THEN -1 ELSE 0 END",
    unseenDelta: "CASE WHEN o.seen_at IS NULL THEN -1 ELSE 0 END",
    kind: "archived",
    event: "notifications:archived",
  },
  unarchive: {
    where: "archived_at IS NOT NULL",
    set: "archived_at = NULL",
    unreadDelta: "CASE WHEN o.read_at IS NULL THEN 1 ELSE 0 END",
    unseenDelta: "CASE WHEN o.seen_at IS NULL THEN 1 ELSE 0 END",
    kind: "unarchived",
    event: "notifications:unarchived",
  },
};

export type StateChangeResult = { count: number; ids: string[]; seq: number | null; at: string; unread: number; unseen: number };

type ChangedRow = { id: string; unread_delta: number; unseen_delta: number };

/**
 * Applies one state operation to the caller's own notifications among `ids` (others are ignored and
 * not counted). One transaction: lock the user row, change the rows, move the counters by exactly
 * what changed, take one `seq` and log the change. Then cache the counts and tell every device.
 */
export async function changeNotificationState(userId: string, operation: StateOperation, ids: string[]): Promise<StateChangeResult> {
  const op = operations[operation];
  const uniqueIds = [...new Set(ids)];
  const result = await withTransaction(async (sql) => {
    const at = new Date();
    if (!(await lockUser(sql, userId))) return null;
    // Any of them in cold storage come back first (a change makes them current again).
    await thawNotifications(sql, userId, uniqueIds);
    const { rows } = await sql.query<ChangedRow>(
      `WITH o AS (
         SELECT id, created_at, read_at, seen_at, archived_at FROM notifications
          WHERE user_id = $1 AND id = ANY($2::uuid[]) AND ${op.where}
       )
       UPDATE notifications n SET ${op.set}, updated_at = $3 FROM o
        WHERE n.id = o.id AND n.created_at = o.created_at
       RETURNING n.id, ${op.unreadDelta} AS unread_delta, ${op.unseenDelta} AS unseen_delta`,
      [userId, uniqueIds, at],
    );
    return recordChange(sql, userId, op.kind, rows, at);
  });
  return afterChange(userId, result, (r) => publishToUser(userId, op.event, { ids: r.ids, seq: r.seq!, at: r.at }));
}

/** Marks every unread notification in the user's inbox (not archived) read: one change (`read_all`), one seq. */
export async function markAllNotificationsRead(userId: string): Promise<StateChangeResult> {
  const op = operations.read;
  const result = await withTransaction(async (sql) => {
    const at = new Date();
    if (!(await lockUser(sql, userId))) return null;
    const { rows } = await sql.query<ChangedRow>(
      `WITH o AS (
         SELECT id, created_at, read_at, seen_at, archived_at FROM notifications WHERE user_id = $1 AND read_at IS NULL AND archived_at IS NULL
       )
       UPDATE notifications n SET ${op.set.replaceAll("$3", "$2")}, updated_at = $2 FROM o
        WHERE n.id = o.id AND n.created_at = o.created_at
       RETURNING n.id, ${op.unreadDelta} AS unread_delta, ${op.unseenDelta} AS unseen_delta`,
      [userId, at],
    );
    return recordChange(sql, userId, "read_all", rows, at, { storeIds: false });
  });
  return afterChange(userId, result, (r) => publishToUser(userId, "notifications:read_all", { seq: r.seq!, at: r.at }));
}

/** Marks one notification delivered (a device acknowledged it); no seq, it changes nothing the user sees. */
export async function markNotificationDelivered(userId: string, notificationId: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    "UPDATE notifications SET delivered_at = coalesce(delivered_at, now()) WHERE user_id = $1 AND id = $2",
    [userId, notificationId],
  );
  // The overview's funnel counts it.
  if (rowCount) signalAdminActivity();
  return (rowCount ?? 0) > 0;
}

export async function lockUser(sql: Sql, userId: string): Promise<boolean> {
  const { rowCount } = await sql.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [userId]);
  return rowCount === 1;
}

type Recorded = { ids: string[]; seq: number; at: string; unread: number; unseen: number } | null;

/** Takes one seq for a change that touched `rows`, moves the counters, and logs the change. */
export async function recordChange(
  sql: Sql,
  userId: string,
  kind: ChangeKind,
  rows: ChangedRow[],
  at: Date,
  options: { storeIds?: boolean; notification?: { id: string; createdAt: Date } } = {},
): Promise<Recorded> {
  if (rows.length === 0) return null;
  const unreadDelta = rows.reduce((sum, r) => sum + Number(r.unread_delta), 0);
  const unseenDelta = rows.reduce((sum, r) => sum + Number(r.unseen_delta), 0);
  const { rows: users } = await sql.query<{ last_seq: number; unread_count: number; unseen_count: number }>(
    `UPDATE users SET last_seq = last_seq + 1, unread_count = unread_count + $2, unseen_count = unseen_count + $3
      WHERE id = $1 RETURNING last_seq, unread_count, unseen_count`,
    [userId, unreadDelta, unseenDelta],
  );
  const user = users[0]!;
  const ids = rows.map((r) => r.id);
  await sql.query(
    "INSERT INTO notification_changes (user_id, seq, kind, ids, notification_id, notification_at, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [userId, user.last_seq, kind, options.storeIds === false ? [] : ids, options.notification?.id ?? null, options.notification?.createdAt ?? null, at],
  );
  return { ids, seq: user.last_seq, at: at.toISOString(), unread: user.unread_count, unseen: user.unseen_count };
}

async function afterChange(userId: string, result: Recorded, publish: (r: NonNullable<Recorded>) => void): Promise<StateChangeResult> {
  if (!result) return { count: 0, ids: [], seq: null, at: new Date().toISOString(), unread: -1, unseen: -1 };
  await cacheCounts([{ userId, counts: { count: result.unread, unseen: result.unseen, seq: result.seq } }]);
  publish(result);
  publishToUser(userId, "unread_count", { count: result.unread, unseen: result.unseen, seq: Number(result.seq) });
  return { count: result.ids.length, ...result };
}
