// The dead-letter queue: deliveries that failed for good. Admins list them, replay them (the
// delivery is queued again with fresh attempts; the provider's idempotency key is unchanged, so a
// replay never sends what was already sent) or discard them.
import { z } from "zod";
import { AppError } from "@/server/app-error";
import { pool, withTransaction } from "@/server/db";
import type { Priority } from "@/server/notifications/notifications.schema";
import { enqueueDeliveries, isSendingChannel, type DeliveryRef } from "@/server/channels/channel-queues";

export type DeadLetter = { id: number; triggerId: string; userId: string; channel: string; error: string; attempts: number; payload: unknown; createdAt: string; replayedAt: string | null };

export const deadLetterQuerySchema = z.object({ channel: z.enum(["push", "email", "sms"]).optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });
export const replayInputSchema = z.union([z.strictObject({ ids: z.array(z.number().int().positive()).min(1).max(1000) }), z.strictObject({ all: z.literal(true), channel: z.enum(["push", "email", "sms"]).optional() })]);

export async function listDeadLetters(query: z.infer<typeof deadLetterQuerySchema>): Promise<DeadLetter[]> {
  const { rows } = await pool.query<{ id: string; trigger_id: string; user_id: string; channel: string; error: string; attempts: number; payload: unknown; created_at: Date; replayed_at: Date | null }>(
    `SELECT id, trigger_id, user_id, channel, error, attempts, payload, created_at, replayed_at FROM dead_letters
      WHERE discarded_at IS NULL AND replayed_at IS NULL AND ($1::text IS NULL OR channel = $1) ORDER BY id DESC LIMIT $2`,
    [query.channel ?? null, query.limit],
  );
  return rows.map((r) => ({ id: Number(r.id), triggerId: r.trigger_id, userId: r.user_id, channel: r.channel, error: r.error, attempts: r.attempts, payload: r.payload, createdAt: r.created_at.toISOString(), replayedAt: r.replayed_at?.toISOString() ?? null }));
}

/** Queues the listed (or all) dead letters again; answers how many were replayed. */
export async function replayDeadLetters(input: z.infer<typeof replayInputSchema>): Promise<number> {
  const refs = await withTransaction(async (sql) => {
    const { rows } = await sql.query<{ trigger_id: string; user_id: string; channel: string; priority: Priority }>(
      `WITH picked AS (
         UPDATE dead_letters SET replayed_at = now()
          WHERE discarded_at IS NULL AND replayed_at IS NULL
            AND (($1::bigint[] IS NOT NULL AND id = ANY($1::bigint[])) OR ($1::bigint[] IS NULL AND ($2::text IS NULL OR channel = $2)))
         RETURNING trigger_id, user_id, channel
       ), requeued AS (
         UPDATE deliveries d SET status = 'queued', reason = NULL, attempts = 0, last_error = NULL, enqueued_at = now(), updated_at = now()
           FROM picked p WHERE d.trigger_id = p.trigger_id AND d.user_id = p.user_id AND d.channel = p.channel AND d.status = 'failed'
         RETURNING d.trigger_id, d.user_id, d.channel
       )
       SELECT r.trigger_id, r.user_id, r.channel, t.priority FROM requeued r JOIN triggers t ON t.id = r.trigger_id`,
      ["ids" in input ? input.ids : null, "channel" in input ? (input.channel ?? null) : null],
    );
    return rows.flatMap((r): DeliveryRef[] => (isSendingChannel(r.channel) ? [{ triggerId: r.trigger_id, userId: r.user_id, channel: r.channel, priority: r.priority }] : []));
  });
  // Committed first: if queueing fails, the relay finds them queued and queues them.
  await enqueueDeliveries(refs).catch(() => undefined);
  return refs.length;
}

export async function discardDeadLetter(id: number): Promise<void> {
  const { rowCount } = await pool.query("UPDATE dead_letters SET discarded_at = now() WHERE id = $1 AND discarded_at IS NULL AND replayed_at IS NULL", [id]);
  if (!rowCount) throw new AppError("not_found", "No such dead letter.");
}
