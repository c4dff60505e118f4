// GET /api/notifications/unread-count – unread and unseen counts (not archived)
import { syncBroadcasts } from "@/server/broadcasts/broadcasts";
import { userRoute } from "@/server/http/route-handler";
import { getUnreadCount } from "@/server/notifications/unread-counts";

export const dynamic = "force-dynamic";

export const GET = userRoute(async (_request, { userId }) => {
  await syncBroadcasts(userId);
  return Response.json(await getUnreadCount(userId));
});
