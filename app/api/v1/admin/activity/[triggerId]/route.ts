// GET /api/v1/admin/activity/{triggerId} – a trigger's status (counts per channel, outcomes) for the dashboard
import { adminRoute } from "@/server/http/route-handler";
import { parsePathUuidOrNotFound } from "@/server/http/path-params";
import { getTriggerStatusOrThrow } from "@/server/notifications/get-trigger-status";

export const GET = adminRoute<{ triggerId: string }>(async (request, { params }) => {
  const cursor = new URL(request.url).searchParams.get("cursor") ?? undefined;
  return Response.json(await getTriggerStatusOrThrow(parsePathUuidOrNotFound(params.triggerId, "trigger"), cursor));
});
