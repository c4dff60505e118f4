/** The demo notification types every installation starts with. `system` takes title and body from the trigger. */
export const defaultNotificationTypes = [
  { key: "comment", name: "Comment", category: "engagement", priority: "normal", channels: ["in_app", "push", "email"], title: "{{ actor.name | default: 'Someone' }} commented on your {{ target.type | default: 'post' }}", body: "{{ data.excerpt }}" },
  { key: "like", name: "Like", category: "engagement", priority: "low", channels: ["in_app", "push"], title: "{{ actor.name | default: 'Someone' }} liked your {{ target.type | default: 'post' }}", body: "" },
  { key: "follow", name: "New follower", category: "engagement", priority: "normal", channels: ["in_app", "push"], title: "{{ actor.name | default: 'Someone' }} started following you", body: "" },
  { key: "mention", name: "Mention", category: "engagement", priority: "high", channels: ["in_app", "push", "email"], title: "{{ actor.name | default: 'Someone' }} mentioned you", body: "{{ data.excerpt }}" },
  { key: "system", name: "System message", category: "system", priority: "high", channels: ["in_app", "push", "email", "sms"], title: null, body: null },
] as const;
