// DELETE /api/v1/notifications/{id}: cancel what is not sent yet and recall what is.
import { AppError } from "@/server/app-error";
import { withTransaction } from "@/server/db";
import { removeNotificationsBatch } from "@/server/notifications/remove-notifications";

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
    const { rowCount } = await sql.query(
      "UPDATE deliveries SET status = 'suppressed', reason = 'cancelled', updated_at = now() WHERE trigger_id = $1 AND status IN ('queued', 'deferred', 'batched')",
      [triggerId],
    );
    return { createdAt: trigger.created_at, cancelled: unreached + (rowCount ?? 0) };
  });
  let removed = 0;
  for (let n = 1; n > 0; removed += n) n = await removeNotificationsBatch({ triggerId, createdAt: stopped.createdAt });
  return { cancelled: stopped.cancelled, removed };
}
