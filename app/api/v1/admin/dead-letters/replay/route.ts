// POST /api/v1/admin/dead-letters/replay – {ids} or {all: true, channel?}: queue them again
import { adminRoute } from "@/server/http/route-handler";
import { readJsonBody } from "@/server/http/read-json-body";
import { replayDeadLetters, replayInputSchema } from "@/server/channels/dead-letters";

export const POST = adminRoute(async (request) => Response.json({ replayed: await replayDeadLetters(replayInputSchema.parse(await readJsonBody(request))) }));
