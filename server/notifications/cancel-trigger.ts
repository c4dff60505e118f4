// DELETE /api/v1/notifications/{id}: cancel what is not sent yet and recall what is.
import { AppError } from "@/server/app-error";
import { withTransaction } from "@/server/db";
import { removeNotificationsBatch } from "@/server/notifications/remove-notifications";
import { promoteNextInSummary } from "@/server/channels/batch-windows";
import { enqueueDeliveries, type DeliveryRef } from "@/server/channels/channel-queues";

/**
 * Stops the trigger (a scheduled or running fan-out goes no further; a running chunk finishes first,
 * then the fan-out sees the cancellation), marks its pending push/email/SMS deliveries (queued,
 * deferred, batched) `suppressed` with reason `cancelled`, and removes its notifications from every
 * inbox. `cancelled` counts the recipients not reached yet plus the pending deliveries; `removed`, the
 * notifications taken out of inboxes. Deleting twice is harmless.
 */
export async function cancelTrigger(triggerId: string): Promise<{ cancelled: number; removed: number }> {
  const stopped = await withTransaction(async (sql) => {
    const { rows } = await sql.query<{ status: string; recipients: number; fanout_count: number; created_at: Date }>(
      `SELECT status, recipients, fanout_count + (SELECT coalesce(sum(count), 0)::int FROM fanout_ranges WHERE trigger_id = $1) AS fanout_count, created_at
         FROM triggers WHERE id = $1 FOR UPDATE`,
      [triggerId],
    );
    const trigger = rows[0];
    if (!trigger) throw new AppError("not_found", "No such trigger.");
    let unreached = 0;
    if (trigger.status === "accepted" || trigger.status === "processing") {
      unreached = Math.max(0, trigger.recipients - trigger.fanout_count);
      await sql.query("UPDATE triggers SET status = 'cancelled', completed_at = now() WHERE id = $1", [triggerId]);
      await sql.query("UPDATE outbox SET done_at = now() WHERE trigger_id = $1 AND done_at IS NULL", [triggerId]);
    }
    // A broadcast is merged into no further inbox (a merge running now finishes first, and its copies are removed below).
    await sql.query("UPDATE broadcasts SET removed_at = coalesce(removed_at, now()) WHERE trigger_id = $1", [triggerId]);
    const { rows: pending } = await sql.query<{ was: string; batch_id: number | null; user_id: string; channel: string }>(
      `WITH old AS (
         SELECT trigger_id, user_id, channel, status, batch_id FROM deliveries
          WHERE trigger_id = $1 AND status IN ('queued', 'deferred', 'batched') FOR UPDATE
       )
       UPDATE deliveries d SET status = 'suppressed', reason = 'cancelled', updated_at = now() FROM old
        WHERE d.trigger_id = old.trigger_id AND d.user_id = old.user_id AND d.channel = old.channel
       RETURNING old.status AS was, old.batch_id, d.user_id, d.channel`,
      [triggerId],
    );
    // A cancelled delivery that was to send a window's summary hands it to the newest one left.
    const promoted: DeliveryRef[] = [];
    for (const p of pending) {
      if (p.was !== "queued" || p.batch_id === null) continue;
      const next = await promoteNextInSummary(sql, p.batch_id, p.user_id, p.channel);
      if (next) promoted.push(next);
    }
    return { createdAt: trigger.created_at, cancelled: unreached + pending.length, promoted };
  });
  if (stopped.promoted.length > 0) await enqueueDeliveries(stopped.promoted).catch(() => undefined);
  let removed = 0;
  for (let n = 1; n > 0; removed += n) n = await removeNotificationsBatch({ triggerId, createdAt: stopped.createdAt });
  return { cancelled: stopped.cancelled, removed };
}
