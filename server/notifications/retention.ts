// The storage lifecycle of notifications, run once a day by the relay (RETENTION_HOUR_UTC) or by
// hand (`npm run retention`):
// - read and seen notifications older than RETENTION_ARCHIVE_DAYS move to cold storage
//   (notifications_archive). Moving them changes nothing a user sees: the inbox pages into the
//   archive, and a state change on an archived one moves it back (thawNotifications). Unread or
//   unseen ones stay, so the counters never change by a move;
// - everything older than RETENTION_DELETE_DAYS is deleted: cold rows silently, hot ones (left
//   unread) as a removal, with counters, a `removed` change and the devices told;
// - monthly partitions wholly past that limit, and empty, are dropped.
import { pool, withTransaction, type Sql } from "@/server/db";
import { env } from "@/server/env";
import { now } from "@/server/clock";
import { logger } from "@/server/logger";
import { addUtcMonths } from "@/server/notifications/partition-bounds";
import { listNotificationPartitions } from "@/server/notifications/partitions";
import { removeNotificationsBatch } from "@/server/notifications/remove-notifications";

const BATCH = 5000;
const DAY_MS = 86_400_000;

const COLUMNS = `id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count, target, actions, data, seq,
  read_at, seen_at, archived_at, clicked_at, delivered_at, expires_at, created_at, sort_at, updated_at`;

export type RetentionResult = { archived: number; deletedCold: number; removedHot: number; droppedPartitions: string[] };

export async function runRetention(
  at: Date = now(),
  { archiveDays = env.RETENTION_ARCHIVE_DAYS, deleteDays = env.RETENTION_DELETE_DAYS } = {},
): Promise<RetentionResult> {
  const result: RetentionResult = { archived: 0, deletedCold: 0, removedHot: 0, droppedPartitions: [] };
  if (archiveDays > 0 && (deleteDays === 0 || archiveDays < deleteDays)) {
    const cutoff = new Date(at.getTime() - archiveDays * DAY_MS);
    // Before anything moves: pages reaching back past the month after the cutoff read the archive
    // too (a notification's sortAt stays in its createdAt's month).
    await pool.query(
      `INSERT INTO notification_retention (id, cold_before) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET cold_before = greatest(notification_retention.cold_before, excluded.cold_before)`,
      [addUtcMonths(cutoff, 1)],
    );
    // (What is past the deletion limit is not moved, only deleted below.)
    const floor = deleteDays > 0 ? new Date(at.getTime() - deleteDays * DAY_MS) : new Date(0);
    for (let n = BATCH; n === BATCH; result.archived += n) n = await archiveBatch(cutoff, floor);
  }
  if (deleteDays > 0) {
    const limit = new Date(at.getTime() - deleteDays * DAY_MS);
    // Both as removals (a seq, a `removed` change, the devices told): a cold one can be on a page a
    // client holds, or in the hot cache of a quiet inbox.
    for (let n = 1; n > 0; result.deletedCold += n) n = await removeNotificationsBatch({ createdBefore: limit, cold: true });
    for (let n = 1; n > 0; result.removedHot += n) n = await removeNotificationsBatch({ createdBefore: limit });
    for (const partition of await listNotificationPartitions()) {
      if (partition.to.getTime() > limit.getTime()) continue;
      if (await dropIfEmpty(partition.name)) result.droppedPartitions.push(partition.name);
    }
  }
  await pool.query("INSERT INTO notification_retention (id, last_run_at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET last_run_at = excluded.last_run_at", [at]);
  logger.info(result, "retention run done");
  return result;
}

/** Moves one batch of read, seen (or archived) notifications created in [floor, cutoff) to the archive. */
async function archiveBatch(cutoff: Date, floor: Date): Promise<number> {
  const { rowCount } = await pool.query(
    // The owner's row is locked too (skipped when busy): a state change locks the user first, then
    // moves the notification back from the archive, so it either waits for this move and finds it
    // cold, or this batch leaves that user's notifications for the next run.
    `WITH picked AS (
       SELECT n.id, n.created_at FROM notifications n JOIN users u ON u.id = n.user_id
        WHERE n.created_at < $1 AND n.created_at >= $3 AND n.read_at IS NOT NULL AND (n.seen_at IS NOT NULL OR n.archived_at IS NOT NULL)
        LIMIT $2 FOR UPDATE OF n, u SKIP LOCKED
     ), moved AS (
       DELETE FROM notifications n USING picked p WHERE n.id = p.id AND n.created_at = p.created_at RETURNING n.*
     )
     INSERT INTO notifications_archive (${COLUMNS}) SELECT ${COLUMNS} FROM moved`,
    [cutoff, BATCH, floor],
  );
  return rowCount ?? 0;
}

/**
 * Drops a month partition if it is empty. Detached first (which locks the table, then the partition,
 * in the order every query takes them), checked once nothing can reach it, and put back untouched
 * (rolled back) if a row is there after all. Waits at most 2 s for the locks: busy, it is left for
 * the next run.
 */
async function dropIfEmpty(name: string): Promise<boolean> {
  const { rows: some } = await pool.query(`SELECT 1 FROM "${name}" LIMIT 1`);
  if (some.length > 0) return false;
  const dropped = await withTransaction(async (sql) => {
    await sql.query("SET LOCAL lock_timeout = '2s'");
    await sql.query(`ALTER TABLE notifications DETACH PARTITION "${name}"`);
    const { rows } = await sql.query(`SELECT 1 FROM "${name}" LIMIT 1`);
    if (rows.length > 0) throw new KeptPartition();
    await sql.query(`DROP TABLE "${name}"`);
    return true;
  }).catch((error: unknown) => {
    if (error instanceof KeptPartition || (error as { code?: string }).code === "55P03") return false;
    throw error;
  });
  return dropped;
}

class KeptPartition extends Error {}

/**
 * Moves the user's archived notifications among `ids` back into the inbox table, inside the caller's
 * transaction (a state change is about to apply to them). Returns how many came back.
 */
export async function thawNotifications(sql: Sql, userId: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await sql.query(
    `WITH thawed AS (DELETE FROM notifications_archive WHERE user_id = $1 AND id = ANY($2::uuid[]) RETURNING *)
     INSERT INTO notifications (${COLUMNS}) SELECT ${COLUMNS} FROM thawed`,
    [userId, ids],
  );
  return rowCount ?? 0;
}

/**
 * Runs the retention job if it is the configured hour and no process has started it in the last 20
 * hours: the run is claimed in PostgreSQL (one row, updated only by the claimant), so every relay may
 * ask every round. A failed run is tried again the next day (what it did is kept; it is idempotent).
 */
let askedOn: string | null = null;

export async function runRetentionIfDue(at: Date = now()): Promise<RetentionResult | null> {
  if (at.getUTCHours() !== env.RETENTION_HOUR_UTC) return null;
  // Once a day per process is enough to ask.
  const day = at.toISOString().slice(0, 10);
  if (askedOn === day) return null;
  askedOn = day;
  const { rows } = await pool.query(
    `INSERT INTO notification_retention AS r (id, started_at) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at
      WHERE r.started_at IS NULL OR r.started_at < $1::timestamptz - interval '20 hours'
     RETURNING 1`,
    [at],
  );
  if (rows.length === 0) return null;
  return runRetention(at);
}
