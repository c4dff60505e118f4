// PUT · DELETE /api/v1/topics/{topicKey}/subscribers – subscribe or unsubscribe users
import { serviceRoute } from "@/server/http/route-handler";
import { parseJsonBody } from "@/server/http/read-json-body";
import { parsePathId } from "@/server/http/path-params";
import { topicSubscribersInputSchema } from "@/server/topics/topics.schema";
import { addTopicSubscribers, removeTopicSubscribers } from "@/server/topics/update-topic-subscribers";

export const PUT = serviceRoute<{ topicKey: string }>("notify", async (request, { params }) => {
  const topicKey = parsePathId("topicKey", params.topicKey);
  const { userIds } = await parseJsonBody(request, topicSubscribersInputSchema);
  return Response.json(await addTopicSubscribers(topicKey, userIds));
});

export const DELETE = serviceRoute<{ topicKey: string }>("notify", async (request, { params }) => {
  const topicKey = parsePathId("topicKey", params.topicKey);
  const { userIds } = await parseJsonBody(request, topicSubscribersInputSchema);
  return Response.json(await removeTopicSubscribers(topicKey, userIds));
});
