// GET /api/openapi.json – the OpenAPI 3.1 document of every HTTP route (server/openapi/document.ts)
import { openApiDocument } from "@/server/openapi/document";
import { errorResponse } from "@/server/http/route-handler";

export async function GET(): Promise<Response> {
  try {
    return Response.json(openApiDocument(), { headers: { "Cache-Control": "public, max-age=300" } });
  } catch (error) {
    return errorResponse(error);
  }
}
