// GET /api/notifications – a page of the caller's inbox
import { syncBroadcasts } from "@/server/broadcasts/broadcasts";
import { userRoute } from "@/server/http/route-handler";
import { parseQuery } from "@/server/http/read-json-body";
import { listQuerySchema } from "@/server/notifications/notifications.schema";
import { listNotifications } from "@/server/notifications/list-notifications";

export const dynamic = "force-dynamic";

export const GET = userRoute(async (request, { userId }) => {
  const query = parseQuery(request, listQuerySchema);
  await syncBroadcasts(userId);
  return Response.json(await listNotifications(userId, query));
});
