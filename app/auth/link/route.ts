// POST /auth/link – exchange a one-time sign-in link token (form field `token`) for a session, 303 to /admin
import { AppError } from "@/server/app-error";
import { errorResponse } from "@/server/http/route-handler";
import { readFormBody } from "@/server/http/read-form-body";
import { consumeSignInLink } from "@/server/auth/sign-in-links";
import { sessionCookieFor } from "@/server/auth/create-session";

export async function POST(request: Request): Promise<Response> {
  try {
    const origin = request.headers.get("origin");
    if (origin && new URL(origin).host !== request.headers.get("host")) throw new AppError("forbidden", "Cross-site sign-in refused.");
    const form = await readFormBody(request);
    const userId = await consumeSignInLink(form.get("token"));
    return new Response(null, { status: 303, headers: { Location: "/admin", "Set-Cookie": await sessionCookieFor(userId, request.url) } });
  } catch (error) {
    if (error instanceof AppError && error.code === "unauthorized") return new Response(null, { status: 303, headers: { Location: "/auth/sign-in?error=link" } });
    return errorResponse(error);
  }
}
