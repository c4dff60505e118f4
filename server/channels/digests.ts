// Email digests: for users with a daily or weekly email frequency, routing batches their emails
// (`batched`, reason `digest`); at DIGEST_LOCAL_HOUR in the user's time zone (daily, or Mondays for
// weekly) one email lists everything that arrived since the last digest. Run by the relay process.
import { TZDate } from "@date-fns/tz";
import { env } from "@/server/env";
import { pool } from "@/server/db";
import { now } from "@/server/clock";
import { logger } from "@/server/logger";
import { resolvePreferences } from "@/server/preferences/preferences.schema";
import { sendEmail } from "@/server/channels/email-provider";
import { publicBaseUrl } from "@/server/channels/signed-links";
import { escapeHtml } from "@/server/templates/escape-html";

export type Frequency = "daily" | "weekly";

/**
 * The latest digest time at or before `at`: DIGEST_LOCAL_HOUR today (or yesterday), or on the latest
 * Monday for weekly, as wall-clock time in `timeZone` (so it stays at that hour across DST changes).
 */
export function digestBoundary(at: Date, timeZone: string, frequency: Frequency, hour = env.DIGEST_LOCAL_HOUR): Date {
  const local = new TZDate(at.getTime(), timeZone);
  let back = 0;
  if (frequency === "weekly") back = (local.getDay() + 6) % 7; // days since Monday
  for (;;) {
    const candidate = new TZDate(local.getFullYear(), local.getMonth(), local.getDate() - back, hour, 0, 0, timeZone);
    if (candidate.getTime() <= at.getTime()) return new Date(candidate.getTime());
    back += frequency === "weekly" ? 7 : 1;
  }
}

/**
 * Due when a digest boundary has passed since the last digest (or, before the first one, since the
 * oldest waiting item): the first digest waits for the next digest hour too.
 */
export function digestDue(at: Date, timeZone: string, frequency: Frequency, since: Date): boolean {
  return digestBoundary(at, timeZone, frequency).getTime() > since.getTime();
}

type Candidate = { id: string; email: string | null; name: string | null; timezone: string | null; preferences: unknown; last_digest_at: Date | null; oldest: Date };
type Item = { trigger_id: string; title: string; body: string; url: string | null; created_at: Date };

const retryAfter = new Map<string, number>();

/** Sends every digest that is due; answers how many went out. */
export async function sendDueDigests(at: Date = now()): Promise<number> {
  const { rows: candidates } = await pool.query<Candidate>(
    `SELECT u.id, u.email, u.name, u.timezone, u.preferences, u.last_digest_at, w.oldest
       FROM (SELECT user_id, min(created_at) AS oldest FROM deliveries WHERE status = 'batched' AND reason = 'digest' AND channel = 'email' GROUP BY user_id LIMIT 500) w
       JOIN users u ON u.id = w.user_id`,
  );
  let sent = 0;
  for (const user of candidates) {
    if ((retryAfter.get(user.id) ?? 0) > Date.now()) continue;
    const preferences = resolvePreferences(user.preferences);
    // Back to instant (or email off since): whatever waits goes out now in one last digest.
    const frequency: Frequency | null = preferences.emailFrequency === "instant" ? null : preferences.emailFrequency;
    const timeZone = user.timezone ?? "UTC";
    if (frequency && !digestDue(at, timeZone, frequency, user.last_digest_at ?? user.oldest)) continue;
    try {
      if (await sendDigest(user, frequency ?? "daily", at)) sent++;
    } catch (error) {
      retryAfter.set(user.id, Date.now() + 60_000);
      logger.warn({ err: (error as Error).message, userId: user.id }, "digest not sent; trying again in a minute");
    }
  }
  return sent;
}

async function sendDigest(user: Candidate, frequency: Frequency, at: Date): Promise<boolean> {
  const { rows: items } = await pool.query<Item>(
    `SELECT d.trigger_id, coalesce(n.title, t.title, t.type) AS title, coalesce(n.body, t.body, '') AS body, coalesce(n.target, t.target)->>'url' AS url, d.created_at
       FROM deliveries d JOIN triggers t ON t.id = d.trigger_id
       LEFT JOIN notifications n ON n.trigger_id = d.trigger_id AND n.user_id = d.user_id AND n.created_at = d.created_at
      WHERE d.user_id = $1 AND d.channel = 'email' AND d.status = 'batched' AND d.reason = 'digest'
      ORDER BY d.created_at LIMIT 200`,
    [user.id],
  );
  if (items.length === 0) return false;
  const ids = items.map((i) => i.trigger_id);
  if (!user.email) {
    await pool.query("UPDATE deliveries SET status = 'suppressed', reason = 'no_address', updated_at = now() WHERE user_id = $1 AND channel = 'email' AND trigger_id = ANY($2::uuid[])", [user.id, ids]);
    return false;
  }
  const base = publicBaseUrl();
  const label = frequency === "daily" ? "daily" : "weekly";
  const subject = `Your ${label} digest: ${items.length} new notification${items.length === 1 ? "" : "s"}`;
  const html =
    `<p>Hi ${escapeHtml(user.name ?? "there")},</p><p>Here is what happened since your last digest:</p><ul>` +
    items.map((i) => `<li>${i.url ? `<a href="${escapeHtml(i.url.startsWith("/") ? `${base}${i.url}` : i.url)}">${escapeHtml(i.title)}</a>` : escapeHtml(i.title)}${i.body ? `<br><span>${escapeHtml(i.body)}</span>` : ""}</li>`).join("") +
    `</ul><p><a href="${base}/notifications">Open your inbox</a> · <a href="${base}/settings/notifications">Change how often you get these</a></p>`;
  const text = `Hi ${user.name ?? "there"},\n\nHere is what happened since your last digest:\n\n${items.map((i) => `- ${i.title}${i.body ? `: ${i.body}` : ""}`).join("\n")}\n\nChange how often you get these: ${base}/settings/notifications`;
  // One key per user and digest period: a retry never sends the same digest twice.
  const period = digestBoundary(at, user.timezone ?? "UTC", frequency).toISOString();
  const result = await sendEmail({ to: user.email, subject, html, text, idempotencyKey: `digest/${user.id}/${period}`, ref: { triggerId: ids[0]!, userId: user.id }, localChannel: "digest" });
  await pool.query(
    `UPDATE deliveries SET status = 'sent', provider_id = $3, sent_at = now(), attempts = attempts + 1, updated_at = now()
      WHERE user_id = $1 AND channel = 'email' AND status = 'batched' AND reason = 'digest' AND trigger_id = ANY($2::uuid[])`,
    [user.id, ids, result.providerId],
  );
  await pool.query("UPDATE users SET last_digest_at = $2 WHERE id = $1", [user.id, at]);
  return true;
}
