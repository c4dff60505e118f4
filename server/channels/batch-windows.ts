// Batching windows per type and channel (a type's `batch`, e.g. `{push: "5m", email: "1h"}`): the
// first push or email of a type to a user opens a window, later ones join it as `batched`
// (`batch_window`), and at the window's end the newest of them is queued and sends one message that
// summarises the whole window (deliver.ts). Urgent notifications never wait.
import type { Sql } from "@/server/db";
import { pool } from "@/server/db";
import { durationMs } from "@/server/types/types.schema";
import { logger } from "@/server/logger";
import type { Priority } from "@/server/notifications/notifications.schema";
import { enqueueDeliveries, SENDING_CHANNELS, type DeliveryRef, type SendingChannel } from "@/server/channels/channel-queues";

export type BatchSettings = Partial<Record<"push" | "email", string>> | null;
export type Window = { id: number; endsAt: Date };

/** Whether a delivery on `channel` of a type with these settings waits in a window. */
export function batchWindowOf(batch: BatchSettings, channel: string, priority: Priority): string | null {
  if (!batch || priority === "urgent" || (channel !== "push" && channel !== "email")) return null;
  return batch[channel] ?? null;
}

/**
 * Opens or joins the open window of each user on `channel` (in user id order, inside the fan-out
 * chunk's transaction: the window row is locked until the chunk commits, so the relay never closes
 * a window while a delivery is joining it). Answers each user's window.
 */
export async function joinBatchWindows(sql: Sql, type: string, channel: SendingChannel, userIds: readonly string[], window: string, at: Date): Promise<Map<string, Window>> {
  const joined = new Map<string, Window>();
  if (userIds.length === 0) return joined;
  const { rows } = await sql.query<{ user_id: string; id: number; ends_at: Date }>(
    `INSERT INTO batch_windows AS w (user_id, type, channel, ends_at)
     SELECT u, $2, $3, $4 FROM unnest($1::text[]) AS u ORDER BY u
     ON CONFLICT (user_id, type, channel) WHERE closed_at IS NULL DO UPDATE SET size = w.size + 1
     RETURNING w.user_id, w.id, w.ends_at`,
    [[...userIds].sort(), type, channel, new Date(at.getTime() + durationMs(window))],
  );
  for (const r of rows) joined.set(r.user_id, { id: Number(r.id), endsAt: r.ends_at });
  return joined;
}

const RELEASE_BATCH = 500;

/**
 * Closes the windows that have ended: in each, the newest delivery still waiting is queued to send
 * the summary, and the others wait on it (`in_summary`) and share its outcome. Answers how many
 * windows were closed.
 */
export async function releaseDueBatches(at: Date): Promise<number> {
  const client = await pool.connect();
  let leaders: DeliveryRef[] = [];
  let closed = 0;
  try {
    await client.query("BEGIN");
    // SKIP LOCKED: a window a fan-out is joining right now is closed on the next round.
    const { rows: windows } = await client.query<{ id: number }>(
      `UPDATE batch_windows SET closed_at = now() WHERE id IN (
         SELECT id FROM batch_windows WHERE closed_at IS NULL AND ends_at <= $1 ORDER BY ends_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [at, RELEASE_BATCH],
    );
    closed = windows.length;
    if (closed > 0) {
      // A new statement, so it sees every delivery that joined before the windows were locked.
      const { rows } = await client.query<{ trigger_id: string; user_id: string; channel: SendingChannel; priority: Priority }>(
        `WITH members AS (
           SELECT d.trigger_id, d.user_id, d.channel,
                  row_number() OVER (PARTITION BY d.batch_id ORDER BY d.created_at DESC, d.trigger_id DESC) AS rank
             FROM deliveries d WHERE d.batch_id = ANY($1::bigint[]) AND d.status = 'batched'
         )
         UPDATE deliveries d
            SET status = CASE WHEN m.rank = 1 THEN 'queued' ELSE 'batched' END,
                reason = CASE WHEN m.rank = 1 THEN NULL ELSE 'in_summary' END,
                enqueued_at = CASE WHEN m.rank = 1 AND d.channel = ANY($2::text[]) THEN now() END, updated_at = now()
           FROM members m, triggers t
          WHERE d.trigger_id = m.trigger_id AND d.user_id = m.user_id AND d.channel = m.channel AND t.id = d.trigger_id
         RETURNING d.trigger_id, d.user_id, d.channel, t.priority, m.rank`,
        [windows.map((w) => w.id), SENDING_CHANNELS],
      );
      leaders = rows.filter((r) => Number((r as { rank?: number }).rank) === 1).map((r) => ({ triggerId: r.trigger_id, userId: r.user_id, channel: r.channel, priority: r.priority }));
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  // If this fails, the leaders are queued with an enqueued_at: the relay's safety net requeues them.
  if (leaders.length > 0) await enqueueDeliveries(leaders).catch((error: unknown) => logger.warn({ err: error }, "batch summaries not queued; retried later"));
  return closed;
}
