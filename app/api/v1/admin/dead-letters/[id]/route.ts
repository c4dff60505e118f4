// DELETE /api/v1/admin/dead-letters/{id} – discard one dead letter
import { AppError } from "@/server/app-error";
import { adminRoute } from "@/server/http/route-handler";
import { discardDeadLetter } from "@/server/channels/dead-letters";

export const DELETE = adminRoute<{ id: string }>(async (_request, { params }) => {
  const id = Number(params.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new AppError("not_found", "No such dead letter.");
  await discardDeadLetter(id);
  return Response.json({ discarded: true });
});
