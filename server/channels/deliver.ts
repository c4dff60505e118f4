// Sending one queued delivery (email or SMS) and recording what happened. Called by the channel
// workers for each job; safe to run again for the same delivery: a delivery that is no longer
// `queued` is skipped, and the provider gets the same idempotency key on every attempt.
import { pool } from "@/server/db";
import { logger } from "@/server/logger";
import { now } from "@/server/clock";
import { DeliveryError } from "@/server/channels/delivery-error";
import { sendEmail } from "@/server/channels/email-provider";
import { sendSms } from "@/server/channels/sms-provider";
import { suppressionOf } from "@/server/channels/provider-webhooks";
import { pushTopic, sendPush } from "@/server/channels/push-provider";
import { subscriptionsOf } from "@/server/push/subscriptions";
import type { Priority } from "@/server/notifications/notifications.schema";
import type { DeliveryJob } from "@/server/channels/channel-queues";
import { htmlToText, renderChannel, smsSegments, templatesFor, type RenderContext } from "@/server/templates/render-notification";
import type { Templates } from "@/server/types/types.schema";
import { escapeHtml } from "@/server/templates/escape-html";
import { publicBaseUrl, signLink, withTracking } from "@/server/channels/signed-links";

type Row = {
  status: string;
  attempts: number;
  created_at: Date;
  type: string;
  title: string | null;
  body: string | null;
  actor: Record<string, unknown> | null;
  target: Record<string, unknown> | null;
  data: Record<string, unknown>;
  expires_at: Date | null;
  email: string | null;
  phone: string | null;
  name: string | null;
  locale: string | null;
  timezone: string | null;
  templates: Templates | null;
  locales: Record<string, Templates> | null;
  category: string | null;
  opt_out: boolean | null;
  priority: Priority;
  notification_id: string | null;
};

export type Attempt = { attemptsMade: number; maxAttempts: number };

/** One line in the attempt log (never fails a delivery: it is a record, not a step). */
async function logAttempt(job: DeliveryJob, outcome: "sent" | "failed" | "gone", error?: string, deviceId?: string): Promise<void> {
  await pool
    .query("INSERT INTO delivery_attempts (trigger_id, user_id, channel, device_id, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)", [
      job.triggerId,
      job.userId,
      job.channel,
      deviceId ?? null,
      outcome,
      error?.slice(0, 1000) ?? null,
    ])
    .catch(() => undefined);
}
export type Outcome = "sent" | "skipped";

async function load(job: DeliveryJob): Promise<Row | null> {
  // The templates of the version the fan-out recorded, else the type's current ones.
  const { rows } = await pool.query<Row>(
    `SELECT d.status, d.attempts, d.created_at, t.type, t.title, t.body, t.actor, t.target, t.data, t.expires_at, t.priority, n.id AS notification_id,
            u.email, u.phone, u.name, u.locale, u.timezone,
            coalesce(v.templates, nt.templates) AS templates, coalesce(v.locales, nt.locales) AS locales, nt.category, nt.opt_out
       FROM deliveries d JOIN triggers t ON t.id = d.trigger_id
       LEFT JOIN users u ON u.id = d.user_id
       LEFT JOIN notification_types nt ON nt.key = t.type
       LEFT JOIN template_versions v ON v.type_key = t.type AND v.version = d.template_version
       LEFT JOIN notifications n ON n.trigger_id = d.trigger_id AND n.user_id = d.user_id AND n.created_at = d.created_at
      WHERE d.trigger_id = $1 AND d.user_id = $2 AND d.channel = $3`,
    [job.triggerId, job.userId, job.channel],
  );
  return rows[0] ?? null;
}


/** What this delivery says on its channel: the type's template, or the trigger's own title and body. */
async function content(job: DeliveryJob, row: Row) {
  const actors = row.actor ? [row.actor] : [];
  const context: RenderContext = {
    actor: row.actor,
    actors,
    actorCount: actors.length,
    target: row.target,
    data: row.data,
    recipient: { id: job.userId, name: row.name, locale: row.locale, timezone: row.timezone },
  };
  const templates = templatesFor(row.templates ?? {}, row.locales ?? {}, row.locale);
  const title = row.title ?? row.type;
  const body = row.body ?? "";
  if (job.channel === "email") {
    const rendered = row.title === null ? await renderChannel(templates, "email", context) : null;
    if (rendered) return { email: rendered.content };
    const html = `<p><strong>${escapeHtml(title)}</strong></p>${body ? `<p>${escapeHtml(body).replace(/\n/g, "<br>")}</p>` : ""}`;
    return { email: { subject: title.slice(0, 300), html, text: htmlToText(html) } };
  }
  const rendered = row.title === null ? await renderChannel(templates, "sms", context) : null;
  const text = rendered?.content.body ?? (body ? `${title}: ${body}` : title);
  return { sms: { body: text, ...smsSegments(text), maxSegments: templates.sms?.maxSegments } };
}

