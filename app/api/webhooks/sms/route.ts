// POST /api/webhooks/sms – a Twilio-style callback (signed with X-Twilio-Signature): a message status
// (delivered, failed, undelivered) or an inbound message (STOP turns the sender's SMS off)
import { pool } from "@/server/db";
import { AppError } from "@/server/app-error";
import { errorResponse } from "@/server/http/route-handler";
import { readFormBody } from "@/server/http/read-form-body";
import { publicBaseUrl } from "@/server/channels/signed-links";
import { applyInboundSms, verifyTwilioSignature } from "@/server/channels/provider-webhooks";
import { advanceDelivery } from "@/server/channels/email-events";

export async function POST(request: Request): Promise<Response> {
  try {
    const form = await readFormBody(request);
    const params = new URLSearchParams([...form.entries()].map(([k, v]) => [k, String(v)]));
    if (!verifyTwilioSignature(`${publicBaseUrl()}/api/webhooks/sms`, params, request.headers.get("x-twilio-signature"))) {
      throw new AppError("unauthorized", "The request signature does not match.");
    }
    const status = params.get("MessageStatus");
    const sid = params.get("MessageSid");
    if (status && sid) {
      const { rows } = await pool.query<{ trigger_id: string; user_id: string }>("SELECT trigger_id, user_id FROM deliveries WHERE provider_id = $1 AND channel = 'sms'", [sid]);
      const delivery = rows[0];
      if (delivery && status === "delivered") await advanceDelivery(delivery.trigger_id, delivery.user_id, "sms", "delivered");
      if (delivery && (status === "failed" || status === "undelivered")) {
        await pool.query("UPDATE deliveries SET status = 'failed', reason = 'provider_error', last_error = $3, updated_at = now() WHERE trigger_id = $1 AND user_id = $2 AND channel = 'sms'", [
          delivery.trigger_id,
          delivery.user_id,
          `carrier: ${status} ${params.get("ErrorCode") ?? ""}`.trim(),
        ]);
      }
      return Response.json({ result: delivery ? status : "unknown" });
    }
    const stopped = await applyInboundSms(params.get("From") ?? "", params.get("Body") ?? "");
    return Response.json({ result: stopped > 0 ? "sms_off" : "ignored" });
  } catch (error) {
    return errorResponse(error);
  }
}
