// Sending one queued delivery (email or SMS) and recording what happened. Called by the channel
// workers for each job; safe to run again for the same delivery: a delivery that is no longer
// `queued` is skipped, and the provider gets the same idempotency key on every attempt.
import { countMetric, observeMetric } from "@/server/metrics/metrics";
import { pool } from "@/server/db";
import { signalAdminActivity } from "@/server/realtime/publish";
import { logger } from "@/server/logger";
import { now } from "@/server/clock";
import { DeliveryError } from "@/server/channels/delivery-error";
import { sendEmail } from "@/server/channels/email-provider";
import { sendSms } from "@/server/channels/sms-provider";
import { suppressionOf } from "@/server/channels/provider-webhooks";
import { pushTopic, sendPush } from "@/server/channels/push-provider";
import { subscriptionsOf } from "@/server/push/subscriptions";
import type { Priority } from "@/server/notifications/notifications.schema";
import { enqueueDeliveries, type DeliveryJob } from "@/server/channels/channel-queues";
import { promoteNextInSummary } from "@/server/channels/batch-windows";
import { channelReads, htmlToText, renderChannel, smsSegments, templatesFor, type RenderContext } from "@/server/templates/render-notification";
import { groupKey, MAX_ACTORS, type Actor, type GroupSource } from "@/server/aggregation/aggregate";
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
  batch_id: number | null;
  aggregate: { window: string; key?: string } | null;
};

export type Attempt = { attemptsMade: number; maxAttempts: number };

/** One line in the attempt log (never fails a delivery: it is a record, not a step). */
async function logAttempt(job: DeliveryJob, outcome: "sent" | "failed" | "gone", error?: string, deviceId?: string, acceptedAt?: Date): Promise<void> {
  countMetric("notify_deliveries_total", { channel: job.channel, outcome });
  if (outcome === "sent" && acceptedAt) observeMetric("notify_trigger_to_provider_seconds", { channel: job.channel }, (Date.now() - acceptedAt.getTime()) / 1000);
  await pool
    .query("INSERT INTO delivery_attempts (trigger_id, user_id, channel, device_id, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)", [
      job.triggerId,
      job.userId,
      job.channel,
      deviceId ?? null,
      outcome,
      error?.slice(0, 1000) ?? null,
    ])
    .then(() => signalAdminActivity())
    .catch(() => undefined);
}
export type Outcome = "sent" | "skipped";

