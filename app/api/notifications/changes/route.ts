// GET /api/notifications/changes?afterSeq=N – what changed since seq N, or 410 resync_required
import { syncBroadcasts } from "@/server/broadcasts/broadcasts";
import { userRoute } from "@/server/http/route-handler";
import { parseQuery } from "@/server/http/read-json-body";
import { changesQuerySchema } from "@/server/notifications/notifications.schema";
import { getChanges } from "@/server/notifications/get-changes";

export const dynamic = "force-dynamic";

export const GET = userRoute(async (request, { userId }) => {
  const { afterSeq, limit } = parseQuery(request, changesQuerySchema);
  await syncBroadcasts(userId);
  return Response.json(await getChanges(userId, afterSeq, limit));
});
