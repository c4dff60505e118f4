// POST /api/notifications/read-all – mark every notification of the caller read (one change)
import { syncBroadcasts } from "@/server/broadcasts/broadcasts";
import { userRoute } from "@/server/http/route-handler";
import { markAllNotificationsRead } from "@/server/notifications/change-notification-state";

export const POST = userRoute(async (_request, { userId }) => {
  await syncBroadcasts(userId);
  const { count } = await markAllNotificationsRead(userId);
  return Response.json({ count });
});
