// POST /api/notifications/unarchive – unarchive the caller's notifications among {ids}
import { userRoute } from "@/server/http/route-handler";
import { parseJsonBody } from "@/server/http/read-json-body";
import { idsBodySchema } from "@/server/notifications/notifications.schema";
import { changeNotificationState } from "@/server/notifications/change-notification-state";

export const POST = userRoute(async (request, { userId }) => {
  const { ids } = await parseJsonBody(request, idsBodySchema);
  const { count } = await changeNotificationState(userId, "unarchive", ids);
  return Response.json({ count });
});
