// POST /api/push-subscriptions – register (or refresh) this device's web push subscription
// DELETE /api/push-subscriptions – {endpoint}: stop pushing to it
import { userRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { removeSubscription, saveSubscription, subscriptionInputSchema, unsubscribeInputSchema } from "@/server/push/subscriptions";

export const POST = userRoute(async (request, { userId }) => {
  const input = subscriptionInputSchema.parse(await readJsonBody(request));
  const saved = await saveSubscription(userId, input, request.headers.get("user-agent"));
  return Response.json({ id: saved.id }, { status: 201 });
});

export const DELETE = userRoute(async (request, { userId }) => {
  const { endpoint } = unsubscribeInputSchema.parse(await readJsonBody(request));
  await removeSubscription(userId, endpoint);
  return Response.json({ removed: true });
});
