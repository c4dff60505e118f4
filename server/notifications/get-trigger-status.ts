import { AppError } from "@/server/app-error";
import { pool } from "@/server/db";

const CHANNELS = ["in_app", "push", "email", "sms"] as const;
const COUNT_NAMES = ["queued", "deferred", "batched", "sent", "delivered", "opened", "clicked", "failed", "suppressed"] as const;
type Counts = Record<(typeof COUNT_NAMES)[number], number>;

export type TriggerStatus = {
  id: string;
  type: string;
  status: string;
  createdAt: string;
  sendAt: string | null;
  completedAt: string | null;
  recipients: number;
  channels: Record<(typeof CHANNELS)[number], Counts>;
  outcomes: { userId: string; channel: string; status: string; reason?: string; at: string }[];
  nextCursor: string | null;
};

const OUTCOMES_PAGE = 1000;

function emptyCounts(): Counts {
  return Object.fromEntries(COUNT_NAMES.map((name) => [name, 0])) as Counts;
}

/**
 * A trigger's progress. In-app: `sent` = stored and published, `delivered` = a device acknowledged,
 * `opened` = seen, `clicked` = clicked; recipients not yet materialised are `queued`. Each in-app
 * outcome is the furthest state that recipient reached. Push, email and SMS arrive with their channels.
 */
export async function getTriggerStatusOrThrow(triggerId: string, cursor: string | undefined): Promise<TriggerStatus> {
  const { rows } = await pool.query<{ id: string; type: string; status: string; created_at: Date; send_at: Date | null; completed_at: Date | null; recipients: number }>(
    "SELECT id, type, status, created_at, send_at, completed_at, recipients FROM triggers WHERE id = $1",
    [triggerId],
  );
  const trigger = rows[0];
  if (!trigger) throw new AppError("not_found", "No such trigger.");
  const { rows: countRows } = await pool.query<{ sent: number; delivered: number; opened: number; clicked: number }>(
    `SELECT count(*)::int AS sent, count(delivered_at)::int AS delivered, count(seen_at)::int AS opened, count(clicked_at)::int AS clicked
       FROM notifications WHERE trigger_id = $1 AND created_at = $2`,
    [trigger.id, trigger.created_at],
  );
  const inApp = { ...emptyCounts(), ...countRows[0] };
  if (trigger.status !== "completed" && trigger.status !== "cancelled") inApp.queued = Math.max(0, trigger.recipients - inApp.sent);
  const { rows: outcomeRows } = await pool.query<{ user_id: string; status: string; at: Date }>(
    `SELECT user_id,
            CASE WHEN clicked_at IS NOT NULL THEN 'clicked' WHEN seen_at IS NOT NULL THEN 'opened'
                 WHEN delivered_at IS NOT NULL THEN 'delivered' ELSE 'sent' END AS status,
            greatest(created_at, delivered_at, seen_at, clicked_at) AS at
       FROM notifications WHERE trigger_id = $1 AND created_at = $2 AND ($3::text IS NULL OR user_id > $3)
      ORDER BY user_id LIMIT $4`,
    [trigger.id, trigger.created_at, cursor ?? null, OUTCOMES_PAGE + 1],
  );
  const page = outcomeRows.slice(0, OUTCOMES_PAGE);
  return {
    id: trigger.id,
    type: trigger.type,
    status: trigger.status,
    createdAt: trigger.created_at.toISOString(),
    sendAt: trigger.send_at?.toISOString() ?? null,
    completedAt: trigger.completed_at?.toISOString() ?? null,
    recipients: trigger.recipients,
    channels: { in_app: inApp, push: emptyCounts(), email: emptyCounts(), sms: emptyCounts() },
    outcomes: page.map((r) => ({ userId: r.user_id, channel: "in_app", status: r.status, at: r.at.toISOString() })),
    nextCursor: outcomeRows.length > OUTCOMES_PAGE ? (page.at(-1)?.user_id ?? null) : null,
  };
}
