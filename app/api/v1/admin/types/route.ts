// GET /api/v1/admin/types – every notification type, archived ones last
import { adminRoute } from "@/server/http/route-handler";
import { listTypes } from "@/server/types/type-registry";

export const GET = adminRoute(async () => Response.json({ types: await listTypes() }));
