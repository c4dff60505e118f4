// GET /api/v1/notifications/{id} – a trigger's status and per-recipient outcomes
// DELETE /api/v1/notifications/{id} – cancel what is not sent yet and recall it from inboxes
import { serviceRoute } from "@/server/http/route-handler";
import { parsePathUuidOrNotFound } from "@/server/http/path-params";
import { getTriggerStatusOrThrow } from "@/server/notifications/get-trigger-status";
import { cancelTrigger } from "@/server/notifications/cancel-trigger";

export const GET = serviceRoute<{ id: string }>("notify", async (request, { params }) => {
  const id = parsePathUuidOrNotFound(params.id, "trigger");
  const cursor = new URL(request.url).searchParams.get("cursor") ?? undefined;
  return Response.json(await getTriggerStatusOrThrow(id, cursor));
});

export const DELETE = serviceRoute<{ id: string }>("notify", async (_request, { params }) => {
  const id = parsePathUuidOrNotFound(params.id, "trigger");
  return Response.json(await cancelTrigger(id));
});
