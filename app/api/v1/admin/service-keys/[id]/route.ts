// DELETE /api/v1/admin/service-keys/{id} – revoke a key (it stops working on every node within seconds)
import { AppError } from "@/server/app-error";
import { adminRoute } from "@/server/http/route-handler";
import { parsePathUuidOrNotFound } from "@/server/http/path-params";
import { revokeServiceKey } from "@/server/auth/service-key";

export const DELETE = adminRoute<{ id: string }>(async (_request, { params }) => {
  const id = parsePathUuidOrNotFound(params.id, "service key");
  if (!(await revokeServiceKey(id))) throw new AppError("not_found", "No such active service key.");
  return Response.json({ revoked: true });
});
