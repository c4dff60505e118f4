// Time-driven work, run by the relay process every OUTBOX_POLL_MS against the deployment clock
// (server/clock.ts): deferred deliveries whose window has ended become queued, and notifications
// whose expiresAt has passed leave the inboxes. (Triggers with a future sendAt wait in the outbox;
// the relay queues them when they are due.)
import { pool, withTransaction } from "@/server/db";
import { env } from "@/server/env";
import type { Priority } from "@/server/notifications/notifications.schema";
import { deliveryJobExists, enqueueDeliveries, isSendingChannel, SENDING_CHANNELS, uniqueTriggerIds, type DeliveryRef } from "@/server/channels/channel-queues";
import { now } from "@/server/clock";
import { logger } from "@/server/logger";
import { removeNotificationsBatch } from "@/server/notifications/remove-notifications";
import { sendDueDigests } from "@/server/channels/digests";
import { pruneEndedGroups } from "@/server/aggregation/open-groups";
import { releaseDueBatches } from "@/server/channels/batch-windows";

const RELEASE_BATCH = 1000;

/** Deferred deliveries (quiet hours, DND) whose time has come: queued, and on their channel's queue. */
export async function releaseDueDeliveries(at: Date = now()): Promise<number> {
  const { rows } = await pool.query<{ trigger_id: string; user_id: string; channel: string; priority: Priority }>(
    `UPDATE deliveries d SET status = 'queued', reason = NULL, updated_at = now(),
            enqueued_at = CASE WHEN d.channel = ANY($3::text[]) THEN now() END
       FROM (SELECT trigger_id, user_id, channel FROM deliveries WHERE status = 'deferred' AND deliver_at <= $1
              ORDER BY deliver_at LIMIT $2 FOR UPDATE SKIP LOCKED) due, triggers t
      WHERE d.trigger_id = due.trigger_id AND d.user_id = due.user_id AND d.channel = due.channel AND t.id = d.trigger_id
      RETURNING d.trigger_id, d.user_id, d.channel, t.priority`,
    [at, RELEASE_BATCH, SENDING_CHANNELS],
  );
  const refs = toRefs(rows);
  // If this fails, the rows are queued with an enqueued_at: requeueLostDeliveries finds them.
  if (refs.length > 0) await enqueueDeliveries(refs).catch((error: unknown) => logger.warn({ err: error, triggerIds: uniqueTriggerIds(refs) }, "released deliveries not queued; retried later"));
  return rows.length;
}

function toRefs(rows: { trigger_id: string; user_id: string; channel: string; priority: Priority }[]): DeliveryRef[] {
  return rows.flatMap((r) => (isSendingChannel(r.channel) ? [{ triggerId: r.trigger_id, userId: r.user_id, channel: r.channel, priority: r.priority }] : []));
}

/**
 * The safety net for email and SMS, like the outbox relay's for fan-outs: a delivery still `queued`
 * DELIVERY_REDELIVER_MS after it was last put on its queue is queued again if its job is gone (Redis
 * lost it, or the process died between commit and queueing); one still waiting is left alone.
 */
export async function requeueLostDeliveries(): Promise<number> {
  return withTransaction(async (sql) => {
    const { rows } = await sql.query<{ trigger_id: string; user_id: string; channel: string; priority: Priority }>(
      `SELECT d.trigger_id, d.user_id, d.channel, t.priority FROM deliveries d JOIN triggers t ON t.id = d.trigger_id
        WHERE d.status = 'queued' AND d.channel = ANY($1::text[])
          AND (d.enqueued_at IS NULL OR d.enqueued_at < now() - make_interval(secs => $2::float8 / 1000))
        ORDER BY d.enqueued_at NULLS FIRST LIMIT 500 FOR UPDATE OF d SKIP LOCKED`,
      [SENDING_CHANNELS, env.DELIVERY_REDELIVER_MS],
    );
    if (rows.length === 0) return 0;
    const refs = toRefs(rows);
    const present = await Promise.all(refs.map((ref) => deliveryJobExists(ref)));
    const lost = refs.filter((_, i) => !present[i]);
    if (lost.length > 0) {
      await enqueueDeliveries(lost);
      for (const ref of lost) logger.warn({ triggerId: ref.triggerId, userId: ref.userId, channel: ref.channel }, "delivery re-queued: it was not in its queue");
    }
    await sql.query(
      "UPDATE deliveries SET enqueued_at = now() WHERE (trigger_id, user_id, channel) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))",
      [rows.map((r) => r.trigger_id), rows.map((r) => r.user_id), rows.map((r) => r.channel)],
    );
    return rows.length;
  });
}

/** Everything due, in batches until nothing is left. */
export async function runDueWork(): Promise<void> {
  const at = now();
  let released = 0;
  for (let n = RELEASE_BATCH; n === RELEASE_BATCH; released += n) n = await releaseDueDeliveries(at);
  let expired = 0;
  for (let n = 1; n > 0; expired += n) n = await removeNotificationsBatch({ expiredAt: at });
  for (let n = 1; n > 0; ) n = await releaseDueBatches(at);
  await requeueLostDeliveries();
  await sendDueDigests(at);
  // Aggregation groups whose window ended a day ago: an event is matched against its group by its
  // own time, so a fan-out running late behind a backlog must still find the group.
  await pruneEndedGroups(pool, new Date(at.getTime() - 86_400_000));
  if (released > 0 || expired > 0) logger.info({ released, expired }, "due work done");
}