/**
 * Sends the delivery and records `sent`, or records the failed attempt and throws. A permanent
 * failure, or the last allowed attempt, is final: the delivery becomes `failed` and goes to the
 * dead-letter queue (the error then carries `final`).
 */
export async function deliver(job: DeliveryJob, attempt: Attempt): Promise<Outcome> {
  const row = await load(job);
  if (!row || row.status !== "queued") return "skipped";
  const key: [string, string, string] = [job.triggerId, job.userId, job.channel];
  if (row.expires_at && row.expires_at.getTime() <= now().getTime()) {
    await pool.query("UPDATE deliveries SET status = 'suppressed', reason = 'expired', updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'", key);
    return "skipped";
  }
  try {
    if (job.channel === "push") return await deliverPush(job, row);
    const address = job.channel === "email" ? row.email : row.phone;
    if (!address) throw new DeliveryError("permanent", `no ${job.channel === "email" ? "email address" : "phone number"} on file`, "no_address");
    // A hard bounce or a complaint earlier: never again to this address (until an admin lifts it).
    const suppressed = await suppressionOf(job.channel, address);
    if (suppressed) {
      await pool.query("UPDATE deliveries SET status = 'suppressed', reason = $4, updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'", [...key, suppressed]);
      return "skipped";
    }
    const rendered = await content(job, row).catch((error: unknown) => {
      throw new DeliveryError("permanent", `the template does not render: ${(error as Error).message.split("\n")[0]}`, "template_error");
    });
    const idempotencyKey = `${job.triggerId}/${job.channel}/${job.userId}`.slice(0, 256);
    const ref = { triggerId: job.triggerId, userId: job.userId };
    const result = rendered.email
      ? await sendEmail({ to: address, ...rendered.email, html: withTracking(rendered.email.html, ref), headers: unsubscribeHeaders(job, row), idempotencyKey, ref })
      : await sendSms({ to: address, body: rendered.sms!.body, maxSegments: rendered.sms!.maxSegments, idempotencyKey, ref });
    await pool.query(
      `UPDATE deliveries SET status = 'sent', reason = NULL, attempts = attempts + 1, provider_id = $4, sent_at = now(), last_error = NULL, updated_at = now()
        WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'`,
      [...key, result.providerId],
    );
    await logAttempt(job, "sent");
    return "sent";
  } catch (caught) {
    const error = caught instanceof DeliveryError ? caught : new DeliveryError("transient", (caught as Error).message);
    const final = error.kind === "permanent" || attempt.attemptsMade + 1 >= attempt.maxAttempts;
    // Push logs each device itself.
    if (job.channel !== "push") await logAttempt(job, "failed", error.message);
    await recordFailure(job, error, final);
    throw Object.assign(error, { final });
  }
}

/**
 * Push goes to every device of the user: the primary one (most recently active) rings, the others
 * get it silently. Each device's outcome is recorded; a device whose subscription is gone (404/410)
 * is removed; devices that failed for now are tried again on the next attempt, the others are not.
 */
