"use client";

import { useEffect, useState } from "react";
import type { Channel } from "@/server/notifications/notifications.schema";
import type { ChannelContent } from "@/server/templates/render-notification";
import type { Templates } from "@/server/types/types.schema";
import { AdminApiError, adminApi } from "@/components/admin/admin-api";

type Preview = { channel: Channel; content: ChannelContent[Channel] | null; warnings: string[] };
export type SampleData = { actorName: string; data: string; people?: number; batch?: number };

const MORE_PEOPLE = ["Mary Major", "Sam Doe", "Ana Silva", "Li Wei", "Omar Haddad", "Eva Novak", "Kofi Mensah", "Noor Khan", "Lena Berg"];

/**
 * The live preview of one channel: the editor's unsaved templates rendered by the server exactly as
 * a send would render them, with the sample data, re-rendered shortly after every keystroke.
 */
export function TemplatePreview({ typeKey, channel, templates, locales, locale, sample }: { typeKey: string; channel: Channel; templates: Templates; locales?: Record<string, Templates>; locale?: string; sample: SampleData }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const body = JSON.stringify({ templates, locales, locale, sample });

  useEffect(() => {
    let cancelled = false;
    const timer = setTimeout(async () => {
      let data: Record<string, unknown> = {};
      try {
        data = sample.data.trim() ? (JSON.parse(sample.data) as Record<string, unknown>) : {};
      } catch {
        setError("The sample data is not valid JSON.");
        return;
      }
      try {
        const result = await adminApi<Preview>(`/types/${encodeURIComponent(typeKey || "draft")}/preview`, {
          method: "POST",
          body: JSON.stringify({
            channel,
            templates,
            locales,
            locale,
            data,
            actor: { id: "sample-actor", name: sample.actorName },
            // As a group of several people, and as a batching window's summary, when asked.
            ...((sample.people ?? 1) > 1
              ? {
                  actors: [sample.actorName, ...MORE_PEOPLE].slice(0, Math.min(10, sample.people!)).map((name, i) => ({ id: `sample-${i}`, name })),
                  actorCount: sample.people,
                }
              : {}),
            ...((sample.batch ?? 1) > 1 && (channel === "push" || channel === "email") ? { batchCount: sample.batch } : {}),
          }),
        });
        if (!cancelled) {
          setPreview(result);
          setError(null);
        }
      } catch (caught) {
        if (cancelled) return;
        const details = caught instanceof AdminApiError ? caught.details.map((d) => `${d.field}: ${d.message}`).join("; ") : "";
        setError(details || (caught as Error).message);
      }
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `body` is the serialised inputs
  }, [body, typeKey, channel]);

  return (
    <div data-testid={`preview-${channel}`} className="space-y-2">
      {error && (
        <p role="alert" className="rounded bg-red-50 p-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
          {error}
        </p>
      )}
      {preview?.content ? <Rendered channel={channel} content={preview.content} /> : !error && <p className="text-sm text-slate-500">No {channel} template.</p>}
      {preview && preview.warnings.length > 0 && (
        <ul aria-label="Warnings" className="list-disc pl-5 text-xs text-amber-700 dark:text-amber-300">
          {preview.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Rendered({ channel, content }: { channel: Channel; content: ChannelContent[Channel] }) {
  switch (channel) {
    case "in_app": {
      const c = content as ChannelContent["in_app"];
      return (
        <div className="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-700 dark:bg-slate-900">
          <p data-testid="preview-title" className="text-sm font-semibold">
            {c.title}
          </p>
          {c.body && <p className="text-sm text-slate-500">{c.body}</p>}
          {c.actions.length > 0 && (
            <div className="mt-2 flex gap-2">
              {c.actions.map((a) => (
                <span key={a.id} className="rounded border border-slate-300 px-2 py-0.5 text-xs dark:border-slate-600">
                  {a.label}
                </span>
              ))}
            </div>
          )}
        </div>
      );
    }
    case "push": {
      const c = content as ChannelContent["push"];
      return (
        <div className="mx-auto w-72 rounded-[2rem] border-4 border-slate-800 bg-slate-900 p-3 shadow-lg">
          <div className="rounded-2xl bg-white/90 p-3 text-slate-900 backdrop-blur">
            <p className="text-[10px] uppercase tracking-wide text-slate-500">Notify · now</p>
            <p data-testid="preview-title" className="text-sm font-semibold">
              {c.title}
            </p>
            {c.body && <p className="text-sm">{c.body}</p>}
          </div>
          <p className="mt-2 text-center text-[10px] text-slate-400">{c.url ? `Opens ${c.url}` : "Opens the app"}</p>
        </div>
      );
    }
    case "email": {
      const c = content as ChannelContent["email"];
      return (
        <div className="overflow-hidden rounded-lg border border-slate-200 dark:border-slate-700">
          <p className="border-b border-slate-200 bg-slate-50 px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-900">
            <span className="text-slate-500">Subject: </span>
            <span data-testid="preview-title">{c.subject}</span>
          </p>
          {/* No scripts, no same-origin access: the email is shown as a mail client would. */}
          <iframe title="Email preview" sandbox="" srcDoc={c.html} className="h-64 w-full bg-white" />
          <details className="border-t border-slate-200 px-3 py-2 text-xs dark:border-slate-700">
            <summary className="cursor-pointer text-slate-500">Text part</summary>
            <pre className="mt-1 whitespace-pre-wrap">{c.text}</pre>
          </details>
        </div>
      );
    }
    case "sms": {
      const c = content as ChannelContent["sms"];
      return (
        <div>
          <p data-testid="preview-title" className="max-w-xs rounded-2xl rounded-bl-sm bg-slate-200 px-3 py-2 text-sm text-slate-900">
            {c.body}
          </p>
          <p className="mt-1 text-xs text-slate-500" data-testid="sms-count">
            {c.characters} characters · {c.segments} {c.segments === 1 ? "segment" : "segments"} ({c.encoding})
          </p>
        </div>
      );
    }
  }
}