async function load(job: DeliveryJob): Promise<Row | null> {
  // The templates of the version the fan-out recorded, else the type's current ones.
  const { rows } = await pool.query<Row>(
    `SELECT d.status, d.attempts, d.created_at, d.batch_id, t.type, t.title, t.body, t.actor, t.target, t.data, t.expires_at, t.priority, n.id AS notification_id,
            u.email, u.phone, u.name, u.locale, u.timezone,
            coalesce(v.templates, nt.templates) AS templates, coalesce(v.locales, nt.locales) AS locales, nt.category, nt.opt_out, nt.aggregate
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


type Summary = { items: NonNullable<RenderContext["batch"]>; actors: Actor[]; actorCount: number };

/**
 * The other deliveries of this delivery's batching window, when it sends a window's summary: every
 * event in it (newest first, this one included), and their distinct actors.
 */
async function summaryOf(job: DeliveryJob, row: Row): Promise<Summary | null> {
  if (row.batch_id === null) return null;
  const { rows } = await pool.query<{ title: string | null; body: string | null; actor: Actor | null; target: Record<string, unknown> | null; data: Record<string, unknown> }>(
    `SELECT coalesce(n.title, t.title) AS title, coalesce(n.body, t.body) AS body, t.actor, t.target, t.data
       FROM deliveries d JOIN triggers t ON t.id = d.trigger_id
       LEFT JOIN notifications n ON n.trigger_id = d.trigger_id AND n.user_id = d.user_id AND n.created_at = d.created_at
      WHERE d.batch_id = $1 AND d.user_id = $2 AND d.channel = $3 AND (d.reason = 'in_summary' OR d.trigger_id = $4)
      ORDER BY d.created_at DESC, d.trigger_id DESC LIMIT 100`,
    [row.batch_id, job.userId, job.channel, job.triggerId],
  );
  if (rows.length <= 1) return null;
  const seen = new Set<string>();
  const actors: Actor[] = [];
  for (const r of rows) {
    if (!r.actor || seen.has(r.actor.id)) continue;
    seen.add(r.actor.id);
    actors.push(r.actor);
  }
  return {
    items: rows.map((r) => ({ title: r.title ?? row.type, body: r.body ?? "", actor: r.actor, target: r.target, data: r.data })),
    actors: actors.slice(0, MAX_ACTORS),
    actorCount: actors.length,
  };
}

function contextOf(job: DeliveryJob, row: Row, summary: Summary | null): RenderContext {
  const actors = summary?.actors ?? (row.actor ? [row.actor] : []);
  return {
    actor: row.actor,
    actors,
    actorCount: summary?.actorCount ?? actors.length,
    target: row.target,
    data: row.data,
    recipient: { id: job.userId, name: row.name, locale: row.locale, timezone: row.timezone },
    ...(summary ? { batchCount: summary.items.length, batch: summary.items } : {}),
  };
}

/**
 * What this delivery says on its channel: the type's template, or the trigger's own title and body.
 * A window's summary renders the newest event's template over all the window's actors, with
 * `batchCount` and `batch`; a template that does not read them gets "(+2 more)" and, in email, the
 * list of the other events.
 */
async function content(job: DeliveryJob, row: Row) {
  const summary = await summaryOf(job, row);
  const context = contextOf(job, row, summary);
  const templates = templatesFor(row.templates ?? {}, row.locales ?? {}, row.locale);
  const title = row.title ?? row.type;
  const body = row.body ?? "";
  if (job.channel === "email") {
    const rendered = row.title === null ? await renderChannel(templates, "email", context) : null;
    const html = `<p><strong>${escapeHtml(title)}</strong></p>${body ? `<p>${escapeHtml(body).replace(/\n/g, "<br>")}</p>` : ""}`;
    const email = rendered?.content ?? { subject: title.slice(0, 300), html, text: htmlToText(html) };
    if (!summary || (rendered && channelReads(templates, "email", ["batchCount", "batch"]))) return { email };
    const others = summary.items.slice(1);
    const more = ` (+${others.length} more)`;
    return {
      email: {
        subject: `${email.subject.slice(0, 300 - more.length)}${more}`,
        html: `${email.html}<hr><p>Also since then:</p><ul>${others.map((i) => `<li>${escapeHtml(i.title)}${i.body ? `<br><span>${escapeHtml(i.body)}</span>` : ""}</li>`).join("")}</ul>`,
        text: `${email.text}\n\nAlso since then:\n${others.map((i) => `- ${i.title}${i.body ? `: ${i.body}` : ""}`).join("\n")}`,
      },
    };
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
    // The window's other events may still be current: the newest of them sends the summary.
    if (row.batch_id !== null) {
      const next = await promoteNextInSummary(pool, row.batch_id, job.userId, job.channel);
      if (next) await enqueueDeliveries([next]).catch(() => undefined);
    }
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
      await settleSummary(job, row.batch_id, "suppressed");
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
    // The attempt is logged first: whoever sees the delivery `sent` finds its attempt in the log.
    await logAttempt(job, "sent", undefined, undefined, row.created_at);
    await pool.query(
      `UPDATE deliveries SET status = 'sent', reason = NULL, attempts = attempts + 1, provider_id = $4, sent_at = now(), last_error = NULL, updated_at = now()
        WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'`,
      [...key, result.providerId],
    );
    await settleSummary(job, row.batch_id, "sent", result.providerId);
    return "sent";
  } catch (caught) {
    const error = caught instanceof DeliveryError ? caught : new DeliveryError("transient", (caught as Error).message);
    const final = error.kind === "permanent" || attempt.attemptsMade + 1 >= attempt.maxAttempts;
    // Push logs each device itself.
    if (job.channel !== "push") await logAttempt(job, "failed", error.message);
    await recordFailure(job, error, final);
    if (final) await settleSummary(job, row.batch_id, "failed");
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
  // Devices an earlier attempt was sending to when its process died: the push may have gone out
  // (web push has no idempotency key). Sent again, marked as a repeat; the service worker shows a
  // delivery it has shown before only once (public/sw.js), so the device still rings once.
  const inDoubt = new Set(done.filter((d) => d.status === "sending").map((d) => d.subscription_id));
  let sent = done.filter((d) => d.status === "sent").length;
  if (devices.length === 0 && sent === 0) {
    await pool.query("UPDATE deliveries SET status = 'suppressed', reason = 'no_address', updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 AND status = 'queued'", key);
    await settleSummary(job, row.batch_id, "suppressed");
    return "skipped";
  }
  const summary = await summaryOf(job, row);
  const templates = templatesFor(row.templates ?? {}, row.locales ?? {}, row.locale);
  const rendered = row.title === null ? await renderChannel(templates, "push", contextOf(job, row, summary)) : null;
  const targetUrl = typeof row.target?.url === "string" ? row.target.url : undefined;
  let content = rendered?.content ?? { title: row.title ?? row.type, body: row.body ?? "", url: targetUrl };
  if (summary && !(rendered && channelReads(templates, "push", ["batchCount", "batch"]))) content = { ...content, title: `${content.title} (+${summary.items.length - 1} more)` };
  // One Topic (and device tag) per aggregation group: a newer push replaces an older one not yet
  // delivered, and the one shown on the device. Otherwise one per notification.
  const topic = pushTopic(row.aggregate ? `${row.type}|${groupKey(row as unknown as GroupSource, row.aggregate.key)}/${job.userId}` : `${job.triggerId}/${job.userId}`);
  let retry: DeliveryError | null = null;
  let refused: DeliveryError | null = null;
  for (const [index, device] of devices.entries()) {
    if (finished.has(device.id)) continue;
    const primary = index === 0;
    // 'sending' before the request counts the attempt; its outcome replaces it.
    const record = (status: string, error?: string) =>
      pool.query(
        `INSERT INTO device_deliveries (trigger_id, user_id, subscription_id, status, attempts, last_error, "primary") VALUES ($1, $2, $3, $4, 1, $5, $6)
         ON CONFLICT (trigger_id, user_id, subscription_id) DO UPDATE SET status = excluded.status,
                attempts = device_deliveries.attempts + CASE WHEN excluded.status = 'sending' THEN 1 ELSE 0 END,
                last_error = excluded.last_error, "primary" = excluded."primary", updated_at = now()`,
        [job.triggerId, job.userId, device.id, status, error ?? null, primary],
      );
    try {
      await record("sending");
      const payload = { ...content, notificationId: row.notification_id ?? undefined, tag: topic, silent: !primary, delivery: `${job.triggerId}/${job.userId}`, ...(inDoubt.has(device.id) ? { repeat: true } : {}) };
      const { gone } = await sendPush(device, payload, { priority: row.priority, topic, expiresAt: row.expires_at });
      if (gone) {
        await pool.query("DELETE FROM push_subscriptions WHERE id = $1", [device.id]);
        await record("gone", "the push service no longer knows this subscription");
        await logAttempt(job, "gone", "404/410 from the push service", device.id);
      } else {
        await record("sent");
        await logAttempt(job, "sent", undefined, device.id, row.created_at);
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
  await settleSummary(job, row.batch_id, status);
  return status === "sent" ? "sent" : "skipped";
}

/**
 * The other deliveries of a window's summary share its outcome (and provider id, so the provider's
 * delivered/opened events reach them too). A replayed summary that succeeds later settles them again.
 */
async function settleSummary(job: DeliveryJob, batchId: number | null, status: "sent" | "failed" | "suppressed", providerId?: string): Promise<void> {
  if (batchId === null) return;
  await pool.query(
    `UPDATE deliveries SET status = $5, provider_id = coalesce($6, provider_id), sent_at = CASE WHEN $5 = 'sent' THEN now() END, updated_at = now()
      WHERE batch_id = $1 AND user_id = $2 AND channel = $3 AND reason = 'in_summary' AND trigger_id <> $4 AND status <> 'sent'`,
    [batchId, job.userId, job.channel, job.triggerId, status, providerId ?? null],
  );
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
