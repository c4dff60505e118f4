"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Channel, Priority } from "@/server/notifications/notifications.schema";
import type { Templates } from "@/server/types/types.schema";
import { AdminApiError, adminApi, draftOf, newDraft, type FieldError, type NotificationType, type TypeDraft } from "@/components/admin/admin-api";
import { TemplatePreview, type SampleData } from "@/components/admin/template-preview";

const CHANNELS: Channel[] = ["in_app", "push", "email", "sms"];
const CHANNEL_LABEL: Record<Channel, string> = { in_app: "In-app", push: "Push", email: "Email", sms: "SMS" };
const PRIORITIES: Priority[] = ["urgent", "high", "normal", "low"];
const CATEGORIES = ["transactional", "engagement", "promotional", "system"];

/** The template fields of each channel, as the editor shows them. */
const FIELDS: Record<Channel, { key: string; label: string; rows: number; required?: boolean }[]> = {
  in_app: [
    { key: "title", label: "Title", rows: 1, required: true },
    { key: "body", label: "Body", rows: 2 },
  ],
  push: [
    { key: "title", label: "Title", rows: 1, required: true },
    { key: "body", label: "Body", rows: 2 },
    { key: "icon", label: "Icon (URL)", rows: 1 },
    { key: "url", label: "Opens (URL)", rows: 1 },
  ],
  email: [
    { key: "subject", label: "Subject", rows: 1, required: true },
    { key: "html", label: "HTML body (variables are escaped; add | raw to trust one)", rows: 8, required: true },
    { key: "text", label: "Text body (optional; derived from the HTML when empty)", rows: 4 },
  ],
  sms: [{ key: "body", label: "Message", rows: 3, required: true }],
};

const input = "w-full rounded-md border border-slate-300 bg-transparent px-2 py-1 text-sm dark:border-slate-700";

