// PATCH /api/v1/admin/service-keys/{id} – set or clear a key's own limits (every node within moments); DELETE – revoke it
import { AppError } from "@/server/app-error";
import { adminRoute } from "@/server/http/route-handler";
import { parsePathUuidOrNotFound } from "@/server/http/path-params";
import { readJsonBody } from "@/server/http/read-json-body";
import { revokeServiceKey, setServiceKeyLimits } from "@/server/auth/service-key";
import { updateKeySchema } from "@/server/auth/service-key-input";
import { serviceKeyJson } from "@/server/auth/service-key-json";

export const PATCH = adminRoute<{ id: string }>(async (request, { params }) => {
  const id = parsePathUuidOrNotFound(params.id, "service key");
  const input = updateKeySchema.parse(await readJsonBody(request));
  const key = await setServiceKeyLimits(id, input.limits);
  if (!key) throw new AppError("not_found", "No such active service key.");
  return Response.json(serviceKeyJson(key));
});

export const DELETE = adminRoute<{ id: string }>(async (_request, { params }) => {
  const id = parsePathUuidOrNotFound(params.id, "service key");
  if (!(await revokeServiceKey(id))) throw new AppError("not_found", "No such active service key.");
  return Response.json({ revoked: true });
});
