"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { formatDistanceToNowStrict } from "date-fns";
import { Fragment, useState } from "react";
import { AdminApiError, adminApi } from "@/components/admin/admin-api";
import { MAX_RECIPIENTS_PER_SECOND, MAX_REQUESTS_PER_SECOND, type ServiceKeyLimits } from "@/server/auth/service-key-input";

type Limits = { requestsPerSecond: number; recipientsPerSecond: number };
type Key = { id: string; name: string; prefix: string; scopes: string[]; createdAt: string; lastUsedAt: string | null; revokedAt: string | null; limits: ServiceKeyLimits; effectiveLimits: Limits };
type KeyList = { keys: Key[]; defaults: Limits & { burstSeconds: number } };
type LimitField = keyof ServiceKeyLimits;

const LIMIT_FIELDS: { field: LimitField; label: string; unit: string; max: number }[] = [
  { field: "requestsPerSecond", label: "Requests per second", unit: "requests", max: MAX_REQUESTS_PER_SECOND },
  { field: "recipientsPerSecond", label: "Recipients per second", unit: "recipients", max: MAX_RECIPIENTS_PER_SECOND },
];

const perSecond = (value: number) => (value === 0 ? "unlimited" : `${value.toLocaleString("en-US")}/s`);

/** "default (1,000/s)" for a key without its own limit, else its own ("500/s", "unlimited"). */
function describeLimit(own: number | null, fallback: number): string {
  return own === null ? `default (${perSecond(fallback)})` : perSecond(own);
}

/** An input as the API takes it: empty is the default (null); otherwise a whole number within range, or a message saying what is wrong. */
function parseLimit(text: string, max: number): { value: number | null } | { error: string } {
  const trimmed = text.trim().replaceAll(",", "");
  if (trimmed === "") return { value: null };
  if (!/^\d+$/.test(trimmed)) return { error: "Enter a whole number (0 for unlimited), or leave it empty for the default." };
  const value = Number(trimmed);
  if (value > max) return { error: `At most ${max.toLocaleString("en-US")} per second.` };
  return { value };
}