async function deliverPush(job: DeliveryJob, row: Row): Promise<Outcome> {
  const key: [string, string, string] = [job.triggerId, job.userId, job.channel];
  const devices = await subscriptionsOf(job.userId);
  const { rows: done } = await pool.query<{ subscription_id: string; status: string }>(
    "SELECT subscription_id, status FROM device_deliveries WHERE trigger_id = $1 AND user_id = $2",
    [job.triggerId, job.userId],
  );
  const finished = new Set(done.filter((d) => d.status === "sent" || d.status === "gone").map((d) => d.subscription_id));
  let sent = done.filter((d) => d.status === "sent").length;
  if (devices.length === 0 && sent === 0) {
    await pool.query("UPDATE deliveries SET status = 'suppressed', reason = 'no_address', updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'", key);
    return "skipped";
  }
  const actors = row.actor ? [row.actor] : [];
  const context: RenderContext = { actor: row.actor, actors, actorCount: actors.length, target: row.target, data: row.data, recipient: { id: job.userId, name: row.name, locale: row.locale, timezone: row.timezone } };
  const rendered = row.title === null ? await renderChannel(templatesFor(row.templates ?? {}, row.locales ?? {}, row.locale), "push", context) : null;
  const targetUrl = typeof row.target?.url === "string" ? row.target.url : undefined;
  const content = rendered?.content ?? { title: row.title ?? row.type, body: row.body ?? "", url: targetUrl };
  const topic = pushTopic(`${job.triggerId}/${job.userId}`);
  let retry: DeliveryError | null = null;
  let refused: DeliveryError | null = null;
  for (const [index, device] of devices.entries()) {
    if (finished.has(device.id)) continue;
    const primary = index === 0;
    const record = (status: string, error?: string) =>
      pool.query(
        `INSERT INTO device_deliveries (trigger_id, user_id, subscription_id, status, attempts, last_error, "primary") VALUES ($1, $2, $3, $4, 1, $5, $6)
         ON CONFLICT (trigger_id, user_id, subscription_id) DO UPDATE SET status = excluded.status, attempts = device_deliveries.attempts + 1,
                last_error = excluded.last_error, "primary" = excluded."primary", updated_at = now()`,
        [job.triggerId, job.userId, device.id, status, error ?? null, primary],
      );
    try {
      const { gone } = await sendPush(device, { ...content, notificationId: row.notification_id ?? undefined, tag: topic, silent: !primary }, { priority: row.priority, topic, expiresAt: row.expires_at });
      if (gone) {
        await pool.query("DELETE FROM push_subscriptions WHERE id = $1", [device.id]);
        await record("gone", "the push service no longer knows this subscription");
        await logAttempt(job, "gone", "404/410 from the push service", device.id);
      } else {
        await record("sent");
        await logAttempt(job, "sent", undefined, device.id);
        sent++;
      }
    } catch (caught) {
      const error = caught instanceof DeliveryError ? caught : new DeliveryError("transient", (caught as Error).message);
      await record("failed", error.message.slice(0, 1000));
      await logAttempt(job, "failed", error.message, device.id);
      // One push service being down is no reason to hold every user's pushes: retried per delivery.
      if (error.kind === "permanent") refused = error;
      else retry = new DeliveryError("transient", error.message, error.reason, error.retryAfterMs);
    }
  }
  if (retry) throw retry;
  if (sent === 0 && refused) throw refused;
  const status = sent > 0 ? "sent" : "suppressed";
  await pool.query(
    `UPDATE deliveries SET status = $4, reason = $5, attempts = attempts + 1, sent_at = CASE WHEN $4 = 'sent' THEN now() END, last_error = NULL, updated_at = now()
      WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'`,
    [...key, status, status === "sent" ? null : "no_address"],
  );
  return status === "sent" ? "sent" : "skipped";
}

/**
 * One-click unsubscribe (RFC 8058) from this type's category by email, for types users may turn off:
 * the mail client POSTs to the signed URL and the category's email is off.
 */
function unsubscribeHeaders(job: DeliveryJob, row: Row): Record<string, string> | undefined {
  if (!row.opt_out || !row.category) return undefined;
  const url = `${publicBaseUrl()}/e/u/${signLink({ k: "unsubscribe", t: job.triggerId, u: job.userId, cat: row.category })}`;
  return { "List-Unsubscribe": `<${url}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
}

async function recordFailure(job: DeliveryJob, error: DeliveryError, final: boolean): Promise<void> {
  const key: [string, string, string] = [job.triggerId, job.userId, job.channel];
  if (!final) {
    await pool.query("UPDATE deliveries SET attempts = attempts + 1, last_error = $4, updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'", [
      ...key,
      error.message.slice(0, 1000),
    ]);
    return;
  }
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ attempts: number }>(
      `UPDATE deliveries SET status = 'failed', reason = $4, attempts = attempts + 1, last_error = $5, updated_at = now()
        WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued' RETURNING attempts`,
      [...key, error.reason, error.message.slice(0, 1000)],
    );
    if (rows[0]) {
      await client.query("INSERT INTO dead_letters (trigger_id, user_id, channel, error, attempts, payload) VALUES ($1, $2, $3, $4, $5, $6)", [
        ...key,
        error.message.slice(0, 1000),
        rows[0].attempts,
        JSON.stringify({ ...job, reason: error.reason, kind: error.kind }),
      ]);
    }
    await client.query("COMMIT");
  } catch (failure) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw failure;
  } finally {
    client.release();
  }
  logger.warn({ ...job, err: error.message, reason: error.reason }, "delivery failed for good; in the dead-letter queue");
}
