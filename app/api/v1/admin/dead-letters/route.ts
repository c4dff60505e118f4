// GET /api/v1/admin/dead-letters?channel=&limit= – deliveries that failed for good, newest first
import { adminRoute } from "@/server/http/route-handler";
import { parseQuery } from "@/server/http/read-json-body";
import { deadLetterQuerySchema, listDeadLetters } from "@/server/channels/dead-letters";

export const GET = adminRoute(async (request) => Response.json({ deadLetters: await listDeadLetters(parseQuery(request, deadLetterQuerySchema)) }));
