"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { format } from "date-fns";
import { useEffect, useMemo, useState } from "react";
import { mergePreferences, type Channel, type Preferences, type PreferencesInput } from "@/server/preferences/preferences.schema";
import { preferencesKey } from "@/components/notifications/notification-provider";

type UserType = { key: string; name: string; category: string; channels: Channel[]; optOut: boolean; defaults: Partial<Record<Channel, boolean>> };

const CHANNELS: { key: Channel; label: string; hint: string }[] = [
  { key: "in_app", label: "In-app", hint: "The bell and this inbox" },
  { key: "push", label: "Push", hint: "Browser and phone notifications" },
  { key: "email", label: "Email", hint: "To your email address" },
  { key: "sms", label: "SMS", hint: "Text messages; may cost money" },
];

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { ...init, credentials: "same-origin", headers: { "content-type": "application/json" } });
  const body = (await response.json().catch(() => null)) as (T & { error?: { message: string } }) | null;
  if (!response.ok) throw new Error(body?.error?.message ?? `Request failed (${response.status})`);
  return body as T;
}

/** Whether `type` reaches the user on `channel`, as routing would decide from these preferences. */
function effective(preferences: Preferences, type: UserType, channel: Channel): boolean {
  if (!type.optOut) return true;
  if (!preferences.channels[channel]) return false;
  return preferences.types[type.key]?.[channel] ?? preferences.categories[type.category]?.[channel] ?? type.defaults[channel] ?? true;
}

const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
const timeZones = (): string[] => (typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [browserTimeZone()]);

/**
 * The user's notification settings: channel switches, a grid of types × channels, quiet hours,
 * do-not-disturb and email frequency. Every change is saved at once (optimistically, undone with a
 * message if the server refuses) and reaches the user's other tabs and devices.
 */
