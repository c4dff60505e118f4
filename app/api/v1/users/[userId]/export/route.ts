// GET /api/v1/users/{userId}/export – everything stored about the user, as one JSON document
import { serviceRoute } from "@/server/http/route-handler";
import { parsePathId } from "@/server/http/path-params";
import { exportUser } from "@/server/users/privacy";

export const GET = serviceRoute<{ userId: string }>("notify", async (_request, { params }) => {
  const userId = parsePathId("userId", params.userId);
  const body = await exportUser(userId);
  return new Response(body, {
    headers: { "Content-Type": "application/json; charset=utf-8", "Content-Disposition": `attachment; filename="user-export.json"`, "Cache-Control": "no-store" },
  });
});
