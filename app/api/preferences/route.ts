// GET and PUT /api/preferences – the signed-in user's notification preferences (PUT takes any subset)
import { userRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { preferencesInputSchema } from "@/server/preferences/preferences.schema";
import { getPreferences, updatePreferences } from "@/server/preferences/user-preferences";

export const GET = userRoute(async (_request, { userId }) => Response.json(await getPreferences(userId)));

export const PUT = userRoute(async (request, { userId }) => {
  const input = preferencesInputSchema.parse(await readJsonBody(request));
  return Response.json(await updatePreferences(userId, input));
});
