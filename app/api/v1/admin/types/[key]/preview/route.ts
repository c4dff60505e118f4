// POST /api/v1/admin/types/{key}/preview – one channel rendered with sample data, and warnings
import { adminRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { parsePathId } from "@/server/http/path-params";
import { previewType } from "@/server/types/preview-type";
import { previewInputSchema } from "@/server/types/types.schema";

export const POST = adminRoute<{ key: string }>(async (request, { params }) => {
  const key = parsePathId("key", params.key);
  const input = previewInputSchema.parse(await readJsonBody(request));
  return Response.json(await previewType(key, input));
});
