// Sending one email: through the Resend SDK when RESEND_API_KEY is set (RESEND_BASE_URL points it at
// any compatible server), else into the local outbox that admins read in the dashboard.
import { Resend } from "resend";
import { env } from "@/server/env";
import { pool } from "@/server/db";
import { classifyHttpFailure, DeliveryError } from "@/server/channels/delivery-error";

export type Email = {
  to: string;
  subject: string;
  html: string;
  text: string;
  headers?: Record<string, string>;
  /** The same key for every attempt of one delivery: the provider sends it once. */
  idempotencyKey: string;
  /** Where the local outbox files it. */
  ref: { triggerId: string; userId: string };
  /** The local outbox's channel label (`digest` for digests). */
  localChannel?: string;
};

export type SendResult = { providerId: string };

export const DEFAULT_EMAIL_FROM = "Notify <notify@localhost>";

let resend: Resend | null = null;
function client(): Resend {
  resend ??= new Resend(env.RESEND_API_KEY, env.RESEND_BASE_URL ? { baseUrl: env.RESEND_BASE_URL.replace(/\/$/, "") } : undefined);
  return resend;
}

export function emailProviderName(): "resend" | "local" {
  return env.RESEND_API_KEY ? "resend" : "local";
}

export async function sendEmail(email: Email): Promise<SendResult> {
  if (!env.RESEND_API_KEY) return sendToLocalOutbox(email);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeliveryError("transient", `the provider did not answer within ${env.PROVIDER_TIMEOUT_MS} ms`)), env.PROVIDER_TIMEOUT_MS);
  });
  // A call that times out may still be sent by the provider: the retry carries the same idempotency
  // key, so the provider answers it without sending again.
  const { data, error, headers } = await Promise.race([
    client().emails.send(
      { from: env.EMAIL_FROM ?? DEFAULT_EMAIL_FROM, to: [email.to], subject: email.subject, html: email.html, text: email.text, headers: email.headers },
      { idempotencyKey: email.idempotencyKey },
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
  if (error || !data) {
    const status = error && "statusCode" in error && typeof error.statusCode === "number" ? error.statusCode : null;
    throw classifyHttpFailure(status, error?.message ?? "no answer", headers?.["retry-after"]);
  }
  return { providerId: data.id };
}

/** Development: stored, readable in /admin; one row per delivery however often it is retried. */
async function sendToLocalOutbox(email: Email): Promise<SendResult> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO local_outbox (trigger_id, user_id, channel, recipient, subject, html, text) VALUES ($1, $2, $7, $3, $4, $5, $6)
     ON CONFLICT (trigger_id, user_id, channel) DO UPDATE SET recipient = excluded.recipient RETURNING id`,
    [email.ref.triggerId, email.ref.userId, email.to, email.subject, email.html, email.text, email.localChannel ?? "email"],
  );
  return { providerId: `local:${rows[0]!.id}` };
}
