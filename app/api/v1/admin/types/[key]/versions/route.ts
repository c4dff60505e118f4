// GET /api/v1/admin/types/{key}/versions – the saved template versions, newest first
import { adminRoute } from "@/server/http/route-handler";
import { parsePathId } from "@/server/http/path-params";
import { listTemplateVersions } from "@/server/types/type-registry";

export const GET = adminRoute<{ key: string }>(async (_request, { params }) => Response.json({ versions: await listTemplateVersions(parsePathId("key", params.key)) }));
