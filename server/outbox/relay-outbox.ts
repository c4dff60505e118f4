import { env } from "@/server/env";
import { withTransaction } from "@/server/db";
import { enqueueFanouts } from "@/server/queues";
import { logger } from "@/server/logger";

const BATCH = 500;

/**
 * Moves one batch of outbox rows onto the fan-out queue and returns how many it moved. A row is
 * picked when it was never queued, or was queued long enough ago that its fan-out should have
 * committed (the job was lost: Redis flushed, a worker died). Rows stay locked while they are
 * queued (`SKIP LOCKED`), so any number of relays can run; a failed enqueue rolls back and is retried.
 */
export async function relayOutboxBatch(): Promise<number> {
  return withTransaction(async (sql) => {
    const { rows } = await sql.query<{ id: number; trigger_id: string; attempts: number }>(
      `SELECT id, trigger_id, attempts FROM outbox
        WHERE done_at IS NULL AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => $1::float8 / 1000))
        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [env.OUTBOX_REDELIVER_MS, BATCH],
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
