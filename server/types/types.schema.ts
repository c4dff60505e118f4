// A notification type as the admin API takes it (API.md, Admin API): routing settings and the
// templates per channel. Every template must parse as Liquid, or the whole type is refused (422).
import { z } from "zod";
import { channelSchema, idSchema, prioritySchema } from "@/server/notifications/notifications.schema";
import { templateParseError } from "@/server/templates/render-template";

/** A Liquid template of at most `max` characters that parses. */
const template = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((value, ctx) => {
      const problem = templateParseError(value);
      if (problem) ctx.addIssue({ code: "custom", message: `does not parse: ${problem}` });
    });

const actionTemplate = z.strictObject({
  id: z.string().min(1).max(64),
  label: template(100),
  kind: z.enum(["navigate", "api_call", "dismiss"]),
  /** Rendered, then checked like a trigger's action url (relative or https; api_call relative only). */
  url: template(2048).optional(),
});

export const templatesSchema = z.strictObject({
  in_app: z.strictObject({ title: template(500), body: template(5000).default(""), actions: z.array(actionTemplate).max(5).optional() }).optional(),
  push: z.strictObject({ title: template(200), body: template(1000).default(""), icon: template(2048).optional(), url: template(2048).optional() }).optional(),
  email: z.strictObject({ subject: template(300), html: template(200_000), text: template(100_000).optional() }).optional(),
  /** `maxSegments`: the type's budget; a longer body is cut to fit (default 3). */
  sms: z.strictObject({ body: template(1600), maxSegments: z.number().int().min(1).max(10).optional() }).optional(),
});
export type Templates = z.infer<typeof templatesSchema>;

/** `30s`, `5m`, `1h`, `1d`. */
export const durationSchema = z.string().regex(/^[1-9]\d{0,4}(s|m|h|d)$/, "must be a duration such as 30s, 5m, 1h or 1d");

export function durationMs(duration: string): number {
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration.slice(-1) as "s" | "m" | "h" | "d"];
  return Number(duration.slice(0, -1)) * unit;
}

/** BCP 47-ish locale tags: `de`, `pt-BR`, `zh-Hant`. */
export const localeSchema = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "must be a locale such as de or pt-BR");

export const typeInputSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    category: idSchema,
    priority: prioritySchema.default("normal"),
    channels: z
      .array(channelSchema)
      .min(1)
      .refine((list) => new Set(list).size === list.length, "must not repeat a channel"),
    optOut: z.boolean().default(true),
    respectQuietHours: z.boolean().default(true),
    defaults: z.partialRecord(channelSchema, z.boolean()).default({}),
    aggregate: z
      .strictObject({
        window: durationSchema,
        key: z
          .string()
          .regex(/^(type|targetType|targetId|actorId|data\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*)(:(type|targetType|targetId|actorId|data\.[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*))*$/, "must join type, targetType, targetId, actorId or data.<path> with ':'")
          .max(200)
          .optional(),
      })
      .nullable()
      .default(null),
    batch: z.strictObject({ push: durationSchema.optional(), email: durationSchema.optional() }).nullable().default(null),
    limits: z
      .strictObject({ perHour: z.number().int().min(1).max(100_000).optional(), perDay: z.number().int().min(1).max(1_000_000).optional() })
      .nullable()
      .default(null),
    templates: templatesSchema.default({}),
    locales: z
      .record(localeSchema, templatesSchema)
      .refine((value) => Object.keys(value).length <= 50, "at most 50 locales")
      .default({}),
    archived: z.boolean().default(false),
  })
  .superRefine((type, ctx) => {
    // Every channel with a template must be one the type sends on; a locale only overrides channels
    // that have a default template.
    for (const channel of Object.keys(type.templates)) {
      if (!type.channels.includes(channel as never)) ctx.addIssue({ code: "custom", path: ["templates", channel], message: `is a template for a channel the type does not send on` });
    }
    for (const [locale, templates] of Object.entries(type.locales)) {
      for (const channel of Object.keys(templates)) {
        if (!(channel in type.templates)) ctx.addIssue({ code: "custom", path: ["locales", locale, channel], message: "overrides a channel that has no default template" });
      }
    }
  });
export type TypeInput = z.infer<typeof typeInputSchema>;

export const previewInputSchema = z.strictObject({
  channel: channelSchema,
  locale: localeSchema.optional(),
  actor: z.record(z.string(), z.unknown()).nullable().optional(),
  actors: z.array(z.record(z.string(), z.unknown())).max(10).optional(),
  actorCount: z.number().int().min(0).optional(),
  /** As the summary of a batching window with this many events (push and email). */
  batchCount: z.number().int().min(1).max(1000).optional(),
  target: z.record(z.string(), z.unknown()).nullable().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  recipient: z.record(z.string(), z.unknown()).optional(),
  /** Templates not saved yet (the dashboard's live preview); default: the saved ones. */
  templates: templatesSchema.optional(),
  /** Unsaved locale variants (with `templates`); default: the saved ones. */
  locales: z.record(localeSchema, templatesSchema).optional(),
});
export type PreviewInput = z.infer<typeof previewInputSchema>;
