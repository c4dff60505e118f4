// POST /auth/session – exchange a user token (form field `token`) for the session cookie, 303 to `next`
import { AppError } from "@/server/app-error";
import { errorResponse } from "@/server/http/route-handler";
import { createSessionFromToken } from "@/server/auth/create-session";

export async function POST(request: Request): Promise<Response> {
  try {
    const form = await request.formData().catch(() => {
      throw new AppError("bad_request", "Send the form field `token` (application/x-www-form-urlencoded or multipart).");
    });
    const { cookie, location } = await createSessionFromToken(form.get("token"), form.get("next"), request.url);
    return new Response(null, { status: 303, headers: { Location: location, "Set-Cookie": cookie } });
  } catch (error) {
    return errorResponse(error);
  }
}
