import type { TypeInput } from "@/server/types/types.schema";

const who = "{{ actor.name | default: 'Someone' }}";
const what = "{{ target.type | default: 'post' }}";

/** An email layout around one message: escaped variables, a button to the target. */
function email(subject: string, line: string): NonNullable<TypeInput["templates"]["email"]> {
  return {
    subject,
    html: `<p>Hi {{ recipient.name | default: 'there' }},</p>\n<p>${line}</p>\n{% if data.excerpt %}<blockquote>{{ data.excerpt }}</blockquote>{% endif %}\n{% if target.url %}<p><a href="{{ target.url }}">Open</a></p>{% endif %}`,
    text: `Hi {{ recipient.name | default: 'there' }},\n\n${line}\n{% if data.excerpt %}\n"{{ data.excerpt }}"\n{% endif %}`,
  };
}

/**
 * The demo notification types every installation starts with (the seed adds the missing ones and
 * never overwrites an edited one). `system` has no templates: title and body come from the trigger.
 */
export const defaultNotificationTypes: (Partial<TypeInput> & Pick<TypeInput, "name" | "category" | "channels"> & { key: string })[] = [
  {
    key: "comment",
    name: "Comment",
    category: "engagement",
    priority: "normal",
    channels: ["in_app", "push", "email"],
    templates: {
      in_app: { title: `${who} commented on your ${what}`, body: "{{ data.excerpt }}" },
      push: { title: `${who} commented on your ${what}`, body: "{{ data.excerpt }}", url: "{{ target.url }}" },
      email: email(`${who} commented on your ${what}`, `${who} commented on your ${what}.`),
    },
  },
  {
    key: "like",
    name: "Like",
    category: "engagement",
    priority: "low",
    channels: ["in_app", "push"],
    limits: { perHour: 20 },
    templates: {
      in_app: { title: `${who} liked your ${what}`, body: "" },
      push: { title: `${who} liked your ${what}`, body: "", url: "{{ target.url }}" },
    },
  },
  {
    key: "follow",
    name: "New follower",
    category: "engagement",
    priority: "normal",
    channels: ["in_app", "push"],
    templates: {
      in_app: { title: `${who} started following you`, body: "" },
      push: { title: `${who} started following you`, body: "" },
    },
  },
  {
    key: "mention",
    name: "Mention",
    category: "engagement",
    priority: "high",
    channels: ["in_app", "push", "email"],
    templates: {
      in_app: { title: `${who} mentioned you`, body: "{{ data.excerpt }}" },
      push: { title: `${who} mentioned you`, body: "{{ data.excerpt }}", url: "{{ target.url }}" },
      email: email(`${who} mentioned you`, `${who} mentioned you.`),
    },
  },
  { key: "system", name: "System message", category: "system", priority: "high", channels: ["in_app", "push", "email", "sms"], optOut: false, respectQuietHours: false },
];
