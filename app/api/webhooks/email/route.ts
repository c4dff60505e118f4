// POST /api/webhooks/email – Resend's webhook: delivered, bounced, complained (Svix-signed; replays refused)
import { env } from "@/server/env";
import { errorResponse } from "@/server/http/route-handler";
import { readBodyBytes } from "@/server/http/read-body-bytes";
import { AppError } from "@/server/app-error";
import { applyEmailEvent, verifySvixSignature } from "@/server/channels/provider-webhooks";

export async function POST(request: Request): Promise<Response> {
  try {
    const body = (await readBodyBytes(request)).toString("utf8");
    await verifySvixSignature(env.RESEND_WEBHOOK_SECRET, request.headers, body);
    let event: unknown;
    try {
      event = JSON.parse(body);
    } catch {
      throw new AppError("invalid_json", "The webhook body is not JSON.");
    }
    return Response.json({ result: await applyEmailEvent(event as Parameters<typeof applyEmailEvent>[0]) });
  } catch (error) {
    return errorResponse(error);
  }
}
