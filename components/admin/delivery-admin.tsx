"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { formatDistanceToNowStrict } from "date-fns";
import { useState } from "react";
import { adminApi } from "@/components/admin/admin-api";

type DeadLetter = { id: number; triggerId: string; userId: string; channel: string; error: string; attempts: number; payload: unknown; createdAt: string };
type Suppression = { channel: string; address: string; reason: string; createdAt: string };
type OutboxMessage = { id: string; channel: string; to: string; userId: string; subject: string | null; html: string | null; text: string | null; createdAt: string };

const ago = (iso: string) => formatDistanceToNowStrict(new Date(iso), { addSuffix: true });
const button = "rounded-md border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800";

/** Dead letters: what failed for good, by channel and error; inspect, replay one or all, discard. */
export function DeadLettersAdmin() {
  const client = useQueryClient();
  const [channel, setChannel] = useState("");
  const [open, setOpen] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const letters = useQuery({ queryKey: ["admin", "dead-letters", channel], queryFn: () => adminApi<{ deadLetters: DeadLetter[] }>(`/dead-letters${channel ? `?channel=${channel}` : ""}`), refetchInterval: 5000 });
  const refresh = () => client.invalidateQueries({ queryKey: ["admin", "dead-letters"] });
  const replay = async (body: unknown) => {
    const { replayed } = await adminApi<{ replayed: number }>("/dead-letters/replay", { method: "POST", body: JSON.stringify(body) });
    setNotice(`${replayed} queued again.`);
    void refresh();
  };
  const discard = async (id: number) => {
    await adminApi(`/dead-letters/${id}`, { method: "DELETE" });
    void refresh();
  };
  const list = letters.data?.deadLetters ?? [];
  return (
    <div className="space-y-3 text-sm">
      <div className="flex flex-wrap items-center gap-3">
        <select aria-label="Channel" value={channel} onChange={(e) => setChannel(e.target.value)} className="rounded-md border border-slate-300 bg-transparent px-2 py-1 dark:border-slate-700">
          <option value="">All channels</option>
          <option value="email">Email</option>
          <option value="sms">SMS</option>
          <option value="push">Push</option>
        </select>
        <button type="button" className={button} disabled={list.length === 0} onClick={() => void replay({ all: true, ...(channel ? { channel } : {}) })}>
          Replay all{channel ? ` ${channel}` : ""}
        </button>
        {notice && <span role="status" className="text-emerald-700 dark:text-emerald-300">{notice}</span>}
      </div>
      {list.length === 0 ? (
        <p className="text-slate-500">Nothing here: every delivery either went out or is still being tried.</p>
      ) : (
        <table className="w-full">
          <thead>
            <tr className="text-left text-xs uppercase tracking-wide text-slate-500">
              <th className="py-2 font-medium">When</th>
              <th className="font-medium">Channel</th>
              <th className="font-medium">Recipient</th>
              <th className="font-medium">Error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((l) => (
              <tr key={l.id} className="border-t border-slate-200 align-top dark:border-slate-800">
                <td className="py-2 pr-2 whitespace-nowrap">{ago(l.createdAt)}</td>
                <td className="pr-2">{l.channel}</td>
                <td className="pr-2">{l.userId}</td>
                <td className="pr-2">
                  <span className="block max-w-md truncate" title={l.error}>
                    {l.error}
                  </span>
                  {open === l.id && <pre className="mt-1 max-w-md overflow-x-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-900">{JSON.stringify({ ...l, payload: l.payload }, null, 2)}</pre>}
                </td>
                <td className="whitespace-nowrap text-right">
                  <button type="button" className={button} onClick={() => setOpen(open === l.id ? null : l.id)}>
                    {open === l.id ? "Hide" : "Inspect"}
                  </button>{" "}
                  <button type="button" className={button} onClick={() => void replay({ ids: [l.id] })}>
                    Replay
                  </button>{" "}
                  <button type="button" className={button} onClick={() => void discard(l.id)}>
                    Discard
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Addresses not written to any more (hard bounce, complaint); an admin can lift one. */
export function SuppressionsAdmin() {
  const client = useQueryClient();
  const list = useQuery({ queryKey: ["admin", "suppressions"], queryFn: () => adminApi<{ suppressions: Suppression[] }>("/suppressions"), refetchInterval: 10_000 });
  const lift = async (s: Suppression) => {
    await adminApi(`/suppressions?channel=${s.channel}&address=${encodeURIComponent(s.address)}`, { method: "DELETE" });
    void client.invalidateQueries({ queryKey: ["admin", "suppressions"] });
  };
  const rows = list.data?.suppressions ?? [];
  if (rows.length === 0) return <p className="text-sm text-slate-500">No suppressed addresses.</p>;
  return (
    <ul className="divide-y divide-slate-200 text-sm dark:divide-slate-800">
      {rows.map((s) => (
        <li key={`${s.channel}:${s.address}`} className="flex items-center justify-between py-2">
          <span>
            {s.address} <span className="text-slate-500">· {s.channel} · {s.reason} · {ago(s.createdAt)}</span>
          </span>
          <button type="button" className={button} onClick={() => void lift(s)}>
            Remove
          </button>
        </li>
      ))}
    </ul>
  );
}

/** Development: the emails and SMS kept locally (no provider credentials), read as they would arrive. */
export function LocalOutboxAdmin() {
  const messages = useQuery({ queryKey: ["admin", "local-outbox"], queryFn: () => adminApi<{ messages: OutboxMessage[] }>("/local-outbox"), refetchInterval: 5000 });
  const [selected, setSelected] = useState<string | null>(null);
  const list = messages.data?.messages ?? [];
  const current = list.find((m) => m.id === selected) ?? list[0];
  if (list.length === 0) return <p className="text-sm text-slate-500">The local outbox is empty. Without RESEND_API_KEY (or SMS credentials), emails and SMS land here.</p>;
  return (
    <div className="grid gap-4 text-sm md:grid-cols-[18rem_1fr]">
      <ul className="max-h-[32rem] overflow-y-auto">
        {list.map((m) => (
          <li key={m.id}>
            <button type="button" onClick={() => setSelected(m.id)} className={`w-full rounded-md px-2 py-1.5 text-left ${m.id === current?.id ? "bg-slate-100 dark:bg-slate-800" : ""}`}>
              <span className="block truncate font-medium">{m.subject ?? m.text}</span>
              <span className="block text-xs text-slate-500">
                {m.channel} to {m.to} · {ago(m.createdAt)}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {current && (
        <div className="overflow-hidden rounded-lg border border-slate-200 dark:border-slate-700">
          <p className="border-b border-slate-200 bg-slate-50 px-3 py-2 dark:border-slate-700 dark:bg-slate-900">
            To {current.to}
            {current.subject ? ` · ${current.subject}` : ""}
          </p>
          {current.html ? <iframe title="Email" sandbox="" srcDoc={current.html} className="h-96 w-full bg-white" /> : <p className="p-3 whitespace-pre-wrap">{current.text}</p>}
        </div>
      )}
    </div>
  );
}

type RecentTrigger = { id: string; type: string; status: string; recipients: number; channels: string[]; createdAt: string };
type Status = { channels: Record<string, Record<string, number>>; outcomes: { userId: string; channel: string; deviceId?: string; status: string; reason?: string }[] };
type TimelineEvent = { at: string; channel: string; event: string; detail?: string };

/** Activity: recent triggers, their counts per channel, and one recipient's timeline. */
export function ActivityAdmin() {
  const [trigger, setTrigger] = useState<string | null>(null);
  const [user, setUser] = useState<string | null>(null);
  const recent = useQuery({ queryKey: ["admin", "activity"], queryFn: () => adminApi<{ triggers: RecentTrigger[] }>("/activity"), refetchInterval: 5000 });
  const status = useQuery({ queryKey: ["admin", "activity", trigger], queryFn: () => adminApi<Status>(`/activity/${trigger}`), enabled: trigger !== null, refetchInterval: 3000 });
  const timeline = useQuery({
    queryKey: ["admin", "activity", trigger, user],
    queryFn: () => adminApi<{ events: TimelineEvent[] }>(`/activity/${trigger}/${encodeURIComponent(user!)}`),
    enabled: trigger !== null && user !== null,
    refetchInterval: 3000,
  });
  const recipients = [...new Set(status.data?.outcomes.map((o) => o.userId) ?? [])].slice(0, 100);
  return (
    <div className="grid gap-6 text-sm lg:grid-cols-[22rem_1fr]">
      <ul aria-label="Recent triggers" className="max-h-[36rem] overflow-y-auto">
        {recent.data?.triggers.map((t) => (
          <li key={t.id}>
            <button
              type="button"
              onClick={() => {
                setTrigger(t.id);
                setUser(null);
              }}
              className={`w-full rounded-md px-2 py-1.5 text-left ${t.id === trigger ? "bg-slate-100 dark:bg-slate-800" : ""}`}
            >
              <span className="font-medium">{t.type}</span> · {t.recipients} recipient{t.recipients === 1 ? "" : "s"} · {t.status}
              <span className="block text-xs text-slate-500">{ago(t.createdAt)}</span>
            </button>
          </li>
        ))}
      </ul>
      {trigger && status.data ? (
        <div className="space-y-4">
          <table className="w-full text-xs" aria-label="Counts per channel">
            <thead>
              <tr className="text-left uppercase tracking-wide text-slate-500">
                <th className="py-1 font-medium">Channel</th>
                {["queued", "deferred", "batched", "sent", "delivered", "opened", "clicked", "failed", "suppressed"].map((c) => (
                  <th key={c} className="font-medium">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {Object.entries(status.data.channels).map(([channel, counts]) => (
                <tr key={channel} className="border-t border-slate-200 dark:border-slate-800">
                  <td className="py-1">{channel}</td>
                  {["queued", "deferred", "batched", "sent", "delivered", "opened", "clicked", "failed", "suppressed"].map((c) => (
                    <td key={c}>{counts[c] ?? 0}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <div className="flex flex-wrap gap-1">
            {recipients.map((id) => (
              <button key={id} type="button" onClick={() => setUser(id)} className={`${button} ${id === user ? "bg-slate-100 dark:bg-slate-800" : ""}`}>
                {id}
              </button>
            ))}
          </div>
          {user && (
            <ol aria-label={`Timeline of ${user}`} className="space-y-1 border-l border-slate-200 pl-4 dark:border-slate-700">
              {timeline.data?.events.map((e, i) => (
                <li key={i}>
                  <span className="text-xs text-slate-500">{new Date(e.at).toLocaleTimeString()}</span> <span className="rounded bg-slate-100 px-1 text-xs dark:bg-slate-800">{e.channel}</span> {e.event}
                  {e.detail && <span className="text-slate-500"> · {e.detail}</span>}
                </li>
              ))}
            </ol>
          )}
        </div>
      ) : (
        <p className="text-slate-500">Pick a trigger to see what happened to it, recipient by recipient.</p>
      )}
    </div>
  );
}