export function PreferencesForm() {
  const client = useQueryClient();
  const preferences = useQuery({ queryKey: preferencesKey, queryFn: () => api<Preferences>("/api/preferences"), staleTime: Infinity });
  const types = useQuery({ queryKey: ["notification-types"], queryFn: () => api<{ types: UserType[] }>("/api/notification-types") });
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  // The change the user just made, shown at once (the query cache notifies a tick later, and a
  // controlled checkbox would flip back in between); cleared whenever the cached preferences change.
  const [pending, setPending] = useState<Preferences | null>(null);
  useEffect(() => setPending(null), [preferences.data]);
  const save = useMutation({
    mutationFn: (patch: PreferencesInput) => api<Preferences>("/api/preferences", { method: "PUT", body: JSON.stringify(patch) }),
    onSuccess: (next) => {
      client.setQueryData(preferencesKey, next);
      setSaved(true);
    },
  });
  /**
   * Optimistic, synchronously (so a checkbox never flips back before it flips forward); undone with
   * a message if the server refuses. The server's answer then replaces the local merge.
   */
  const change = (patch: PreferencesInput) => {
    setError(null);
    setSaved(false);
    void client.cancelQueries({ queryKey: preferencesKey });
    const before = client.getQueryData<Preferences>(preferencesKey);
    if (before) {
      const next = mergePreferences(pending ?? before, patch);
      setPending(next);
      client.setQueryData<Preferences>(preferencesKey, next);
    }
    save.mutate(patch, {
      onError: (caught) => {
        if (before) client.setQueryData(preferencesKey, before);
        setError(`Not saved: ${(caught as Error).message}`);
      },
    });
  };

  const grouped = useMemo(() => {
    const byCategory = new Map<string, UserType[]>();
    for (const type of types.data?.types ?? []) byCategory.set(type.category, [...(byCategory.get(type.category) ?? []), type]);
    return [...byCategory];
  }, [types.data]);

  if (preferences.isLoading || types.isLoading) return <p className="p-6 text-sm text-slate-500">Loading your settings…</p>;
  if (!preferences.data || !types.data) return <p className="p-6 text-sm text-red-700">Your settings could not be loaded. Reload the page to try again.</p>;
  const p = pending ?? preferences.data;

  return (
    <div className="space-y-8 px-4 py-6">
      <div aria-live="polite" className="min-h-5 text-sm">
        {error ? (
          <p role="alert" className="text-red-700 dark:text-red-300">
            {error}
          </p>
        ) : saved ? (
          <p className="text-emerald-700 dark:text-emerald-300">Saved. Applies to the next notification.</p>
        ) : null}
      </div>

      <section aria-labelledby="channels-heading">
        <h2 id="channels-heading" className="text-base font-semibold">
          Where we reach you
        </h2>
        <p className="text-sm text-slate-500">Turning a channel off stops everything on it, except notifications marked as required.</p>
        <div className="mt-3 grid gap-2 sm:grid-cols-2">
          {CHANNELS.map((c) => (
            <label key={c.key} className="flex items-start gap-3 rounded-lg border border-slate-200 p-3 dark:border-slate-800">
              <input type="checkbox" className="mt-1 h-4 w-4 accent-brand-600" checked={p.channels[c.key]} onChange={(e) => change({ channels: { [c.key]: e.target.checked } })} />
              <span>
                <span className="block text-sm font-medium">{c.label}</span>
                <span className="block text-xs text-slate-500">{c.hint}</span>
              </span>
            </label>
          ))}
        </div>
      </section>

      <section aria-labelledby="types-heading">
        <h2 id="types-heading" className="text-base font-semibold">
          What we send
        </h2>
        <div className="mt-3 overflow-x-auto">
          <table className="w-full min-w-[28rem] text-sm">
            <thead>
              <tr className="text-left text-xs uppercase tracking-wide text-slate-500">
                <th className="py-2 pr-4 font-medium">Notification</th>
                {CHANNELS.map((c) => (
                  <th key={c.key} className="px-2 py-2 text-center font-medium">
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            {grouped.map(([category, list]) => (
              <tbody key={category} className="border-t border-slate-200 dark:border-slate-800">
                <tr>
                  <th colSpan={5} scope="rowgroup" className="pt-3 pb-1 text-left text-xs font-semibold capitalize text-slate-500">
                    {category}
                  </th>
                </tr>
                {list.map((type) => (
                  <tr key={type.key}>
                    <th scope="row" className="py-1.5 pr-4 text-left font-normal">
                      {type.name}
                      {!type.optOut && <span className="ml-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-500 dark:bg-slate-800">required</span>}
                    </th>
                    {CHANNELS.map((c) => (
                      <td key={c.key} className="px-2 py-1.5 text-center">
                        {type.channels.includes(c.key) ? (
                          <input
                            type="checkbox"
                            aria-label={`${type.name}: ${c.label}`}
                            title={!type.optOut ? "Required: this notification cannot be turned off" : !p.channels[c.key] ? `${c.label} is off for everything` : undefined}
                            className="h-4 w-4 accent-brand-600 disabled:opacity-50"
                            checked={effective(p, type, c.key)}
                            disabled={!type.optOut || !p.channels[c.key]}
                            onChange={(e) => change({ types: { [type.key]: { [c.key]: e.target.checked } } })}
                          />
                        ) : (
                          <span aria-hidden className="text-slate-300 dark:text-slate-700">
                            –
                          </span>
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            ))}
          </table>
        </div>
      </section>

      <QuietHours preferences={p} onChange={change} />
      <DoNotDisturb preferences={p} onChange={change} />

      <section aria-labelledby="email-heading">
        <h2 id="email-heading" className="text-base font-semibold">
          Email frequency
        </h2>
        <div role="radiogroup" aria-labelledby="email-heading" className="mt-2 flex flex-wrap gap-4 text-sm">
          {(
            [
              ["instant", "As it happens"],
              ["daily", "Daily digest"],
              ["weekly", "Weekly digest"],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className="flex items-center gap-2">
              <input type="radio" name="emailFrequency" className="accent-brand-600" checked={p.emailFrequency === value} onChange={() => change({ emailFrequency: value })} />
              {label}
            </label>
          ))}
        </div>
      </section>
    </div>
  );
}

function QuietHours({ preferences, onChange }: { preferences: Preferences; onChange: (patch: PreferencesInput) => void }) {
  const quiet = preferences.quietHours;
  const zones = useMemo(timeZones, []);
  const set = (next: Partial<NonNullable<Preferences["quietHours"]>>) => onChange({ quietHours: { start: "22:00", end: "07:00", timeZone: browserTimeZone(), ...quiet, ...next } });
  return (
    <section aria-labelledby="quiet-heading">
      <h2 id="quiet-heading" className="text-base font-semibold">
        Quiet hours
      </h2>
      <p className="text-sm text-slate-500">Push, email and SMS wait until the quiet hours end. The inbox always updates; urgent messages come through.</p>
      <label className="mt-3 flex items-center gap-2 text-sm">
        <input type="checkbox" className="h-4 w-4 accent-brand-600" checked={quiet !== null} onChange={(e) => (e.target.checked ? set({}) : onChange({ quietHours: null }))} />
        Use quiet hours
      </label>
      {quiet && (
        <div className="mt-3 flex flex-wrap items-end gap-3 text-sm">
          <label className="flex flex-col gap-1">
            From
            <input type="time" value={quiet.start} onChange={(e) => e.target.value && set({ start: e.target.value })} className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
          </label>
          <label className="flex flex-col gap-1">
            To
            <input type="time" value={quiet.end} onChange={(e) => e.target.value && set({ end: e.target.value })} className="rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700" />
          </label>
          <label className="flex flex-col gap-1">
            Time zone
            <select value={quiet.timeZone ?? browserTimeZone()} onChange={(e) => set({ timeZone: e.target.value })} className="max-w-[16rem] rounded border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700">
              {zones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
    </section>
  );
}

function DoNotDisturb({ preferences, onChange }: { preferences: Preferences; onChange: (patch: PreferencesInput) => void }) {
  const until = preferences.dndUntil ? new Date(preferences.dndUntil) : null;
  const active = until !== null && until.getTime() > Date.now();
  const inHours = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString();
  const tomorrowMorning = () => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    d.setHours(8, 0, 0, 0);
    return d.toISOString();
  };
  const button = "rounded-md border border-slate-300 px-2.5 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800";
  return (
    <section aria-labelledby="dnd-heading">
      <h2 id="dnd-heading" className="text-base font-semibold">
        Do not disturb
      </h2>
      <p className="text-sm text-slate-500" data-testid="dnd-status">
        {active ? `On until ${format(until!, "EEE HH:mm")}. Push, email and SMS wait until then.` : "Off."}
      </p>
      <div className="mt-2 flex flex-wrap gap-2">
        <button type="button" className={button} onClick={() => onChange({ dndUntil: inHours(1) })}>
          For 1 hour
        </button>
        <button type="button" className={button} onClick={() => onChange({ dndUntil: inHours(8) })}>
          For 8 hours
        </button>
        <button type="button" className={button} onClick={() => onChange({ dndUntil: tomorrowMorning() })}>
          Until tomorrow 8:00
        </button>
        {active && (
          <button type="button" className={button} onClick={() => onChange({ dndUntil: null })}>
            Turn off
          </button>
        )}
      </div>
    </section>
  );
}
