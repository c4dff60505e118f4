// POST /auth/session – exchange a user token (form field `token`) for the session cookie, 303 to `next`
import { AppError } from "@/server/app-error";
import { errorResponse } from "@/server/http/route-handler";
import { readFormBody } from "@/server/http/read-form-body";
import { createSessionFromToken } from "@/server/auth/create-session";

function isCrossSite(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (!origin) return false;
  try {
    return new URL(origin).host !== request.headers.get("host");
  } catch {
    return true;
  }
}

export async function POST(request: Request): Promise<Response> {
  try {
    // A browser's cross-site form post carries a foreign Origin: refuse it (login CSRF).
    if (isCrossSite(request)) throw new AppError("forbidden", "Cross-site sign-in refused.");
    const form = await readFormBody(request);
    const { cookie, location } = await createSessionFromToken(form.get("token"), form.get("next"), request.url);
    return new Response(null, { status: 303, headers: { Location: location, "Set-Cookie": cookie } });
  } catch (error) {
    return errorResponse(error);
  }
}
