// Time-driven work, run by the relay process every OUTBOX_POLL_MS against the deployment clock
// (server/clock.ts): deferred deliveries whose window has ended become queued, and notifications
// whose expiresAt has passed leave the inboxes. (Triggers with a future sendAt wait in the outbox;
// the relay queues them when they are due.)
import { pool } from "@/server/db";
import { now } from "@/server/clock";
import { logger } from "@/server/logger";
import { removeNotificationsBatch } from "@/server/notifications/remove-notifications";

const RELEASE_BATCH = 1000;

/** Deferred deliveries (quiet hours, DND) whose time has come: queued for their channel. */
export async function releaseDueDeliveries(at: Date = now()): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE deliveries d SET status = 'queued', reason = NULL, updated_at = now()
       FROM (SELECT trigger_id, user_id, channel FROM deliveries WHERE status = 'deferred' AND deliver_at <= $1
              ORDER BY deliver_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
      WHERE d.trigger_id = due.trigger_id AND d.user_id = due.user_id AND d.channel = due.channel`,
    [at, RELEASE_BATCH],
  );
  return rowCount ?? 0;
}

/** Everything due, in batches until nothing is left. */
export async function runDueWork(): Promise<void> {
  const at = now();
  let released = 0;
  for (let n = RELEASE_BATCH; n === RELEASE_BATCH; released += n) n = await releaseDueDeliveries(at);
  let expired = 0;
  for (let n = 1; n > 0; expired += n) n = await removeNotificationsBatch({ expiredAt: at });
  if (released > 0 || expired > 0) logger.info({ released, expired }, "due work done");
}
