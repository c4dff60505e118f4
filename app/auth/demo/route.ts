// POST /auth/demo – DEMO_MODE only: sign in as a seeded demo user (form field `userId`)
import { AppError } from "@/server/app-error";
import { env } from "@/server/env";
import { errorResponse } from "@/server/http/route-handler";
import { readFormBody } from "@/server/http/read-form-body";
import { signInAsDemoUser } from "@/server/auth/sign-in-as-demo-user";

export async function POST(request: Request): Promise<Response> {
  try {
    if (!env.DEMO_MODE) throw new AppError("not_found", "Not found.");
    const form = await readFormBody(request);
    const { cookie, location } = await signInAsDemoUser(form.get("userId"), request.url);
    return new Response(null, { status: 303, headers: { Location: location, "Set-Cookie": cookie } });
  } catch (error) {
    return errorResponse(error);
  }
}
