import { z } from "zod";
import { idSchema } from "@/server/notifications/notifications.schema";

/** `PUT`/`DELETE /api/v1/topics/{topicKey}/subscribers`: at most 10,000 users per call. */
export const topicSubscribersInputSchema = z.strictObject({
  userIds: z.array(idSchema).min(1).max(10_000),
});
