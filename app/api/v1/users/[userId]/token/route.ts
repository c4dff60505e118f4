// POST /api/v1/users/{userId}/token – mint a user token for a browser or device
import { serviceRoute } from "@/server/http/route-handler";
import { readOptionalJsonBody } from "@/server/http/read-json-body";
import { parsePathId } from "@/server/http/path-params";
import { tokenInputSchema } from "@/server/users/users.schema";
import { issueUserToken } from "@/server/users/issue-user-token";

export const POST = serviceRoute<{ userId: string }>("notify", async (request, { params }) => {
  const userId = parsePathId("userId", params.userId);
  const input = tokenInputSchema.parse(await readOptionalJsonBody(request));
  const { token, expiresAt } = await issueUserToken(userId, input.ttlSeconds);
  return Response.json({ token, expiresAt: expiresAt.toISOString() });
});
