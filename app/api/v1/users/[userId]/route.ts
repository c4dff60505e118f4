// PUT /api/v1/users/{userId} – create or update a user's profile
// DELETE /api/v1/users/{userId} – erase the user and everything stored about them
import { serviceRoute } from "@/server/http/route-handler";
import { parseJsonBody } from "@/server/http/read-json-body";
import { parsePathId } from "@/server/http/path-params";
import { userInputSchema } from "@/server/users/users.schema";
import { upsertUser } from "@/server/users/upsert-user";
import { eraseUser } from "@/server/users/privacy";

export const PUT = serviceRoute<{ userId: string }>("notify", async (request, { params }) => {
  const userId = parsePathId("userId", params.userId);
  const input = await parseJsonBody(request, userInputSchema);
  return Response.json(await upsertUser(userId, input));
});

export const DELETE = serviceRoute<{ userId: string }>("notify", async (_request, { params }) => {
  const userId = parsePathId("userId", params.userId);
  return Response.json({ id: userId, erased: await eraseUser(userId) });
});
