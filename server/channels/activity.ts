// The admin activity view: recent triggers, and for one recipient of one trigger the timeline of
// everything that happened, on every channel and device.
import { AppError } from "@/server/app-error";
import { pool } from "@/server/db";

export type TimelineEvent = { at: string; channel: string; event: string; detail?: string };

export async function recentTriggers(limit = 50) {
  const { rows } = await pool.query<{ id: string; type: string; status: string; recipients: number; channels: string[]; created_at: Date; completed_at: Date | null }>(
    "SELECT id, type, status, recipients, channels, created_at, completed_at FROM triggers ORDER BY created_at DESC LIMIT $1",
    [limit],
  );
  return rows.map((r) => ({ id: r.id, type: r.type, status: r.status, recipients: r.recipients, channels: r.channels, createdAt: r.created_at.toISOString(), completedAt: r.completed_at?.toISOString() ?? null }));
}

export async function recipientTimeline(triggerId: string, userId: string): Promise<TimelineEvent[]> {
  const { rows: triggers } = await pool.query<{ type: string; created_at: Date; completed_at: Date | null; send_at: Date | null; status: string; template_version: number | null }>(
    "SELECT type, created_at, completed_at, send_at, status, template_version FROM triggers WHERE id = $1",
    [triggerId],
  );
  const trigger = triggers[0];
  if (!trigger) throw new AppError("not_found", "No such trigger.");
  const events: TimelineEvent[] = [];
  const add = (at: Date | null, channel: string, event: string, detail?: string) => {
    if (at) events.push({ at: at.toISOString(), channel, event, ...(detail ? { detail } : {}) });
  };
  add(trigger.created_at, "trigger", "accepted", `${trigger.type}${trigger.template_version ? `, template v${trigger.template_version}` : ""}${trigger.send_at ? `, scheduled for ${trigger.send_at.toISOString()}` : ""}`);
  add(trigger.completed_at, "trigger", trigger.status === "cancelled" ? "cancelled" : "fanned out");
  const { rows: notes } = await pool.query<{ id: string; created_at: Date; delivered_at: Date | null; seen_at: Date | null; read_at: Date | null; clicked_at: Date | null; archived_at: Date | null }>(
    "SELECT id, created_at, delivered_at, seen_at, read_at, clicked_at, archived_at FROM notifications WHERE trigger_id = $1 AND user_id = $2 AND created_at = $3",
    [triggerId, userId, trigger.created_at],
  );
  const note = notes[0];
  if (note) {
    add(note.created_at, "in_app", "stored and published", `notification ${note.id}`);
    add(note.delivered_at, "in_app", "acknowledged by a device");
    add(note.seen_at, "in_app", "seen");
    add(note.read_at, "in_app", "read");
    add(note.clicked_at, "in_app", "clicked");
    add(note.archived_at, "in_app", "archived");
  }
  const { rows: deliveries } = await pool.query<{ channel: string; status: string; reason: string | null; deliver_at: Date | null; attempts: number; last_error: string | null; provider_id: string | null; sent_at: Date | null; updated_at: Date }>(
    "SELECT channel, status, reason, deliver_at, attempts, last_error, provider_id, sent_at, updated_at FROM deliveries WHERE trigger_id = $1 AND user_id = $2 ORDER BY channel",
    [triggerId, userId],
  );
  for (const d of deliveries) {
    if (d.deliver_at) add(trigger.completed_at ?? trigger.created_at, d.channel, "deferred", `until ${d.deliver_at.toISOString()}`);
    add(d.sent_at, d.channel, "sent", `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}${d.provider_id ? `, provider id ${d.provider_id}` : ""}`);
    add(d.updated_at, d.channel, d.status, [d.reason, d.last_error && d.status !== "sent" ? `last error: ${d.last_error}` : null, d.attempts && !d.sent_at ? `${d.attempts} attempts` : null].filter(Boolean).join("; ") || undefined);
  }
  const { rows: devices } = await pool.query<{ subscription_id: string; status: string; attempts: number; last_error: string | null; primary: boolean; updated_at: Date }>(
    'SELECT subscription_id, status, attempts, last_error, "primary", updated_at FROM device_deliveries WHERE trigger_id = $1 AND user_id = $2',
    [triggerId, userId],
  );
  for (const d of devices) add(d.updated_at, "push", `device ${d.subscription_id.slice(0, 8)}: ${d.status}`, [d.primary ? "primary (with sound)" : "silent", `${d.attempts} attempt(s)`, d.last_error].filter(Boolean).join("; "));
  const { rows: attempts } = await pool.query<{ channel: string; device_id: string | null; outcome: string; error: string | null; at: Date }>(
    "SELECT channel, device_id, outcome, error, at FROM delivery_attempts WHERE trigger_id = $1 AND user_id = $2 ORDER BY id",
    [triggerId, userId],
  );
  for (const a of attempts) add(a.at, a.channel, `attempt: ${a.outcome}`, [a.device_id ? `device ${a.device_id.slice(0, 8)}` : null, a.error].filter(Boolean).join("; ") || undefined);
  const { rows: dead } = await pool.query<{ channel: string; error: string; created_at: Date; replayed_at: Date | null }>(
    "SELECT channel, error, created_at, replayed_at FROM dead_letters WHERE trigger_id = $1 AND user_id = $2",
    [triggerId, userId],
  );
  for (const d of dead) {
    add(d.created_at, d.channel, "dead-lettered", d.error);
    add(d.replayed_at, d.channel, "replayed");
  }
  return events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}
