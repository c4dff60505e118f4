// GET /api/notifications/unread-count – unread and unseen counts (not archived)
import { userRoute } from "@/server/http/route-handler";
import { getUnreadCount } from "@/server/notifications/unread-counts";

export const dynamic = "force-dynamic";

export const GET = userRoute(async (_request, { userId }) => Response.json(await getUnreadCount(userId)));
