// Taking notifications out of inboxes: expired ones (expiresAt passed), recalled ones (the trigger
// was deleted) and those past the retention limit. Each affected user gets one `removed` change (one seq) for the batch, the counters
// drop by what was unread or unseen, and their devices hear about it.
import { withTransaction } from "@/server/db";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { publishToUser } from "@/server/realtime/publish";

export type RemovalTarget = { expiredAt: Date } | { triggerId: string; createdAt: Date } | { createdBefore: Date; cold?: boolean };

const BATCH = 500;

type Removed = { user_id: string; ids: string[]; unread: number; unseen: number };
type Bumped = { id: string; last_seq: number; unread_count: number; unseen_count: number };

/**
 * Removes one batch (at most BATCH notifications) of the target and returns how many it removed;
 * call it until it returns 0. Safe to run in several processes at once (rows are claimed with
 * SKIP LOCKED, users are locked in id order).
 */
export async function removeNotificationsBatch(target: RemovalTarget): Promise<number> {
  const at = new Date();
  // Past the retention limit, the archive's rows go the same way: they are in the inbox's pages too.
  const table = "createdBefore" in target && target.cold ? "notifications_archive" : "notifications";
  const result = await withTransaction(async (sql) => {
    const pick =
      "expiredAt" in target
        ? { query: "SELECT id, created_at FROM notifications WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED", params: [target.expiredAt] }
        : "createdBefore" in target
          ? { query: `SELECT id, created_at FROM ${table} WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED`, params: [target.createdBefore] }
          : { query: "SELECT id, created_at FROM notifications WHERE trigger_id = $1 AND created_at = $3 LIMIT $2 FOR UPDATE SKIP LOCKED", params: [target.triggerId] };
    const { rows: removed } = await sql.query<Removed>(
      `WITH picked AS (${pick.query}),
            gone AS (
              DELETE FROM ${table} n USING picked p WHERE n.id = p.id AND n.created_at = p.created_at
              RETURNING n.id, n.user_id, n.read_at, n.seen_at, n.archived_at)
       SELECT user_id, array_agg(id::text ORDER BY id) AS ids,
              count(*) FILTER (WHERE read_at IS NULL AND archived_at IS NULL)::int AS unread,
              count(*) FILTER (WHERE seen_at IS NULL AND archived_at IS NULL)::int AS unseen
         FROM gone GROUP BY user_id ORDER BY user_id`,
      "triggerId" in target ? [pick.params[0], BATCH, target.createdAt] : [pick.params[0], BATCH],
    );
    if (removed.length === 0) return { removed, bumped: [] as Bumped[] };
    const userIds = removed.map((r) => r.user_id);
    await sql.query("SELECT 1 FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [userIds]);
    const { rows: bumped } = await sql.query<Bumped>(
      `UPDATE users u SET last_seq = u.last_seq + 1, unread_count = greatest(0, u.unread_count - r.unread), unseen_count = greatest(0, u.unseen_count - r.unseen)
         FROM unnest($1::text[], $2::int[], $3::int[]) AS r(id, unread, unseen) WHERE u.id = r.id
       RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count`,
      [userIds, removed.map((r) => r.unread), removed.map((r) => r.unseen)],
    );
    const seqOf = new Map(bumped.map((b) => [b.id, b.last_seq]));
    await sql.query(
      `INSERT INTO notification_changes (user_id, seq, kind, ids, at)
       SELECT r.user_id, r.seq, 'removed', string_to_array(r.ids, ','), $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS r(user_id, seq, ids)`,
      [userIds, userIds.map((id) => seqOf.get(id)), removed.map((r) => r.ids.join(",")), at],
    );
    return { removed, bumped };
  });
  const byUser = new Map(result.bumped.map((b) => [b.id, b]));
  await cacheCounts(result.bumped.map((b) => ({ userId: b.id, counts: { count: b.unread_count, unseen: b.unseen_count, seq: b.last_seq } })));
  for (const r of result.removed) {
    const b = byUser.get(r.user_id);
    if (!b) continue;
    publishToUser(r.user_id, "notifications:removed", { ids: r.ids, seq: Number(b.last_seq), at: at.toISOString() });
    publishToUser(r.user_id, "unread_count", { count: b.unread_count, unseen: b.unseen_count, seq: Number(b.last_seq) });
  }
  return result.removed.reduce((n, r) => n + r.ids.length, 0);
}
