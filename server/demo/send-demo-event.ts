import { z } from "zod";
import { createTrigger, type CreateTriggerResult } from "@/server/notifications/create-trigger";
import { DEMO_USERS } from "@/server/users/demo-users";

export const demoEventSchema = z.strictObject({
  type: z.enum(["like", "comment", "follow", "mention", "system"]),
  to: z.enum(DEMO_USERS.map((u) => u.id) as [string, ...string[]]),
});
export type DemoEvent = z.infer<typeof demoEventSchema>;

const excerpts = ["Great write-up, thanks for sharing!", "Could you take a look at this?", "I think we should ship it.", "Love the new design."];

/** DEMO_MODE's event panel: a sample trigger of `type` from the signed-in user to a demo user. */
export async function sendDemoEvent(fromUserId: string, event: DemoEvent): Promise<CreateTriggerResult> {
  const from = DEMO_USERS.find((u) => u.id === fromUserId);
  const actor = { id: fromUserId, name: from?.name ?? fromUserId };
  const excerpt = excerpts[Math.floor(Math.random() * excerpts.length)]!;
  const target = { type: "post", id: "demo-post", url: "/notifications" };
  const input =
    event.type === "system"
      ? { type: "system", to: [event.to], title: "Scheduled maintenance tonight", body: "Notify will be read-only from 02:00 to 02:15 UTC." }
      : { type: event.type, to: [event.to], actor, target, data: { excerpt } };
  return createTrigger({ input, serviceKeyId: "demo" });
}
