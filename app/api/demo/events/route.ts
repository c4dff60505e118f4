// POST /api/demo/events – DEMO_MODE only: fire a sample event at a demo user
import { AppError } from "@/server/app-error";
import { env } from "@/server/env";
import { userRoute } from "@/server/http/route-handler";
import { parseJsonBody } from "@/server/http/read-json-body";
import { demoEventSchema, sendDemoEvent } from "@/server/demo/send-demo-event";

export const POST = userRoute(async (request, { userId }) => {
  if (!env.DEMO_MODE) throw new AppError("not_found", "Not found.");
  const result = await sendDemoEvent(userId, await parseJsonBody(request, demoEventSchema));
  return Response.json(result.body, { status: result.status });
});
