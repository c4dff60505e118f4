// GET /api/notification-types – the types a user can receive, for the settings page: key, name,
// category, channels, and whether they may be turned off
import { userRoute } from "@/server/http/route-handler";
import { listTypes } from "@/server/types/type-registry";

export const GET = userRoute(async () => {
  const types = (await listTypes()).filter((t) => !t.archived);
  return Response.json({ types: types.map((t) => ({ key: t.key, name: t.name, category: t.category, channels: t.channels, optOut: t.optOut, defaults: t.defaults })) });
});
