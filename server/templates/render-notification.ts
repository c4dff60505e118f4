// Renders a type's templates for one channel: the locale variant (falling back to the language,
// then the default), every text through the Liquid sandbox, email HTML escaped, URLs checked after
// rendering, and warnings for variables the context does not have (a missing variable renders empty
// and never fails a send).
import { isSafeUrl } from "@/server/notifications/notifications.schema";
import type { Channel, Notification } from "@/server/notifications/notifications.schema";
import type { Templates } from "@/server/types/types.schema";
import { missingVariables, renderHtmlTemplate, renderTemplate, templateRoots, type TemplateContext } from "@/server/templates/render-template";

export type RenderContext = {
  actor: Record<string, unknown> | null;
  actors: Record<string, unknown>[];
  actorCount: number;
  target: Record<string, unknown> | null;
  data: Record<string, unknown>;
  recipient: Record<string, unknown>;
  /** A batching window's summary: how many events it holds, and each of them (newest first). */
  batchCount?: number;
  batch?: { title: string; body: string; actor: Record<string, unknown> | null; target: Record<string, unknown> | null; data: Record<string, unknown> }[];
};

export type ChannelContent = {
  in_app: { title: string; body: string; actions: Notification["actions"] };
  push: { title: string; body: string; icon?: string; url?: string };
  email: { subject: string; html: string; text: string };
  sms: { body: string; characters: number; segments: number; encoding: "GSM-7" | "UCS-2" };
};

export type Rendered<C extends Channel> = { content: ChannelContent[C]; warnings: string[] };

/** The templates for `locale`: its own variant, else its language's (`pt` for `pt-BR`), else the default. */
export function templatesFor(templates: Templates, locales: Record<string, Templates>, locale: string | null | undefined): Templates {
  if (!locale) return templates;
  const variant = locales[locale] ?? locales[locale.split("-")[0]!];
  return variant ? { ...templates, ...variant } : templates;
}

/** Whether any of these templates reads the recipient's profile (then each recipient is rendered apart). */
export function readsRecipient(templates: Templates): boolean {
  return allTemplateStrings(templates).some((t) => templateRoots(t).has("recipient"));
}

/** Whether the templates of `channel` read one of these top-level variables. */
export function channelReads(templates: Templates, channel: Channel, names: readonly string[]): boolean {
  return allTemplateStrings({ [channel]: templates[channel] } as Templates).some((t) => {
    const roots = templateRoots(t);
    return names.some((name) => roots.has(name));
  });
}

function allTemplateStrings(templates: Templates): string[] {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(templates);
  return out;
}

/** Renders one channel, or null when the type has no template for it. */
export async function renderChannel<C extends Channel>(templates: Templates, channel: C, context: RenderContext): Promise<Rendered<C> | null> {
  const warnings = new Set<string>();
  const ctx = context as unknown as TemplateContext;
  const text = async (template: string | undefined, field: string): Promise<string> => {
    if (template === undefined) return "";
    for (const path of missingVariables(template, ctx)) warnings.add(`${field}: ${path} is not set (it renders empty)`);
    return (await renderTemplate(template, ctx)).trim();
  };
  const url = async (template: string | undefined, field: string, relativeOnly = false): Promise<string | undefined> => {
    if (template === undefined) return undefined;
    const value = await text(template, field);
    if (value === "") return undefined;
    if (!isSafeUrl(value) || (relativeOnly && !value.startsWith("/"))) {
      warnings.add(`${field}: "${value.slice(0, 100)}" is not a ${relativeOnly ? "relative path" : "relative path or https URL"}; left out`);
      return undefined;
    }
    return value;
  };

  let content: ChannelContent[Channel];
  switch (channel) {
    case "in_app": {
      const t = templates.in_app;
      if (!t) return null;
      const actions: Notification["actions"] = [];
      for (const [i, action] of (t.actions ?? []).entries()) {
        const actionUrl = await url(action.url, `in_app.actions.${i}.url`, action.kind === "api_call");
        if (action.kind !== "dismiss" && !actionUrl) continue;
        actions.push({ id: action.id, label: (await text(action.label, `in_app.actions.${i}.label`)).slice(0, 100), kind: action.kind, ...(actionUrl ? { url: actionUrl } : {}) });
      }
      content = { title: (await text(t.title, "in_app.title")).slice(0, 500), body: (await text(t.body, "in_app.body")).slice(0, 5000), actions };
      break;
    }
    case "push": {
      const t = templates.push;
      if (!t) return null;
      const icon = await url(t.icon, "push.icon");
      const target = await url(t.url, "push.url");
      content = { title: (await text(t.title, "push.title")).slice(0, 200), body: (await text(t.body, "push.body")).slice(0, 1000), ...(icon ? { icon } : {}), ...(target ? { url: target } : {}) };
      break;
    }
    case "email": {
      const t = templates.email;
      if (!t) return null;
      for (const path of missingVariables(t.html, ctx)) warnings.add(`email.html: ${path} is not set (it renders empty)`);
      const html = await renderHtmlTemplate(t.html, ctx);
      content = { subject: (await text(t.subject, "email.subject")).replace(/[\r\n]+/g, " ").slice(0, 300), html, text: t.text !== undefined ? await text(t.text, "email.text") : htmlToText(html) };
      break;
    }
    case "sms": {
      const t = templates.sms;
      if (!t) return null;
      const body = await text(t.body, "sms.body");
      content = { body, ...smsSegments(body) };
      break;
    }
    default:
      return null;
  }
  return { content: content as ChannelContent[C], warnings: [...warnings] };
}

/** A plain-text part from HTML when the template has none: tags out, entities back, blank lines folded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, "")
    .replace(/<br\s*\/?>|<\/(p|div|h[1-6]|li|tr)>/gi, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+/g, " ")
    .replace(/\n\s*\n+/g, "\n\n")
    .trim();
}

// The GSM 03.38 basic set, and the extension characters that take two septets.
const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** How many characters and SMS segments a body takes: GSM-7 (160, or 153 per part) or UCS-2 (70, or 67). */
export function smsSegments(body: string): { characters: number; segments: number; encoding: "GSM-7" | "UCS-2" } {
  const chars = [...body];
  const gsm = chars.every((c) => GSM_BASIC.includes(c) || GSM_EXTENDED.includes(c));
  if (gsm) {
    const septets = chars.reduce((n, c) => n + (GSM_EXTENDED.includes(c) ? 2 : 1), 0);
    return { characters: chars.length, segments: septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153), encoding: "GSM-7" };
  }
  const units = body.length; // UTF-16 code units
  return { characters: chars.length, segments: units <= 70 ? 1 : Math.ceil(units / 67), encoding: "UCS-2" };
}
