import { AppError } from "@/server/app-error";
import { signUserToken } from "@/server/auth/user-token";
import { createSessionFromToken } from "@/server/auth/create-session";
import { DEMO_USERS } from "@/server/users/demo-users";

/** DEMO_MODE's shortcut: a session for one of the seeded demo users, and nobody else. */
export async function signInAsDemoUser(userId: unknown, requestUrl: string): Promise<{ cookie: string; location: string }> {
  const user = DEMO_USERS.find((u) => u.id === userId);
  if (!user) throw new AppError("validation_failed", "Pick one of the demo users.", { details: [{ field: "userId", message: "is not a demo user" }] });
  const { token } = await signUserToken(user.id, 300, "user");
  return createSessionFromToken(token, "/notifications", requestUrl);
}
