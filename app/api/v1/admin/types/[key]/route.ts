// GET and PUT /api/v1/admin/types/{key} – one type; PUT creates or replaces it (a new template
// version when the templates change)
import { adminRoute, principalName } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { parsePathId } from "@/server/http/path-params";
import { getTypeOrThrow, upsertType } from "@/server/types/type-registry";
import { typeInputSchema } from "@/server/types/types.schema";

export const GET = adminRoute<{ key: string }>(async (_request, { params }) => Response.json(await getTypeOrThrow(parsePathId("key", params.key))));

export const PUT = adminRoute<{ key: string }>(async (request, { params, principal }) => {
  const key = parsePathId("key", params.key);
  const input = typeInputSchema.parse(await readJsonBody(request));
  return Response.json(await upsertType(key, input, principalName(principal)));
});
