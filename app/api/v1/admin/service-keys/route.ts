// GET /api/v1/admin/service-keys – every key (never the key itself) and the default limits; POST – create one, shown once
import { adminRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { createServiceKey, listServiceKeys } from "@/server/auth/service-key";
import { createKeySchema } from "@/server/auth/service-key-input";
import { ingestionDefaultsJson, serviceKeyJson } from "@/server/auth/service-key-json";

export const GET = adminRoute(async () => {
  const keys = await listServiceKeys();
  return Response.json({ keys: keys.map(serviceKeyJson), defaults: ingestionDefaultsJson() });
});

export const POST = adminRoute(async (request) => {
  const input = createKeySchema.parse(await readJsonBody(request));
  const { id, key } = await createServiceKey(input.name, input.scopes);
  return Response.json({ id, name: input.name, scopes: input.scopes, key }, { status: 201 });
});
