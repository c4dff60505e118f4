// GET /api/v1/admin/overview?window= – sent and failed per channel over time, queue depths, the in-app funnel
import { adminRoute } from "@/server/http/route-handler";
import { parseQuery } from "@/server/http/read-json-body";
import { getOverview } from "@/server/metrics/get-overview";
import { overviewQuerySchema } from "@/server/metrics/overview.schema";

export const GET = adminRoute(async (request) => Response.json(await getOverview(parseQuery(request, overviewQuerySchema)), { headers: { "Cache-Control": "no-store" } }));
