// POST /api/notifications/{id}/click – mark clicked and read
import { userRoute } from "@/server/http/route-handler";
import { parsePathUuidOrNotFound } from "@/server/http/path-params";
import { clickNotification } from "@/server/notifications/click-notification";

export const POST = userRoute<{ id: string }>(async (_request, { params, userId }) => {
  return Response.json(await clickNotification(userId, parsePathUuidOrNotFound(params.id)));
});
