// GET /api/v1/admin/service-keys – every key (never the key itself); POST – create one, shown once
import { adminRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { createServiceKey, listServiceKeys } from "@/server/auth/service-key";
import { createKeySchema } from "@/server/auth/service-key-input";

export const GET = adminRoute(async () => {
  const keys = await listServiceKeys();
  return Response.json({
    keys: keys.map((k) => ({ ...k, createdAt: k.createdAt.toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null, revokedAt: k.revokedAt?.toISOString() ?? null })),
  });
});

export const POST = adminRoute(async (request) => {
  const input = createKeySchema.parse(await readJsonBody(request));
  const { id, key } = await createServiceKey(input.name, input.scopes);
  return Response.json({ id, name: input.name, scopes: input.scopes, key }, { status: 201 });
});
