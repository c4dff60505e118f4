// GET /api/v1/admin/activity – the most recent triggers
import { adminRoute } from "@/server/http/route-handler";
import { recentTriggers } from "@/server/channels/activity";

export const GET = adminRoute(async () => Response.json({ triggers: await recentTriggers() }));
