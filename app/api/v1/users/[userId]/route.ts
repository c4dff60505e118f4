// PUT /api/v1/users/{userId} – create or update a user's profile
import { serviceRoute } from "@/server/http/route-handler";
import { parseJsonBody } from "@/server/http/read-json-body";
import { parsePathId } from "@/server/http/path-params";
import { userInputSchema } from "@/server/users/users.schema";
import { upsertUser } from "@/server/users/upsert-user";

export const PUT = serviceRoute<{ userId: string }>("notify", async (request, { params }) => {
  const userId = parsePathId("userId", params.userId);
  const input = await parseJsonBody(request, userInputSchema);
  return Response.json(await upsertUser(userId, input));
});
