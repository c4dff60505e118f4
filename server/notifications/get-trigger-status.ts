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
  /** For a broadcast (fan-out on read): how many inboxes have merged it so far. */
  broadcast?: { recipients: number; merged: number };
  outcomes: { userId: string; channel: string; deviceId?: string; status: string; reason?: string; deliverAt?: string; at: string }[];
  nextCursor: string | null;
};

const OUTCOMES_PAGE = 1000;

function emptyCounts(): Counts {
  return Object.fromEntries(COUNT_NAMES.map((name) => [name, 0])) as Counts;
}

/** The outcomes cursor: the last (user, channel, device) of the page, opaque to clients. */
function encodeCursor(userId: string, channel: string, device: string): string {
  return Buffer.from(JSON.stringify([userId, channel, device])).toString("base64url");
}

function decodeCursor(cursor: string | undefined): [string, string, string] | null {
  if (!cursor) return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "string")) return value as [string, string, string];
  } catch {
    /* fall through */
  }
  throw new AppError("validation_failed", "Invalid cursor.", { details: [{ field: "cursor", message: "must be a nextCursor from an earlier answer" }] });
}

/**
 * A trigger's progress on every channel it names. In-app: `sent` = stored and published,
 * `delivered` = a device acknowledged, `opened` = seen, `clicked` = clicked (each counts everyone who
 * got that far); push, email and SMS: the routing decision (`queued`, `deferred` until a time,
 * `batched`, `suppressed`, with the reason) and then what their workers record. Recipients not
 * reached yet are `queued` on every channel.
 */
