import { env } from "@/server/env";
import { withTransaction } from "@/server/db";
import { enqueueFanouts } from "@/server/queues";
import { logger } from "@/server/logger";

const BATCH = 500;

/**
 * Moves one batch of outbox rows onto the fan-out queue and returns how many it moved. The web node
 * queues each trigger itself right after commit; the relay is the safety net. It picks a row that is
 * still not done OUTBOX_GRACE_MS after it was written (the web node died before queueing, or Redis
 * lost the job), or OUTBOX_REDELIVER_MS after the relay last queued it. Re-queueing a job that still
 * exists is a no-op (same job id); one whose fan-out completed meanwhile is skipped by the worker. Rows stay locked while they are
 * queued (`SKIP LOCKED`), so any number of relays can run; a failed enqueue rolls back and is retried.
 */
export async function relayOutboxBatch(): Promise<number> {
  return withTransaction(async (sql) => {
    const { rows } = await sql.query<{ id: number; trigger_id: string; attempts: number }>(
      `SELECT id, trigger_id, attempts FROM outbox
        WHERE done_at IS NULL
          AND ((enqueued_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000))
               OR enqueued_at < now() - make_interval(secs => $2::float8 / 1000))
        ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [env.OUTBOX_GRACE_MS, env.OUTBOX_REDELIVER_MS, BATCH],
    );
    if (rows.length === 0) return 0;
    const exhausted = rows.filter((r) => r.attempts >= env.OUTBOX_MAX_ATTEMPTS);
    const live = rows.filter((r) => r.attempts < env.OUTBOX_MAX_ATTEMPTS);
    if (exhausted.length > 0) {
      const ids = exhausted.map((r) => r.trigger_id);
      await sql.query("UPDATE outbox SET done_at = now() WHERE id = ANY($1::bigint[])", [exhausted.map((r) => r.id)]);
      await sql.query("UPDATE triggers SET status = 'failed', error = 'fan-out did not complete after the maximum number of attempts' WHERE id = ANY($1::uuid[])", [ids]);
      logger.error({ triggerIds: ids }, "outbox rows gave up after OUTBOX_MAX_ATTEMPTS");
    }
    if (live.length > 0) {
      await enqueueFanouts(live.map((r) => r.trigger_id));
      await sql.query("UPDATE outbox SET enqueued_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])", [live.map((r) => r.id)]);
    }
    return rows.length;
  });
}

/** Housekeeping: done outbox rows, expired idempotency keys, and change-log rows past retention. */
export async function pruneOldRows(): Promise<void> {
  await withTransaction(async (sql) => {
    await sql.query("DELETE FROM outbox WHERE done_at < now() - interval '1 day'");
    await sql.query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'");
    await sql.query("DELETE FROM notification_changes WHERE at < now() - make_interval(days => $1)", [env.CHANGES_RETENTION_DAYS]);
  });
}
