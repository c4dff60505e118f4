// Sending one SMS through a Twilio-style REST API (POST {SMS_BASE_URL}/2010-04-01/Accounts/{SID}/Messages.json,
// form-encoded To/From/Body, basic auth), no vendor SDK needed; without credentials, into the local outbox.
import { env } from "@/server/env";
import { pool } from "@/server/db";
import { DeliveryError, classifyHttpFailure } from "@/server/channels/delivery-error";
import { smsSegments } from "@/server/templates/render-notification";
import type { SendResult } from "@/server/channels/email-provider";

export type Sms = { to: string; body: string; maxSegments?: number; idempotencyKey: string; ref: { triggerId: string; userId: string } };

/** At most this many segments per message: a longer body is cut, with an ellipsis. */
export const SMS_MAX_SEGMENTS = 3;

export const isE164 = (phone: string) => /^\+[1-9]\d{6,14}$/.test(phone);

/**
 * The body cut to fit `maxSegments`, on a character boundary, ending in "..." when cut ("…" for a
 * body that is UCS-2 anyway: "…" is not in the GSM alphabet and would halve the budget).
 */
export function fitSegments(body: string, maxSegments = SMS_MAX_SEGMENTS): string {
  const measured = smsSegments(body);
  if (measured.segments <= maxSegments) return body;
  const suffix = measured.encoding === "GSM-7" ? "..." : "…";
  const chars = [...body];
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (smsSegments(`${chars.slice(0, mid).join("").trimEnd()}${suffix}`).segments <= maxSegments) low = mid;
    else high = mid - 1;
  }
  return `${chars.slice(0, low).join("").trimEnd()}${suffix}`;
}

export function smsProviderName(): "http" | "local" {
  return env.SMS_BASE_URL && env.SMS_ACCOUNT_SID && env.SMS_AUTH_TOKEN ? "http" : "local";
}

export async function sendSms(sms: Sms): Promise<SendResult> {
  if (!isE164(sms.to)) throw new DeliveryError("permanent", `"${sms.to}" is not an E.164 phone number`, "invalid_address");
  const body = fitSegments(sms.body, sms.maxSegments ?? SMS_MAX_SEGMENTS);
  if (smsProviderName() === "local") {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO local_outbox (trigger_id, user_id, channel, recipient, text) VALUES ($1, $2, 'sms', $3, $4)
       ON CONFLICT (trigger_id, user_id, channel) DO UPDATE SET recipient = excluded.recipient RETURNING id`,
      [sms.ref.triggerId, sms.ref.userId, sms.to, body],
    );
    return { providerId: `local:${rows[0]!.id}` };
  }
  const url = `${env.SMS_BASE_URL!.replace(/\/$/, "")}/2010-04-01/Accounts/${encodeURIComponent(env.SMS_ACCOUNT_SID!)}/Messages.json`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${env.SMS_ACCOUNT_SID}:${env.SMS_AUTH_TOKEN}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
        "i-twilio-idempotency-token": sms.idempotencyKey,
      },
      body: new URLSearchParams({ To: sms.to, From: env.SMS_FROM ?? "", Body: body }),
      signal: AbortSignal.timeout(env.PROVIDER_TIMEOUT_MS),
    });
  } catch (error) {
    throw classifyHttpFailure(null, (error as Error).message);
  }
  const answer = (await response.json().catch(() => null)) as { sid?: string; message?: string } | null;
  if (!response.ok || !answer?.sid) throw classifyHttpFailure(response.ok ? 502 : response.status, answer?.message ?? response.statusText, response.headers.get("retry-after"));
  return { providerId: answer.sid };
}