/** A key's own limits, edited in its row: empty fields go back to the deployment default. */
function LimitsEditor({ keyRow, defaults, onDone }: { keyRow: Key; defaults: Limits; onDone: (saved: boolean) => void }) {
  const [texts, setTexts] = useState<Record<LimitField, string>>({
    requestsPerSecond: keyRow.limits.requestsPerSecond?.toString() ?? "",
    recipientsPerSecond: keyRow.limits.recipientsPerSecond?.toString() ?? "",
  });
  const [errors, setErrors] = useState<Partial<Record<LimitField, string>>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const save = async () => {
    const limits: Partial<ServiceKeyLimits> = {};
    const found: Partial<Record<LimitField, string>> = {};
    for (const { field, max } of LIMIT_FIELDS) {
      const parsed = parseLimit(texts[field], max);
      if ("error" in parsed) found[field] = parsed.error;
      else limits[field] = parsed.value;
    }
    setErrors(found);
    setFailure(null);
    if (Object.keys(found).length > 0) return;
    setSaving(true);
    try {
      await adminApi(`/service-keys/${keyRow.id}`, { method: "PATCH", body: JSON.stringify({ limits }) });
      onDone(true);
    } catch (caught) {
      // The server's own check names the field (details: limits.requestsPerSecond, ...).
      const details = caught instanceof AdminApiError ? caught.details : [];
      setErrors(Object.fromEntries(LIMIT_FIELDS.flatMap(({ field }) => details.filter((d) => d.field.endsWith(field)).map((d) => [field, d.message]))));
      setFailure((caught as Error).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form
      aria-label={`Limits of ${keyRow.name}`}
      className="flex flex-wrap items-start gap-3 py-2"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      {LIMIT_FIELDS.map(({ field, label }) => {
        const inputId = `${keyRow.id}-${field}`;
        return (
          <div key={field} className="flex flex-col gap-1 text-xs">
            <label htmlFor={inputId}>{label}</label>
            <input
              id={inputId}
              value={texts[field]}
              inputMode="numeric"
              placeholder={`default (${perSecond(defaults[field])})`}
              aria-invalid={errors[field] ? true : undefined}
              aria-describedby={errors[field] ? `${inputId}-error` : undefined}
              onChange={(e) => setTexts((t) => ({ ...t, [field]: e.target.value }))}
              className="w-44 rounded-md border border-slate-300 bg-transparent px-2 py-1 text-sm aria-invalid:border-red-600 dark:border-slate-700"
            />
            {errors[field] && (
              <span id={`${inputId}-error`} className="max-w-44 text-red-700 dark:text-red-300">
                {errors[field]}
              </span>
            )}
          </div>
        );
      })}
      <div className="flex items-center gap-2 self-center">
        <button type="submit" disabled={saving} className="rounded-md bg-brand-600 px-3 py-1 text-xs font-medium text-white disabled:opacity-50">
          Save limits
        </button>
        <button type="button" className="text-xs underline" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
      <p className="basis-full text-xs text-slate-500">Empty: the deployment default. 0: unlimited for this key.</p>
      {failure && (
        <p role="alert" className="basis-full text-xs text-red-700 dark:text-red-300">
          Not saved: {failure}
        </p>
      )}
    </form>
  );
}

/** Service keys: create (the key is shown once), see when each was last used and its ingestion limits, set its own limits, revoke. */
export function ServiceKeysAdmin() {
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ["admin", "keys"], queryFn: () => adminApi<KeyList>("/service-keys") });
  const [editing, setEditing] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["notify"]);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: ["admin", "keys"] });

  const create = async () => {
    setError(null);
    try {
      const result = await adminApi<{ key: string; name: string }>("/service-keys", { method: "POST", body: JSON.stringify({ name, scopes }) });
      setCreated(result);
      setName("");
      void refresh();
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  const revoke = async (key: Key) => {
    if (!window.confirm(`Revoke "${key.name}"? Services using it stop working within seconds.`)) return;
    try {
      await adminApi(`/service-keys/${key.id}`, { method: "DELETE" });
      void refresh();
    } catch (caught) {
      setError((caught as Error).message);
    }
  };

  return (
    <div className="space-y-6">
      <form
        className="flex flex-wrap items-end gap-3 text-sm"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label className="flex flex-col gap-1">
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. billing service" className="rounded-md border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
        </label>
        <fieldset className="flex gap-3">
          <legend className="sr-only">Scopes</legend>
          {["notify", "admin"].map((scope) => (
            <label key={scope} className="flex items-center gap-1">
              <input type="checkbox" className="accent-brand-600" checked={scopes.includes(scope)} onChange={(e) => setScopes((s) => (e.target.checked ? [...s, scope] : s.filter((x) => x !== scope)))} />
              {scope}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={!name || scopes.length === 0} className="rounded-md bg-brand-600 px-3 py-1.5 font-medium text-white disabled:opacity-50">
          Create key
        </button>
      </form>
      {error && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-300">
          {error}
        </p>
      )}
      {created && (
        <div role="status" className="rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-700 dark:bg-amber-950">
          <p className="font-medium">Key for “{created.name}”: copy it now, it is not shown again.</p>
          <code data-testid="new-key" className="mt-1 block break-all rounded bg-white px-2 py-1 dark:bg-slate-900">
            {created.key}
          </code>
          <button type="button" className="mt-2 text-xs underline" onClick={() => void navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>
        </div>
      )}
      <table className="w-full text-sm">
        <thead>
          <tr className="text-left text-xs uppercase tracking-wide text-slate-500">
            <th className="py-2 font-medium">Name</th>
            <th className="font-medium">Key</th>
            <th className="font-medium">Scopes</th>
            <th className="font-medium">Last used</th>
            <th className="font-medium">Ingestion limits</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.data?.keys.map((k) => (
            <Fragment key={k.id}>
              <tr data-testid={`key-${k.id}`} className={`border-t border-slate-200 dark:border-slate-800 ${k.revokedAt ? "text-slate-400" : ""}`}>
                <td className="py-2">{k.name}</td>
                <td className="font-mono text-xs">{k.prefix}…</td>
                <td>{k.scopes.join(", ")}</td>
                <td>{k.lastUsedAt ? formatDistanceToNowStrict(new Date(k.lastUsedAt), { addSuffix: true }) : "never"}</td>
                <td className="text-xs" data-testid="key-limits">
                  {LIMIT_FIELDS.map(({ field, unit }) => (
                    <div key={field}>
                      {unit}: {describeLimit(k.limits[field], keys.data.defaults[field])}
                    </div>
                  ))}
                </td>
                <td className="space-x-3 text-right">
                  {k.revokedAt ? (
                    "revoked"
                  ) : (
                    <>
                      <button type="button" className="underline" aria-label={`Edit limits of ${k.name}`} onClick={() => setEditing(editing === k.id ? null : k.id)}>
                        Limits
                      </button>
                      <button type="button" className="text-red-700 underline dark:text-red-300" onClick={() => void revoke(k)}>
                        Revoke
                      </button>
                    </>
                  )}
                </td>
              </tr>
              {editing === k.id && !k.revokedAt && (
                <tr>
                  <td colSpan={6}>
                    <LimitsEditor
                      keyRow={k}
                      defaults={keys.data.defaults}
                      onDone={(saved) => {
                        setEditing(null);
                        if (saved) void refresh();
                      }}
                    />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      <p className="text-xs text-slate-500">
        The key in the SERVICE_API_KEY environment variable is not listed: it always works, with every scope, at the default limits. Limits are per second, with bursts of{" "}
        {keys.data?.defaults.burstSeconds ?? "…"} seconds&apos; worth; past them a trigger is refused (429) and nothing is stored.
      </p>
    </div>
  );
}