/** Types and templates: list, create, edit, duplicate, archive, with a live preview per channel. */
export function TypesAdmin() {
  const client = useQueryClient();
  const types = useQuery({ queryKey: ["admin", "types"], queryFn: () => adminApi<{ types: NotificationType[] }>("/types") });
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  // What the last save did; kept here because saving re-mounts the editor with the saved type.
  const [notice, setNotice] = useState<string | null>(null);

  const current = types.data?.types.find((t) => t.key === selected) ?? null;
  const refresh = () => client.invalidateQueries({ queryKey: ["admin", "types"] });

  return (
    <div className="grid gap-6 md:grid-cols-[14rem_1fr]">
      <aside aria-label="Notification types">
        <button
          type="button"
          onClick={() => {
            setCreating(true);
            setSelected(null);
            setNotice(null);
          }}
          className="mb-3 w-full rounded-md bg-brand-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-brand-700"
        >
          New type
        </button>
        {types.isLoading && <p className="text-sm text-slate-500">Loading…</p>}
        <ul className="space-y-1">
          {types.data?.types.map((t) => (
            <li key={t.key}>
              <button
                type="button"
                aria-current={t.key === selected ? "true" : undefined}
                onClick={() => {
                  setSelected(t.key);
                  setCreating(false);
                  setNotice(null);
                }}
                className={`w-full rounded-md px-2 py-1.5 text-left text-sm ${t.key === selected ? "bg-slate-100 font-medium dark:bg-slate-800" : "hover:bg-slate-50 dark:hover:bg-slate-900"} ${t.archived ? "text-slate-400" : ""}`}
              >
                {t.name}
                <span className="block text-xs text-slate-500">
                  {t.key} · v{t.templateVersion}
                  {t.archived ? " · archived" : ""}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <div className="space-y-3">
        {notice && (
          <p role="status" className="text-sm text-emerald-700 dark:text-emerald-300">
            {notice}
          </p>
        )}
        {creating ? (
          <TypeEditor
            key="new"
            isNew
            initial={newDraft()}
            onSaved={(key, text) => {
              void refresh();
              setCreating(false);
              setSelected(key);
              setNotice(text);
            }}
          />
        ) : current ? (
          <TypeEditor
            key={`${current.key}:${current.updatedAt}`}
            typeKey={current.key}
            version={current.templateVersion}
            initial={draftOf(current)}
            onSaved={(key, text) => {
              void refresh();
              setSelected(key);
              setNotice(text);
            }}
          />
        ) : (
          <p className="text-sm text-slate-500">Pick a type to edit it, or create a new one.</p>
        )}
      </div>
    </div>
  );
}

function TypeEditor({ typeKey, version, initial, isNew, onSaved }: { typeKey?: string; version?: number; initial: TypeDraft; isNew?: boolean; onSaved: (key: string, notice: string) => void }) {
  const [key, setKey] = useState(typeKey ?? "");
  const [draft, setDraft] = useState<TypeDraft>(initial);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [channel, setChannel] = useState<Channel>(initial.channels[0] ?? "in_app");
  const [sample, setSample] = useState<SampleData>({ actorName: "John Doe", data: '{\n  "excerpt": "Looks great!"\n}' });
  const [busy, setBusy] = useState(false);
  // "" edits the default templates; a locale edits that language's variant (overrides per channel).
  const [locale, setLocale] = useState("");

  const update = (patch: Partial<TypeDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const setTemplate = (ch: Channel, field: string, value: string) =>
    setDraft((d) => {
      const source = locale ? (d.locales[locale]?.[ch] ?? d.templates[ch]) : d.templates[ch];
      const next: Record<string, unknown> = { ...(source as Record<string, unknown> | undefined), [field]: value };
      if (value === "" && !FIELDS[ch].find((f) => f.key === field)?.required) delete next[field];
      if (!locale) return { ...d, templates: { ...d.templates, [ch]: next } as Templates };
      return { ...d, locales: { ...d.locales, [locale]: { ...d.locales[locale], [ch]: next } as Templates } };
    });
  const setActions = (actions: NonNullable<NonNullable<Templates["in_app"]>["actions"]>) =>
    setDraft((d) => ({ ...d, templates: { ...d.templates, in_app: { title: "", body: "", ...d.templates.in_app, actions: actions.length > 0 ? actions : undefined } } }));
  const toggleChannel = (ch: Channel, on: boolean) =>
    setDraft((d) => {
      const channels = on ? CHANNELS.filter((c) => c === ch || d.channels.includes(c)) : d.channels.filter((c) => c !== ch);
      const templates = { ...d.templates };
      if (!on) delete templates[ch];
      return { ...d, channels, templates };
    });
  const fieldError = (path: string) => errors.filter((e) => e.field === path || e.field.startsWith(`${path}.`)).map((e) => e.message);

  const save = async (body: TypeDraft, targetKey: string, done: string) => {
    setBusy(true);
    setErrors([]);
    setMessage(null);
    try {
      const saved = await adminApi<NotificationType>(`/types/${encodeURIComponent(targetKey)}`, { method: "PUT", body: JSON.stringify(body) });
      onSaved(saved.key, `${done}: ${saved.name} (template version ${saved.templateVersion}).`);
    } catch (caught) {
      setErrors(caught instanceof AdminApiError ? caught.details : []);
      setMessage(`Not saved: ${(caught as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  const shown = (locale ? { ...draft.templates, ...draft.locales[locale] } : draft.templates) as Record<Channel, Record<string, string> | undefined>;
  const overridden = (ch: Channel) => Boolean(locale && draft.locales[locale]?.[ch]);
  return (
    <section aria-label={isNew ? "New type" : `Edit ${typeKey}`} className="space-y-5">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">{isNew ? "New notification type" : `${draft.name || typeKey}`}</h2>
        {!isNew && <span className="text-xs text-slate-500">template version {version}</span>}
      </div>
      {message && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {message}
        </p>
      )}
      <div className="grid gap-3 sm:grid-cols-2">
        <label className="text-sm">
          Key
          <input className={input} value={key} disabled={!isNew} onChange={(e) => setKey(e.target.value)} placeholder="e.g. invoice_paid" />
        </label>
        <label className="text-sm">
          Name
          <input className={input} value={draft.name} onChange={(e) => update({ name: e.target.value })} />
          <FieldErrors messages={fieldError("name")} />
        </label>
        <label className="text-sm">
          Category
          <input className={input} list="categories" value={draft.category} onChange={(e) => update({ category: e.target.value })} />
          <datalist id="categories">
            {CATEGORIES.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
          <FieldErrors messages={fieldError("category")} />
        </label>
        <label className="text-sm">
          Default priority
          <select className={input} value={draft.priority} onChange={(e) => update({ priority: e.target.value as Priority })}>
            {PRIORITIES.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
      </div>
      <fieldset className="text-sm">
        <legend className="font-medium">Channels</legend>
        <div className="mt-1 flex flex-wrap gap-4">
          {CHANNELS.map((c) => (
            <label key={c} className="flex items-center gap-1.5">
              <input type="checkbox" className="accent-brand-600" checked={draft.channels.includes(c)} onChange={(e) => toggleChannel(c, e.target.checked)} />
              {CHANNEL_LABEL[c]}
            </label>
          ))}
        </div>
        <FieldErrors messages={fieldError("channels")} />
      </fieldset>
      <fieldset className="text-sm" disabled={!draft.optOut}>
        <legend className="font-medium">On by default (for users who have not chosen)</legend>
        <div className="mt-1 flex flex-wrap gap-4">
          {draft.channels.map((c) => (
            <label key={c} className="flex items-center gap-1.5">
              <input
                type="checkbox"
                aria-label={`${CHANNEL_LABEL[c]} on by default`}
                className="accent-brand-600"
                checked={draft.defaults[c] !== false}
                onChange={(e) => update({ defaults: { ...draft.defaults, [c]: e.target.checked } })}
              />
              {CHANNEL_LABEL[c]}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="flex flex-wrap gap-4 text-sm">
        <label className="flex items-center gap-1.5">
          <input type="checkbox" className="accent-brand-600" checked={draft.optOut} onChange={(e) => update({ optOut: e.target.checked })} />
          Users may turn it off
        </label>
        <label className="flex items-center gap-1.5">
          <input type="checkbox" className="accent-brand-600" checked={draft.respectQuietHours} onChange={(e) => update({ respectQuietHours: e.target.checked })} />
          Waits for quiet hours and do-not-disturb
        </label>
        <label className="flex items-center gap-1.5">
          At most
          <input
            type="number"
            min={1}
            className="w-20 rounded-md border border-slate-300 bg-transparent px-2 py-1 text-sm dark:border-slate-700"
            value={draft.limits?.perHour ?? ""}
            onChange={(e) => update({ limits: e.target.value ? { ...draft.limits, perHour: Number(e.target.value) } : draft.limits?.perDay ? { perDay: draft.limits.perDay } : null })}
          />
          per hour per user (push, email, SMS)
        </label>
      </div>
      <div className="flex flex-wrap items-center gap-4 text-sm">
        <label className="flex items-center gap-1.5" title="While the user's notification is unread, later events of the same group update it (&quot;John, Mary and 5 others&quot;) instead of adding another.">
          <input
            type="checkbox"
            className="accent-brand-600"
            checked={draft.aggregate !== null}
            onChange={(e) => update({ aggregate: e.target.checked ? { window: "1h" } : null })}
          />
          Group events into one notification for
        </label>
        <input
          aria-label="Grouping window"
          disabled={draft.aggregate === null}
          placeholder="1h"
          className="w-16 rounded-md border border-slate-300 bg-transparent px-2 py-1 text-sm disabled:opacity-50 dark:border-slate-700"
          value={draft.aggregate?.window ?? ""}
          onChange={(e) => draft.aggregate && update({ aggregate: { ...draft.aggregate, window: e.target.value.trim() } })}
        />
        <label className="flex items-center gap-1.5">
          by
          <input
            aria-label="Grouped by"
            disabled={draft.aggregate === null}
            placeholder="type:targetType:targetId"
            className="w-56 rounded-md border border-slate-300 bg-transparent px-2 py-1 font-mono text-xs disabled:opacity-50 dark:border-slate-700"
            value={draft.aggregate?.key ?? ""}
            onChange={(e) => draft.aggregate && update({ aggregate: { window: draft.aggregate.window, ...(e.target.value.trim() ? { key: e.target.value.trim() } : {}) } })}
          />
        </label>
        {(["push", "email"] as const)
          .filter((c) => draft.channels.includes(c))
          .map((c) => (
            <label key={c} className="flex items-center gap-1.5" title={`The first ${CHANNEL_LABEL[c].toLowerCase()} opens a window; at its end one message sums it up. Urgent ones never wait.`}>
              {CHANNEL_LABEL[c]}: one summary per
              <input
                aria-label={`${CHANNEL_LABEL[c]} batching window`}
                placeholder="off"
                className="w-16 rounded-md border border-slate-300 bg-transparent px-2 py-1 text-sm dark:border-slate-700"
                value={draft.batch?.[c] ?? ""}
                onChange={(e) => {
                  const { [c]: _, ...rest } = draft.batch ?? {};
                  const next = e.target.value.trim() ? { ...rest, [c]: e.target.value.trim() } : rest;
                  update({ batch: Object.keys(next).length > 0 ? next : null });
                }}
              />
            </label>
          ))}
      </div>

      <div className="grid gap-6 lg:grid-cols-2">
        <div className="space-y-4">
          <div role="tablist" aria-label="Channel templates" className="flex gap-1">
            {draft.channels.map((c) => (
              <button
                key={c}
                type="button"
                role="tab"
                aria-selected={channel === c}
                onClick={() => setChannel(c)}
                className={`rounded-md px-3 py-1 text-sm ${channel === c ? "bg-slate-100 font-medium dark:bg-slate-800" : "text-slate-500"}`}
              >
                {CHANNEL_LABEL[c]}
              </button>
            ))}
          </div>
          <div className="flex flex-wrap items-center gap-2 text-sm">
            <label className="flex items-center gap-1.5">
              Language
              <select aria-label="Language" value={locale} onChange={(e) => setLocale(e.target.value)} className="rounded-md border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700">
                <option value="">Default</option>
                {Object.keys(draft.locales).map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            </label>
            <button
              type="button"
              className="text-xs text-brand-600 underline"
              onClick={() => {
                const code = window.prompt("Language code (e.g. de, pt-BR)")?.trim();
                if (!code) return;
                setDraft((d) => ({ ...d, locales: { ...d.locales, [code]: d.locales[code] ?? {} } }));
                setLocale(code);
              }}
            >
              Add language
            </button>
            {locale && (
              <span className="text-xs text-slate-500">
                {overridden(channel) ? `${CHANNEL_LABEL[channel]} has its own ${locale} text.` : `${CHANNEL_LABEL[channel]} falls back to the default until you edit it here.`}
              </span>
            )}
          </div>
          {draft.channels.includes(channel) && (
            <div className="space-y-3">
              {shown[channel] === undefined && channel === "in_app" && <p className="text-xs text-slate-500">Without an in-app template, every trigger must carry its own title.</p>}
              {FIELDS[channel].map((f) => (
                <label key={f.key} className="block text-sm">
                  {f.label}
                  <textarea
                    aria-label={`${CHANNEL_LABEL[channel]} ${f.key}`}
                    rows={f.rows}
                    className={`${input} font-mono`}
                    value={shown[channel]?.[f.key] ?? ""}
                    onChange={(e) => setTemplate(channel, f.key, e.target.value)}
                  />
                  <FieldErrors messages={fieldError(`templates.${channel}.${f.key}`)} />
                </label>
              ))}
              {channel === "in_app" && !locale && <ActionsEditor actions={draft.templates.in_app?.actions ?? []} onChange={setActions} />}
              <p className="text-xs text-slate-500">
                Liquid: <code>{"{{ actor.name }}"}</code>, <code>{"{{ actors }}"}</code>, <code>{"{{ actorCount }}"}</code>, <code>{"{{ actors | actor_names: actorCount }}"}</code> (&quot;John, Mary and 5 others&quot;), <code>{"{{ batchCount }}"}</code> (a batch&apos;s summary), <code>{"{{ target.url }}"}</code>, <code>{"{{ data.… }}"}</code>,{" "}
                <code>{"{{ recipient.name }}"}</code>.
              </p>
            </div>
          )}
          <fieldset className="space-y-2 rounded-lg border border-dashed border-slate-300 p-3 text-sm dark:border-slate-700">
            <legend className="px-1 text-xs font-medium text-slate-500">Sample data for the preview</legend>
            <label className="block">
              Actor name
              <input className={input} value={sample.actorName} onChange={(e) => setSample((s) => ({ ...s, actorName: e.target.value }))} />
            </label>
            <div className="flex gap-3">
              <label className="block">
                People in the group
                <input
                  type="number"
                  min={1}
                  max={1000}
                  className={input}
                  value={sample.people ?? 1}
                  onChange={(e) => setSample((s) => ({ ...s, people: Math.max(1, Number(e.target.value) || 1) }))}
                />
              </label>
              <label className="block">
                Events in a batch
                <input
                  type="number"
                  min={1}
                  max={1000}
                  className={input}
                  value={sample.batch ?? 1}
                  onChange={(e) => setSample((s) => ({ ...s, batch: Math.max(1, Number(e.target.value) || 1) }))}
                />
              </label>
            </div>
            <label className="block">
              data (JSON)
              <textarea rows={3} className={`${input} font-mono`} value={sample.data} onChange={(e) => setSample((s) => ({ ...s, data: e.target.value }))} />
            </label>
          </fieldset>
        </div>
        <div>
          <h3 className="mb-2 text-sm font-medium">Preview: {CHANNEL_LABEL[channel]}</h3>
          {draft.channels.includes(channel) && <TemplatePreview typeKey={key} channel={channel} templates={draft.templates} locales={draft.locales} locale={locale || undefined} sample={sample} />}
          {!isNew && typeKey && <VersionHistory typeKey={typeKey} version={version ?? 0} />}
        </div>
      </div>

      <div className="flex flex-wrap gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
        <button type="button" disabled={busy || !key} onClick={() => void save(draft, key, isNew ? "Created" : "Saved")} className="rounded-md bg-brand-600 px-4 py-1.5 text-sm font-medium text-white hover:bg-brand-700 disabled:opacity-50">
          {isNew ? "Create type" : "Save"}
        </button>
        {!isNew && (
          <>
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                const copy = window.prompt("Key of the copy", `${key}_copy`);
                if (copy) void save({ ...draft, name: `${draft.name} (copy)`, archived: false }, copy, `Duplicated as ${copy}`);
              }}
              className="rounded-md border border-slate-300 px-3 py-1.5 text-sm dark:border-slate-700"
            >
              Duplicate
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() => void save({ ...draft, archived: !draft.archived }, key, draft.archived ? "Restored" : "Archived")}
              className="rounded-md border border-slate-300 px-3 py-1.5 text-sm dark:border-slate-700"
            >
              {draft.archived ? "Restore" : "Archive"}
            </button>
          </>
        )}
      </div>
    </section>
  );
}

function FieldErrors({ messages }: { messages: string[] }) {
  if (messages.length === 0) return null;
  return <span className="mt-0.5 block text-xs text-red-700 dark:text-red-300">{messages.join("; ")}</span>;
}

type ActionTemplate = NonNullable<NonNullable<Templates["in_app"]>["actions"]>[number];

/** The in-app action buttons: label, what it does, and its URL (Liquid allowed). */
function ActionsEditor({ actions, onChange }: { actions: ActionTemplate[]; onChange: (actions: ActionTemplate[]) => void }) {
  const set = (i: number, patch: Partial<ActionTemplate>) => onChange(actions.map((a, j) => (j === i ? { ...a, ...patch } : a)));
  return (
    <fieldset className="space-y-2 text-sm">
      <legend className="font-medium">Action buttons</legend>
      {actions.map((a, i) => (
        <div key={i} className="flex flex-wrap items-center gap-2">
          <input aria-label={`Action ${i + 1} label`} className="w-28 rounded-md border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" value={a.label} onChange={(e) => set(i, { label: e.target.value })} />
          <select aria-label={`Action ${i + 1} kind`} className="rounded-md border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" value={a.kind} onChange={(e) => set(i, { kind: e.target.value as ActionTemplate["kind"] })}>
            <option value="navigate">opens a page</option>
            <option value="api_call">calls your API</option>
            <option value="dismiss">dismisses</option>
          </select>
          {a.kind !== "dismiss" && (
            <input aria-label={`Action ${i + 1} URL`} placeholder={a.kind === "api_call" ? "/api/…" : "{{ target.url }}"} className="min-w-0 flex-1 rounded-md border border-slate-300 bg-transparent px-2 py-1 font-mono dark:border-slate-700" value={a.url ?? ""} onChange={(e) => set(i, { url: e.target.value || undefined })} />
          )}
          <button type="button" aria-label={`Remove action ${i + 1}`} className="text-slate-400 hover:text-red-600" onClick={() => onChange(actions.filter((_, j) => j !== i))}>
            ×
          </button>
        </div>
      ))}
      {actions.length < 5 && (
        <button type="button" className="text-xs text-brand-600 underline" onClick={() => onChange([...actions, { id: `action_${actions.length + 1}`, label: "Open", kind: "navigate", url: "{{ target.url }}" }])}>
          Add a button
        </button>
      )}
    </fieldset>
  );
}

/** Every saved version of the templates, newest first. */
function VersionHistory({ typeKey, version }: { typeKey: string; version: number }) {
  const versions = useQuery({
    queryKey: ["admin", "versions", typeKey, version],
    queryFn: () => adminApi<{ versions: { version: number; savedBy: string | null; createdAt: string }[] }>(`/types/${encodeURIComponent(typeKey)}/versions`),
  });
  return (
    <details className="mt-4 text-sm">
      <summary className="cursor-pointer text-slate-500">Template versions ({versions.data?.versions.length ?? "…"})</summary>
      <ol className="mt-2 space-y-1 text-xs text-slate-500">
        {versions.data?.versions.map((v) => (
          <li key={v.version}>
            v{v.version} · {new Date(v.createdAt).toLocaleString()} · {v.savedBy ?? "unknown"}
            {v.version === version ? " · current" : ""}
          </li>
        ))}
      </ol>
    </details>
  );
}
