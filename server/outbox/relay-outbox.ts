import { env } from "@/server/env";
import { withTransaction, type Sql } from "@/server/db";
import { enqueueFanouts, fanoutJobExists } from "@/server/queues";
import { logger } from "@/server/logger";
import { now } from "@/server/clock";
import type { Priority } from "@/server/notifications/notifications.schema";

const BATCH = 500;

/**
 * Moves one batch of outbox rows onto the fan-out queue and returns how many it looked at. The web
 * node queues each trigger itself right after commit; the relay is the safety net. It picks a row
 * still not done OUTBOX_GRACE_MS after it was written (the web node died before queueing, or Redis
 * lost the job), or OUTBOX_REDELIVER_MS after the relay last looked at it. Rows are locked with
 * `SKIP LOCKED`, so any number of relays can run; a failed enqueue rolls back and is retried.
 *
 * A job that is still in the queue (waiting, delayed or running, however long) is left alone and
 * costs no attempt. Only a job that is gone (lost with Redis, or failed every retry) counts one; after
 * OUTBOX_MAX_ATTEMPTS of those the trigger is marked failed, for an operator to look at.
 */
export async function relayOutboxBatch(): Promise<number> {
  return withTransaction(async (sql) => {
    // A scheduled row (available later than it was written) is queued as soon as it is due; an
    // immediate one only after the grace the web node has to queue it itself.
    const { rows } = await sql.query<{ id: number; trigger_id: string; attempts: number; priority: Priority }>(
      `SELECT o.id, o.trigger_id, o.attempts, t.priority FROM outbox o JOIN triggers t ON t.id = o.trigger_id
        WHERE o.done_at IS NULL
          AND ((o.enqueued_at IS NULL AND o.available_at <= $4::timestamptz
                - CASE WHEN o.available_at > o.created_at THEN interval '0' ELSE make_interval(secs => $1::float8 / 1000) END)
               OR o.enqueued_at < now() - make_interval(secs => $2::float8 / 1000))
        ORDER BY o.available_at, o.id LIMIT $3 FOR UPDATE OF o SKIP LOCKED`,
      [env.OUTBOX_GRACE_MS, env.OUTBOX_REDELIVER_MS, BATCH, now()],
    );
    if (rows.length === 0) return 0;
    const present = await Promise.all(rows.map((r) => fanoutJobExists(r.trigger_id, r.priority)));
    const missing = rows.filter((_, i) => !present[i]);
    const exhausted = missing.filter((r) => r.attempts >= env.OUTBOX_MAX_ATTEMPTS);
    const requeue = missing.filter((r) => r.attempts < env.OUTBOX_MAX_ATTEMPTS);
    if (exhausted.length > 0) await giveUp(sql, exhausted.map((r) => r.trigger_id));
    if (requeue.length > 0) await enqueueFanouts(requeue.map((r) => ({ triggerId: r.trigger_id, priority: r.priority })));
    await sql.query("UPDATE outbox SET enqueued_at = now() WHERE id = ANY($1::bigint[])", [rows.map((r) => r.id)]);
    if (requeue.length > 0) {
      await sql.query("UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])", [requeue.map((r) => r.id)]);
      // One line per trigger, so that a search for a trigger's id finds every line of its path.
      for (const r of requeue) logger.warn({ triggerId: r.trigger_id, attempt: r.attempts + 1 }, "fan-out re-queued: it was not in the queue");
    }
    return rows.length;
  });
}

/** Marks triggers failed, skipping any a fan-out is working on right now (it will finish or fail). */
async function giveUp(sql: Sql, triggerIds: string[]): Promise<void> {
  const { rows } = await sql.query<{ id: string }>(
    `UPDATE triggers SET status = 'failed', error = 'the fan-out failed or was lost OUTBOX_MAX_ATTEMPTS times'
      WHERE id IN (SELECT id FROM triggers WHERE id = ANY($1::uuid[]) AND status IN ('accepted', 'processing') FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [triggerIds],
  );
  const failed = rows.map((r) => r.id);
  if (failed.length === 0) return;
  await sql.query("UPDATE outbox SET done_at = now() WHERE trigger_id = ANY($1::uuid[]) AND done_at IS NULL", [failed]);
  for (const triggerId of failed) logger.error({ triggerId }, "fan-out marked failed after OUTBOX_MAX_ATTEMPTS");
}

/** Housekeeping: done outbox rows, expired idempotency keys, and change-log rows past retention. */
export async function pruneOldRows(): Promise<void> {
  await withTransaction(async (sql) => {
    await sql.query("DELETE FROM outbox WHERE done_at < now() - interval '1 day'");
    await sql.query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'");
    await sql.query("DELETE FROM notification_changes WHERE at < now() - make_interval(days => $1)", [env.CHANGES_RETENTION_DAYS]);
  });
}
