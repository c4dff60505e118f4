import { z } from "zod";

/** User ids, topic keys and type keys: 1–128 characters of `A-Z a-z 0-9 _ . : @ -`. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_.:@-]{1,128}$/, "must be 1–128 characters of A-Z a-z 0-9 _ . : @ -");

/** A relative path on this origin, or an https URL. Never javascript:, data:, http: or //host. */
export const safeUrlSchema = z
  .string()
  .max(2048)
  .refine((value) => isSafeUrl(value), "must be a relative path starting with / or an https: URL");

export function isSafeUrl(value: string): boolean {
  if (/[\u0000-\u001f\u007f\s\\]/.test(value)) return false;
  if (value.startsWith("/")) return !value.startsWith("//");
  try {
    const url = new URL(value);
    return url.protocol === "https:" && url.hostname !== "";
  } catch {
    return false;
  }
}

export const prioritySchema = z.enum(["urgent", "high", "normal", "low"]);
export const channelSchema = z.enum(["in_app", "push", "email", "sms"]);
export type Priority = z.infer<typeof prioritySchema>;
export type Channel = z.infer<typeof channelSchema>;

const isoTime = z.iso.datetime({ offset: true });

export const actorSchema = z.strictObject({
  id: idSchema,
  name: z.string().max(200).optional(),
  avatarUrl: safeUrlSchema.optional(),
});

export const targetSchema = z.strictObject({
  type: z.string().min(1).max(64),
  id: z.string().min(1).max(128),
  url: safeUrlSchema.optional(),
});

export const actionSchema = z
  .strictObject({
    id: z.string().min(1).max(64),
    label: z.string().min(1).max(100),
    kind: z.enum(["navigate", "api_call", "dismiss"]),
    url: safeUrlSchema.optional(),
  })
  .refine((a) => a.kind === "dismiss" || a.url !== undefined, { message: "url is required for navigate and api_call", path: ["url"] })
  .refine((a) => a.kind !== "api_call" || a.url?.startsWith("/") === true, { message: "an api_call url must be a relative path", path: ["url"] });

export const MAX_EXPLICIT_RECIPIENTS = 10_000;

export const triggerInputSchema = z
  .strictObject({
    type: idSchema,
    to: z.union([
      z.array(idSchema).min(1, "needs at least one recipient").max(MAX_EXPLICIT_RECIPIENTS, `at most ${MAX_EXPLICIT_RECIPIENTS} recipients per call; use a topic for more`),
      z.strictObject({ topic: idSchema }),
    ]),
    actor: actorSchema.optional(),
    target: targetSchema.optional(),
    data: z.record(z.string(), z.json()).optional(),
    title: z.string().min(1).max(500).optional(),
    body: z.string().max(5000).optional(),
    actions: z.array(actionSchema).max(5).optional(),
    priority: prioritySchema.optional(),
    channels: z.array(channelSchema).min(1).max(4).refine((c) => new Set(c).size === c.length, "must not repeat a channel").optional(),
    sendAt: isoTime.optional(),
    expiresAt: isoTime.optional(),
    /** For a topic: above this many recipients the inbox is fanned out on read (default BROADCAST_THRESHOLD). */
    broadcastThreshold: z.number().int().min(0).max(2_000_000_000).optional(),
  })
  .refine((t) => !t.expiresAt || Date.parse(t.expiresAt) > Date.now(), { message: "must be in the future", path: ["expiresAt"] })
  .refine((t) => !t.expiresAt || !t.sendAt || Date.parse(t.expiresAt) > Date.parse(t.sendAt), { message: "must be after sendAt", path: ["expiresAt"] });

export type TriggerInput = z.infer<typeof triggerInputSchema>;

export const triggerAcceptedSchema = z.object({ id: z.uuid(), status: z.literal("accepted"), recipients: z.number().int() });
export type TriggerAccepted = z.infer<typeof triggerAcceptedSchema>;

export const notificationSchema = z.object({
  id: z.uuid(),
  type: z.string(),
  category: z.string(),
  priority: prioritySchema,
  title: z.string(),
  body: z.string(),
  actor: actorSchema.nullable(),
  actors: z.array(actorSchema),
  actorCount: z.number().int(),
  target: targetSchema.nullable(),
  actions: z.array(z.object({ id: z.string(), label: z.string(), kind: z.enum(["navigate", "api_call", "dismiss"]), url: z.string().optional() })),
  data: z.record(z.string(), z.unknown()),
  seq: z.number().int(),
  read: z.boolean(),
  seen: z.boolean(),
  archived: z.boolean(),
  createdAt: z.string(),
  sortAt: z.string(),
  readAt: z.string().nullable(),
  seenAt: z.string().nullable(),
  archivedAt: z.string().nullable(),
  clickedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
});
export type Notification = z.infer<typeof notificationSchema>;

export const notificationIdSchema = z.uuid({ message: "must be a notification id (UUID)" });

/** `{ids}` of the bulk end-user operations: the caller's own notifications only. */
export const idsBodySchema = z.strictObject({
  ids: z.array(notificationIdSchema).min(1).max(1000),
});

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
  filter: z.enum(["all", "unread", "archived"]).default("all"),
  type: idSchema.optional(),
  category: z.string().min(1).max(64).optional(),
  q: z.string().min(1).max(200).optional(),
});
export type ListQuery = z.infer<typeof listQuerySchema>;

export const changesQuerySchema = z.object({
  afterSeq: z.coerce.number().int().min(0),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const changeKindSchema = z.enum(["new", "updated", "read", "unread", "seen", "archived", "unarchived", "read_all", "removed"]);
export type ChangeKind = z.infer<typeof changeKindSchema>;

export const changeSchema = z.object({
  seq: z.number().int(),
  kind: changeKindSchema,
  notification: notificationSchema.optional(),
  ids: z.array(z.string()).optional(),
  at: z.string(),
});
export type Change = z.infer<typeof changeSchema>;

/** Unread and unseen counts, and the user `seq` they reflect (the newer seq wins on a client). */
export const unreadCountSchema = z.object({ count: z.number().int(), unseen: z.number().int(), seq: z.number().int() });
export type UnreadCount = z.infer<typeof unreadCountSchema>;
