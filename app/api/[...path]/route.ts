// Any /api path that no route serves: API.md's 404 body, not the framework's HTML page. (A path such
// as /api/v1/topics/./subscribers, which URL rules turn into /api/v1/topics/subscribers, lands here.)
// Routes with a handler always win over this catch-all; a known path with a method it lacks stays 405.
import { AppError } from "@/server/app-error";
import { errorResponse } from "@/server/http/route-handler";

// The message starts the same for every path: tests/system/openapi.test.ts tells it from a handler's 404 by it.
const NO_ROUTE_MESSAGE = "No API route answers";

async function noRoute(request: Request): Promise<Response> {
  return errorResponse(new AppError("not_found", `${NO_ROUTE_MESSAGE} ${request.method} ${new URL(request.url).pathname}.`));
}

export const GET = noRoute;
export const POST = noRoute;
export const PUT = noRoute;
export const PATCH = noRoute;
export const DELETE = noRoute;
