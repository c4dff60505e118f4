// Provider feedback. Email: Resend's webhooks, signed the Svix way (`svix-id`, `svix-timestamp`,
// `svix-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the base64 secret after
// `whsec_`); a timestamp more than 5 minutes off, or an id seen before, is a replay and refused.
// A delivered event moves the email on; a hard bounce or a complaint fails it and puts the address
// on the suppression list. SMS: an inbound STOP turns that user's SMS off.
import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "@/server/app-error";
import { env } from "@/server/env";
import { pool } from "@/server/db";
import { getRedis, redisKey } from "@/server/redis";
import { logger } from "@/server/logger";
import { advanceEmail } from "@/server/channels/email-events";
import { updatePreferences } from "@/server/preferences/user-preferences";

const TOLERANCE_SECONDS = 5 * 60;

/** Checks a Svix-style signature; throws 401 (bad or missing) or 409 (a replay). */
export async function verifySvixSignature(secret: string | undefined, headers: Headers, body: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<void> {
  if (!secret) throw new AppError("unauthorized", "Webhooks are not configured (RESEND_WEBHOOK_SECRET).");
  const id = headers.get("svix-id");
  const timestamp = headers.get("svix-timestamp");
  const signatures = headers.get("svix-signature");
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) throw new AppError("unauthorized", "Missing webhook signature headers.");
  if (Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) throw new AppError("unauthorized", "The webhook timestamp is too old or in the future.");
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = Buffer.from(createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64"));
  const valid = signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    const given = Buffer.from(signature ?? "");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid) throw new AppError("unauthorized", "The webhook signature does not match.");
  // Each message once: a replayed (validly signed) message is refused.
  const fresh = await getRedis().set(redisKey("webhook-seen", id), "1", "EX", TOLERANCE_SECONDS * 2, "NX");
  if (fresh !== "OK") throw new AppError("conflict", "This webhook message was already received.");
}

type ResendEvent = { type?: string; data?: { email_id?: string; to?: string[]; bounce?: { type?: string } } };

/** Applies one Resend event; answers what it did (for the logs and the tests). */
export async function applyEmailEvent(event: ResendEvent): Promise<string> {
  const providerId = event.data?.email_id;
  if (!providerId) return "ignored";
  const { rows } = await pool.query<{ trigger_id: string; user_id: string; email: string | null }>(
    "SELECT d.trigger_id, d.user_id, u.email FROM deliveries d LEFT JOIN users u ON u.id = d.user_id WHERE d.provider_id = $1 AND d.channel = 'email'",
    [providerId],
  );
  const delivery = rows[0];
  if (!delivery) return "unknown";
  const address = event.data?.to?.[0] ?? delivery.email;
  switch (event.type) {
    case "email.delivered":
      await advanceEmail(delivery.trigger_id, delivery.user_id, "delivered");
      return "delivered";
    case "email.bounced":
    case "email.complained": {
      const reason = event.type === "email.bounced" ? "bounced" : "complained";
      // A soft (transient) bounce is not a reason to stop writing to the address.
      if (reason === "bounced" && event.data?.bounce?.type && !/permanent|hard/i.test(event.data.bounce.type)) return "soft_bounce";
      await pool.query("UPDATE deliveries SET status = 'failed', reason = $3, updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = 'email'", [
        delivery.trigger_id,
        delivery.user_id,
        reason,
      ]);
      if (address) await pool.query("INSERT INTO suppressions (channel, address, reason) VALUES ('email', lower($1), $2) ON CONFLICT DO NOTHING", [address, reason]);
      logger.info({ providerId, reason }, "email address suppressed");
      return reason;
    }
    default:
      return "ignored";
  }
}

/** Whether an address is on the suppression list, and why. */
export async function suppressionOf(channel: "email" | "sms", address: string): Promise<string | null> {
  const { rows } = await pool.query<{ reason: string }>("SELECT reason FROM suppressions WHERE channel = $1 AND address = lower($2)", [channel, address]);
  return rows[0]?.reason ?? null;
}

/** An inbound SMS: STOP (and its usual synonyms) turns SMS off for the users with that number. */
export async function applyInboundSms(from: string, body: string): Promise<number> {
  if (!/^\s*(stop|stopall|unsubscribe|cancel|end|quit)\s*$/i.test(body)) return 0;
  const { rows } = await pool.query<{ id: string }>("SELECT id FROM users WHERE phone = $1", [from]);
  for (const { id } of rows) await updatePreferences(id, { channels: { sms: false } });
  return rows.length;
}

/**
 * A Twilio-style request signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL
 * followed by every form parameter name and value in name order.
 */
export function verifyTwilioSignature(url: string, params: URLSearchParams, signature: string | null): boolean {
  if (!env.SMS_AUTH_TOKEN || !signature) return false;
  const data = url + [...params.keys()].sort().map((k) => `${k}${params.get(k)}`).join("");
  const expected = Buffer.from(createHmac("sha1", env.SMS_AUTH_TOKEN).update(data).digest("base64"));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
