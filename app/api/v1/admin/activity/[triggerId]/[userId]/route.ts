// GET /api/v1/admin/activity/{triggerId}/{userId} – the timeline of one recipient of one trigger
import { adminRoute } from "@/server/http/route-handler";
import { parsePathId, parsePathUuidOrNotFound } from "@/server/http/path-params";
import { recipientTimeline } from "@/server/channels/activity";

export const GET = adminRoute<{ triggerId: string; userId: string }>(async (_request, { params }) =>
  Response.json({ events: await recipientTimeline(parsePathUuidOrNotFound(params.triggerId, "trigger"), parsePathId("userId", params.userId)) }),
);
