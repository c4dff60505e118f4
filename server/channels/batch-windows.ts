// Batching windows per type and channel (a type's `batch`, e.g. `{push: "5m", email: "1h"}`): the
// first push or email of a type to a user opens a window, later ones join it as `batched`
// (`batch_window`), and at the window's end the newest of them is queued and sends one message that
// summarises the whole window (deliver.ts). Urgent notifications never wait.
import type { Sql } from "@/server/db";
import { pool } from "@/server/db";
import { durationMs } from "@/server/types/types.schema";
import { logger } from "@/server/logger";
import type { Priority } from "@/server/notifications/notifications.schema";
import { enqueueDeliveries, uniqueTriggerIds, type DeliveryRef, type SendingChannel } from "@/server/channels/channel-queues";

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
      // A new statement, so it sees every delivery that joined before the windows were locked; the
      // members are locked too (a cancellation waits, or has already taken its delivery out).
      const { rows: members } = await client.query<{ trigger_id: string; user_id: string; channel: SendingChannel; batch_id: string; priority: Priority }>(
        `SELECT d.trigger_id, d.user_id, d.channel, d.batch_id, t.priority FROM deliveries d JOIN triggers t ON t.id = d.trigger_id
          WHERE d.batch_id = ANY($1::bigint[]) AND d.status = 'batched'
          ORDER BY d.batch_id, d.created_at DESC, d.trigger_id DESC FOR UPDATE OF d`,
        [windows.map((w) => w.id)],
      );
      // The newest of each window sends the summary.
      const seen = new Set<string>();
      for (const m of members) {
        if (seen.has(String(m.batch_id))) continue;
        seen.add(String(m.batch_id));
        leaders.push({ triggerId: m.trigger_id, userId: m.user_id, channel: m.channel, priority: m.priority });
      }
      const key = (r: { triggerId?: string; trigger_id?: string; userId?: string; user_id?: string; channel: string }) => `${r.triggerId ?? r.trigger_id}/${r.userId ?? r.user_id}/${r.channel}`;
      const leading = new Set(leaders.map(key));
      const others = members.filter((m) => !leading.has(key(m)));
      await client.query(
        `UPDATE deliveries SET status = 'queued', reason = NULL, enqueued_at = now(), updated_at = now()
          WHERE (trigger_id, user_id, channel) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))`,
        [leaders.map((l) => l.triggerId), leaders.map((l) => l.userId), leaders.map((l) => l.channel)],
      );
      await client.query(
        `UPDATE deliveries SET reason = 'in_summary', updated_at = now()
          WHERE (trigger_id, user_id, channel) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))`,
        [others.map((o) => o.trigger_id), others.map((o) => o.user_id), others.map((o) => o.channel)],
      );
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  // If this fails, the leaders are queued with an enqueued_at: the relay's safety net requeues them.
  if (leaders.length > 0) await enqueueDeliveries(leaders).catch((error: unknown) => logger.warn({ err: error, triggerIds: uniqueTriggerIds(leaders) }, "batch summaries not queued; retried later"));
  return closed;
}

/**
 * When a window's summary cannot go out from its leader (cancelled, expired), the newest delivery
 * still waiting on it takes over, so the others are not left waiting on a summary that never comes.
 * Answers the new leader, to be queued after commit.
 */
export async function promoteNextInSummary(sql: Pick<Sql, "query">, batchId: number, userId: string, channel: string): Promise<DeliveryRef | null> {
  const { rows } = await sql.query<{ trigger_id: string; user_id: string; channel: SendingChannel; priority: Priority }>(
    `UPDATE deliveries d SET status = 'queued', reason = NULL, enqueued_at = now(), updated_at = now()
       FROM triggers t
      WHERE t.id = d.trigger_id AND (d.trigger_id, d.user_id, d.channel) = (
        SELECT trigger_id, user_id, channel FROM deliveries
         WHERE batch_id = $1 AND user_id = $2 AND channel = $3 AND status = 'batched' AND reason = 'in_summary'
         ORDER BY created_at DESC, trigger_id DESC LIMIT 1 FOR UPDATE)
      RETURNING d.trigger_id, d.user_id, d.channel, t.priority`,
    [batchId, userId, channel],
  );
  const next = rows[0];
  return next ? { triggerId: next.trigger_id, userId: next.user_id, channel: next.channel, priority: next.priority } : null;
}
