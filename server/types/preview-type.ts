// The admin preview: one channel of a type (saved templates, or unsaved ones from the editor)
// rendered with sample data, exactly as a send would render it, with warnings.
import { AppError } from "@/server/app-error";
import { renderChannel, templatesFor, type RenderContext } from "@/server/templates/render-notification";
import { findType, getTypeOrThrow } from "@/server/types/type-registry";
import type { PreviewInput } from "@/server/types/types.schema";

/** Sample data for what the preview request leaves out, so a template shows something sensible. */
const SAMPLE: RenderContext = {
  actor: { id: "user-9", name: "John Doe" },
  actors: [{ id: "user-9", name: "John Doe" }],
  actorCount: 1,
  target: { type: "post", id: "post-456", url: "/posts/456" },
  data: {},
  recipient: { id: "user-1", name: "Jane Roe", locale: "en", timezone: "Europe/Berlin" },
};

export async function previewType(key: string, input: PreviewInput) {
  // A type being created has no row yet: its unsaved templates can still be previewed.
  const found = await findType(key);
  if (!found && !input.templates) await getTypeOrThrow(key);
  const type = found ?? { channels: [input.channel], templates: {}, locales: {}, templateVersion: 0 };
  // Unsaved templates come with their own channels; saved ones must be for a channel the type sends on.
  if (!input.templates && !type.channels.includes(input.channel)) throw new AppError("validation_failed", `Type '${key}' does not send on ${input.channel}.`, { details: [{ field: "channel", message: `must be one of ${type.channels.join(", ")}` }] });
  const actor = input.actor === undefined ? SAMPLE.actor : input.actor;
  const context: RenderContext = {
    actor,
    actors: input.actors ?? (actor ? [actor] : []),
    actorCount: input.actorCount ?? input.actors?.length ?? (actor ? 1 : 0),
    target: input.target === undefined ? SAMPLE.target : input.target,
    data: input.data ?? SAMPLE.data,
    recipient: input.recipient ?? SAMPLE.recipient,
  };
  if (input.batchCount !== undefined) {
    // A window's summary: as many sample events as asked (at most 20 listed), the newest first.
    context.batchCount = input.batchCount;
    context.batch = Array.from({ length: Math.min(input.batchCount, 20) }, (_, i) => ({
      title: `Sample event ${input.batchCount! - i}`,
      body: "",
      actor: context.actors[i % Math.max(1, context.actors.length)] ?? null,
      target: context.target,
      data: context.data,
    }));
  }
  const templates = templatesFor(input.templates ?? type.templates, input.locales ?? type.locales, input.locale);
  const rendered = await renderChannel(templates, input.channel, context).catch((error: unknown) => {
    // E.g. the render limit: the template parses but takes too long. A send would fall back; say so here.
    const message = (error as Error).message.split("\n")[0]!.slice(0, 300);
    throw new AppError("validation_failed", `The ${input.channel} template does not render: ${message}`, { details: [{ field: `templates.${input.channel}`, message }] });
  });
  if (!rendered) {
    return { channel: input.channel, content: null, warnings: [`The type has no ${input.channel} template: ${input.channel === "in_app" ? "each trigger must carry a title" : "nothing is sent on this channel"}.`] };
  }
  return { channel: input.channel, templateVersion: input.templates ? null : type.templateVersion, content: rendered.content, warnings: rendered.warnings };
}