export async function getTriggerStatusOrThrow(triggerId: string, cursor: string | undefined): Promise<TriggerStatus> {
  const after = decodeCursor(cursor);
  const { rows } = await pool.query<{ id: string; type: string; status: string; created_at: Date; send_at: Date | null; completed_at: Date | null; recipients: number; channels: string[] }>(
    "SELECT id, type, status, created_at, send_at, completed_at, recipients, channels FROM triggers WHERE id = $1",
    [triggerId],
  );
  const trigger = rows[0];
  if (!trigger) throw new AppError("not_found", "No such trigger.");
  const [{ rows: countRows }, { rows: decided }, { rows: broadcasts }] = await Promise.all([
    pool.query<{ sent: number; delivered: number; opened: number; clicked: number }>(
      // (With the ones retention moved to cold storage: they were sent all the same.)
      `SELECT count(*)::int AS sent, count(delivered_at)::int AS delivered, count(seen_at)::int AS opened, count(clicked_at)::int AS clicked
         FROM (SELECT delivered_at, seen_at, clicked_at FROM notifications WHERE trigger_id = $1 AND created_at = $2
               UNION ALL
               SELECT delivered_at, seen_at, clicked_at FROM notifications_archive WHERE trigger_id = $1 AND created_at = $2) n`,
      [trigger.id, trigger.created_at],
    ),
    pool.query<{ channel: (typeof CHANNELS)[number]; status: (typeof COUNT_NAMES)[number]; n: number }>(
      "SELECT channel, status, count(*)::int AS n FROM deliveries WHERE trigger_id = $1 GROUP BY channel, status",
      [trigger.id],
    ),
    pool.query<{ recipients: number }>("SELECT recipients FROM broadcasts WHERE trigger_id = $1", [trigger.id]),
  ]);
  const channels = Object.fromEntries(CHANNELS.map((c) => [c, emptyCounts()])) as TriggerStatus["channels"];
  Object.assign(channels.in_app, countRows[0]);
  // A broadcast is stored once for all its recipients; each inbox merges its own copy when read.
  const broadcast = broadcasts[0] ? { recipients: broadcasts[0].recipients, merged: channels.in_app.sent } : undefined;
  if (broadcast) channels.in_app.sent = broadcast.recipients;
  for (const row of decided) if (channels[row.channel] && row.status in channels[row.channel]) channels[row.channel][row.status] += row.n;
  // A delivery records how far it got; like in-app, each count is everyone who got at least that far.
  for (const channel of ["push", "email", "sms"] as const) {
    const c = channels[channel];
    c.opened += c.clicked;
    c.delivered += c.opened;
    c.sent += c.delivered;
  }
  if (trigger.status !== "completed" && trigger.status !== "cancelled") {
    for (const channel of trigger.channels as (typeof CHANNELS)[number][]) {
      const c = channels[channel];
      const reached = channel === "in_app" ? c.sent + c.suppressed + c.failed : COUNT_NAMES.reduce((n, name) => n + (name === "delivered" || name === "opened" || name === "clicked" ? 0 : c[name]), 0);
      c.queued += Math.max(0, trigger.recipients - reached);
    }
  }
  const { rows: outcomeRows } = await pool.query<{ user_id: string; channel: string; device: string; status: string; reason: string | null; deliver_at: Date | null; at: Date }>(
    `SELECT * FROM (
       SELECT user_id, 'in_app' AS channel, '' AS device,
              CASE WHEN clicked_at IS NOT NULL THEN 'clicked' WHEN seen_at IS NOT NULL THEN 'opened'
                   WHEN delivered_at IS NOT NULL THEN 'delivered' ELSE 'sent' END AS status,
              NULL::text AS reason, NULL::timestamptz AS deliver_at, greatest(created_at, delivered_at, seen_at, clicked_at) AS at
         FROM (SELECT * FROM notifications WHERE trigger_id = $1 AND created_at = $2
               UNION ALL
               SELECT * FROM notifications_archive WHERE trigger_id = $1 AND created_at = $2) n
        WHERE ($3::text IS NULL OR user_id >= $3)
       UNION ALL
       SELECT user_id, channel, '' AS device, status, reason, deliver_at, updated_at AS at
         FROM deliveries WHERE trigger_id = $1 AND ($3::text IS NULL OR user_id >= $3)
       UNION ALL
       -- Push, device by device (a device whose subscription is gone is a failure for that device).
       SELECT dd.user_id, 'push', coalesce(ps.device_id, dd.subscription_id::text),
              CASE dd.status WHEN 'gone' THEN 'failed' WHEN 'sending' THEN 'queued' ELSE dd.status END,
              CASE dd.status WHEN 'gone' THEN 'subscription_gone' WHEN 'failed' THEN 'provider_error' END, NULL, dd.updated_at
         FROM device_deliveries dd LEFT JOIN push_subscriptions ps ON ps.id = dd.subscription_id
        WHERE dd.trigger_id = $1 AND ($3::text IS NULL OR dd.user_id >= $3)
     ) o
     WHERE $3::text IS NULL OR (user_id, channel, device) > ($3::text, $4::text, $6::text)
     ORDER BY user_id, channel, device LIMIT $5`,
    [trigger.id, trigger.created_at, after?.[0] ?? null, after?.[1] ?? "", OUTCOMES_PAGE + 1, after?.[2] ?? ""],
  );
  const page = outcomeRows.slice(0, OUTCOMES_PAGE);
  const last = page.at(-1);
  return {
    id: trigger.id,
    type: trigger.type,
    status: trigger.status,
    createdAt: trigger.created_at.toISOString(),
    sendAt: trigger.send_at?.toISOString() ?? null,
    completedAt: trigger.completed_at?.toISOString() ?? null,
    recipients: trigger.recipients,
    channels,
    ...(broadcast ? { broadcast } : {}),
    outcomes: page.map((r) => ({
      userId: r.user_id,
      channel: r.channel,
      ...(r.device ? { deviceId: r.device } : {}),
      status: r.status,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.deliver_at ? { deliverAt: r.deliver_at.toISOString() } : {}),
      at: r.at.toISOString(),
    })),
    nextCursor: outcomeRows.length > OUTCOMES_PAGE && last ? encodeCursor(last.user_id, last.channel, last.device) : null,
  };
}
