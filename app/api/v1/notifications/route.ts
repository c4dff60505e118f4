// POST /api/v1/notifications – accept a trigger (durable before 202; Idempotency-Key honoured)
import { AppError } from "@/server/app-error";
import { serviceRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { triggerInputSchema } from "@/server/notifications/notifications.schema";
import { hashCanonicalJson } from "@/server/notifications/canonical-json";
import { createTrigger, findIdempotentReplay } from "@/server/notifications/create-trigger";
import { chargeRecipients, takeIngestion } from "@/server/notifications/ingestion-limits";

export const POST = serviceRoute("notify", async (request, { principal }) => {
  const key = request.headers.get("idempotency-key");
  if (key !== null && (key.length === 0 || key.length > 255)) {
    throw new AppError("validation_failed", "Idempotency-Key must be 1–255 characters.", { details: [{ field: "Idempotency-Key", message: "must be 1–255 characters" }] });
  }
  const raw = await readJsonBody(request);
  const idempotency = key === null ? undefined : { key, requestHash: hashCanonicalJson(raw) };
  if (idempotency) {
    const replay = await findIdempotentReplay(principal.keyId, idempotency.key, idempotency.requestHash);
    if (replay) return Response.json(replay.body, { status: replay.status });
  }
  const input = triggerInputSchema.parse(raw);
  // Limits come after validation (a malformed request costs nothing) and before storing.
  await takeIngestion(principal.keyId, principal.limits, Array.isArray(input.to) ? new Set(input.to).size : 0);
  const result = await createTrigger({ input, serviceKeyId: principal.keyId, idempotency });
  // Charged in the background: a Redis that does not answer must not hold up the 202.
  if (result.isNew && result.status === 202 && !Array.isArray(input.to)) void chargeRecipients(principal.keyId, principal.limits, Number(result.body.recipients ?? 0)).catch(() => undefined);
  return Response.json(result.body, { status: result.status });
});
