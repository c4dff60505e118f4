// The statements of the inbox reads, pure so that their plans can be checked (tests/system/partitions.test.ts).
import { decodeCursorOrThrow } from "@/server/notifications/notification-cursor";
import { NOTIFICATION_COLUMNS } from "@/server/notifications/notification-row";
import { addUtcMonths, CLOCK_MARGIN_MS, startOfUtcMonth } from "@/server/notifications/partition-bounds";
import type { ListQuery } from "@/server/notifications/notifications.schema";

/**
 * The statement of a page of the inbox, for `listNotifications` and for the test of its plan.
 *
 * The page is ordered by sortAt, which is in the month partition of createdAt (partition-bounds.ts),
 * so it is read month by month from its top (the cursor, or now): `recent` reads the top's month,
 * `previous` the month before, only when `recent` did not fill the page, and `rest` every older
 * month, only for an inbox too quiet to fill a page in two months. Each part names its months'
 * createdAt range, so PostgreSQL reads only those partitions. `cold` reads the archive (read
 * notifications the retention job moved out), only for a page that reaches back to what may have
 * been moved (notification_retention.cold_before) or was not filled. One statement: one snapshot,
 * with the user's seq read in it.
 */
export function listStatement(userId: string, query: ListQuery, at: Date): { text: string; values: unknown[] } {
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
  let top: Date;
  if (query.cursor) {
    const position = decodeCursorOrThrow(query.cursor);
    params.push(position.sortAt, position.id);
    where.push(`(n.sort_at, n.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
    top = new Date(position.sortAt);
  } else {
    // Another node's clock may be a little ahead: what it created is on the first page too.
    top = new Date(at.getTime() + CLOCK_MARGIN_MS);
  }
  const month = startOfUtcMonth(query.cursor ? top : at);
  params.push(top, month, addUtcMonths(month, -1), query.limit + 1);
  const [pTop, pMonth, pPrevious, pLimit] = [3, 2, 1, 0].map((back) => `$${params.length - back}`);
  const filters = where.join(" AND ");
  const part = (range: string, gate: string) =>
    `SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE ${gate}${filters} AND ${range} ORDER BY n.sort_at DESC, n.id DESC LIMIT ${pLimit}`;
  return {
    text: `WITH recent AS (
         ${part(`n.created_at >= ${pMonth}::timestamptz AND n.created_at <= ${pTop}::timestamptz AND n.sort_at >= ${pMonth}::timestamptz`, "")}
       ), previous AS (
         ${part(`n.created_at >= ${pPrevious}::timestamptz AND n.created_at < ${pMonth}::timestamptz AND n.sort_at < ${pMonth}::timestamptz`, `(SELECT count(*) FROM recent) < ${pLimit} AND `)}
       ), rest AS (
         ${part(`n.created_at < ${pPrevious}::timestamptz AND n.sort_at < ${pPrevious}::timestamptz`, `(SELECT count(*) FROM recent) + (SELECT count(*) FROM previous) < ${pLimit} AND `)}
       ), cold AS (
         ${part(
           "true",
           `((SELECT count(*) FROM recent) + (SELECT count(*) FROM previous) < ${pLimit} OR ${pPrevious}::timestamptz < (SELECT cold_before FROM notification_retention WHERE id = 1)) AND `,
         ).replace("FROM notifications n", "FROM notifications_archive n")}
       )
       SELECT me.last_seq AS user_last_seq, me.unread_count AS user_unread, me.unseen_count AS user_unseen, page.*
         FROM (SELECT coalesce(max(last_seq), 0) AS last_seq, coalesce(max(unread_count), 0) AS unread_count, coalesce(max(unseen_count), 0) AS unseen_count
                 FROM users WHERE id = $1) me
         LEFT JOIN LATERAL (SELECT * FROM recent UNION ALL SELECT * FROM previous UNION ALL SELECT * FROM rest UNION ALL SELECT * FROM cold) page ON true
        ORDER BY page.sort_at DESC, page.id DESC LIMIT ${pLimit}`,
    values: params,
  };
}

/**
 * The user's change rows after `afterSeq`, each joined to its notification by primary key: the
 * change row carries the notification's createdAt, so each lookup reads one partition.
 */
export function changesStatement(userId: string, afterSeq: number, limit: number): { text: string; values: unknown[] } {
  return {
    // LATERAL: a lookup per change row (a nested loop, whatever the statistics say), so that each
    // lookup is pruned at run time to the one partition its createdAt names; then, if it has been
    // moved to cold storage since, the archive.
    text: `SELECT c.seq, c.kind, c.ids, c.at, c.notification_id, n.*
       FROM (SELECT * FROM notification_changes WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) c
       LEFT JOIN LATERAL (
         SELECT ${NOTIFICATION_COLUMNS.replace(/n\.seq/, "n.seq AS n_seq")} FROM notifications n
          WHERE n.id = c.notification_id AND n.created_at = c.notification_at AND n.user_id = c.user_id
          UNION ALL
         SELECT ${NOTIFICATION_COLUMNS.replace(/n\.seq/, "n.seq AS n_seq")} FROM notifications_archive n
          WHERE n.id = c.notification_id AND n.created_at = c.notification_at AND n.user_id = c.user_id
          LIMIT 1
       ) n ON true
      ORDER BY c.seq`,
    values: [userId, afterSeq, limit],
  };
}

/** The unread and unseen counts: counters on the user's row, kept in the same transactions as the notifications. */
export function unreadCountStatement(userId: string): { text: string; values: unknown[] } {
  return { text: "SELECT unread_count, unseen_count, last_seq FROM users WHERE id = $1", values: [userId] };
}
