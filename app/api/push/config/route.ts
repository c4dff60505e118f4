// GET /api/push/config – what a browser needs to subscribe: the VAPID public key (null: push is off)
import { env } from "@/server/env";

export function GET(): Response {
  return Response.json({ publicKey: env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY ? env.VAPID_PUBLIC_KEY : null });
}
