"use client";

import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { format } from "date-fns";
import { useEffect, useId, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { adminApi } from "@/components/admin/admin-api";
import { LineChart, type Series } from "@/components/admin/overview/line-chart";
import { OVERVIEW_LIVE_POLL_MS, OVERVIEW_QUEUES, OVERVIEW_WINDOWS, type Overview, type OverviewChannel, type OverviewWindow } from "@/server/metrics/overview.schema";
import type { ClientToServerEvents, ServerToClientEvents } from "@/server/realtime/events";

const CHANNELS: { key: OverviewChannel; label: string; color: string; dash?: string }[] = [
  { key: "in_app", label: "In-app", color: "#4f6bed" },
  { key: "push", label: "Push", color: "#d97706", dash: "6 3" },
  { key: "email", label: "Email", color: "#059669", dash: "2 3" },
  { key: "sms", label: "SMS", color: "#c026d3", dash: "8 3 2 3" },
];

const WINDOW_LABELS: Record<OverviewWindow, string> = { "15m": "15 minutes", "1h": "1 hour", "6h": "6 hours", "24h": "24 hours" };

const QUEUE_LABELS: Record<QueueName, string> = { fanout: "Fan-out", push: "Push", email: "Email", sms: "SMS" };
const QUEUE_STATES = [
  { key: "waiting", label: "Waiting", className: "bg-brand-500" },
  { key: "active", label: "Active", className: "bg-emerald-500" },
  { key: "delayed", label: "Delayed (retry later)", className: "bg-amber-400" },
  { key: "failed", label: "Failed", className: "bg-red-500" },
] as const;

const FUNNEL = [
  { key: "sent", label: "Sent", help: "stored in an inbox" },
  { key: "delivered", label: "Delivered", help: "a device acknowledged it" },
  { key: "opened", label: "Opened", help: "seen in the bell or the inbox" },
  { key: "clicked", label: "Clicked", help: "its target opened" },
] as const;

/** Queue samples kept while the page is open (one per refresh: 10 minutes of a busy system, at one a second). */
const HISTORY_SAMPLES = 600;
type QueueName = (typeof OVERVIEW_QUEUES)[number];
type QueueSample = { at: string; depth: Record<QueueName, number> };
const QUEUE_COLORS: Record<QueueName, { color: string; dash?: string }> = {
  fanout: { color: "#64748b" },
  push: { color: "#d97706", dash: "6 3" },
  email: { color: "#059669", dash: "2 3" },
  sms: { color: "#c026d3", dash: "8 3 2 3" },
};

const perBucket = (seconds: number) => (seconds === 60 ? "per minute" : `per ${seconds / 60} minutes`);

/**
 * Live: the page's socket joins the admins' overview room, and every `admin:activity` event (at most
 * one a second from each process that did something) reads the overview again, asking for numbers
 * no older than the event (`since`). One read at a time, at most one per the window's `liveMs`, none
 * while the tab is hidden (one when it shows again); an event that arrives during a read is answered
 * by another read after it. Whenever the socket is not subscribed, the page polls instead.
 */
function useOverviewActivity(range: OverviewWindow): { live: boolean; since: React.RefObject<string | null>; asked: React.RefObject<string | null> } {
  const client = useQueryClient();
  const [live, setLive] = useState(false);
  /** The newest event's `at`, and the `since` of the last read the page made. */
  const since = useRef<string | null>(null);
  const asked = useRef<string | null>(null);
  const liveMs = useRef<number>(OVERVIEW_WINDOWS[range].liveMs);
  liveMs.current = OVERVIEW_WINDOWS[range].liveMs;
  useEffect(() => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({ withCredentials: true, reconnectionDelay: 1000, reconnectionDelayMax: 30_000 });
    let timer: ReturnType<typeof setTimeout> | null = null;
    let reading = false;
    let last = 0;
    const behind = () => since.current !== null && (asked.current === null || since.current > asked.current);
    const schedule = () => {
      if (timer || reading || document.hidden) return;
      timer = setTimeout(read, Math.max(0, last + liveMs.current - Date.now()));
    };
    async function read() {
      timer = null;
      if (document.hidden) return;
      reading = true;
      last = Date.now();
      try {
        // Not cancelling a read under way (a slow overview would otherwise never answer); if that
        // read asked for less than the newest event, another follows.
        await client.refetchQueries({ queryKey: ["admin", "overview"], type: "active" }, { cancelRefetch: false });
      } finally {
        reading = false;
      }
      if (behind()) schedule();
    }
    const onVisible = () => {
      if (!document.hidden && behind()) schedule();
    };
    socket.on("connect", () =>
      socket.emit("admin:overview:subscribe", undefined, (answer) => {
        setLive(answer.ok);
        // What happened while the socket was away.
        if (answer.ok) {
          since.current = new Date().toISOString();
          schedule();
        }
      }),
    );
    socket.on("disconnect", () => setLive(false));
    socket.on("admin:activity", ({ at }) => {
      if (!since.current || at > since.current) since.current = at;
      schedule();
    });
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
      socket.disconnect();
    };
  }, [client]);
  return { live, since, asked };
}

/**
 * The live overview: sent and failed per channel over the chosen window, the queues now, and the
 * in-app funnel. New activity shows within about a second, without a reload (see useOverviewActivity).
 */
export function AdminOverview() {
  const [range, setRange] = useState<OverviewWindow>("1h");
  const { live, since, asked } = useOverviewActivity(range);
  const overview = useQuery({
    queryKey: ["admin", "overview", range],
    queryFn: () => {
      asked.current = since.current;
      return adminApi<Overview>(`/overview?window=${range}${since.current ? `&since=${encodeURIComponent(since.current)}` : ""}`);
    },
    refetchInterval: live ? OVERVIEW_LIVE_POLL_MS : OVERVIEW_WINDOWS[range].refreshMs,
    placeholderData: keepPreviousData,
  });
  const data = overview.data;
  const windowLabel = WINDOW_LABELS[range];
  // BullMQ keeps no history of its depth: the page keeps what it read, to show a trend.
  const [history, setHistory] = useState<QueueSample[]>([]);
  useEffect(() => {
    const queues = data?.queues;
    if (!data || !queues) return;
    const depth = Object.fromEntries(queues.map((q) => [q.queue, q.waiting + q.active + q.delayed])) as QueueSample["depth"];
    setHistory((samples) => (samples.at(-1)?.at === data.to ? samples : [...samples, { at: data.to, depth }].slice(-HISTORY_SAMPLES)));
  }, [data]);
  return (
    <div className="space-y-5 px-4 py-4 text-sm">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div role="group" aria-label="Time window" className="inline-flex overflow-hidden rounded-md border border-slate-300 dark:border-slate-700">
          {(Object.keys(OVERVIEW_WINDOWS) as OverviewWindow[]).map((w) => (
            <button
              key={w}
              type="button"
              aria-pressed={w === range}
              aria-label={`Last ${WINDOW_LABELS[w]}`}
              onClick={() => setRange(w)}
              className={`px-3 py-1 ${w === range ? "bg-brand-600 font-medium text-white" : "hover:bg-slate-100 dark:hover:bg-slate-800"}`}
            >
              {w}
            </button>
          ))}
        </div>
        <p className="text-xs text-slate-500" data-testid="overview-updated">
          {overview.isError ? (
            <span role="alert" className="text-red-600 dark:text-red-400">
              Could not refresh: {overview.error.message}
            </span>
          ) : data ? (
            <>
              <span className={`mr-1 inline-block size-2 rounded-full align-middle ${live ? "bg-emerald-500" : "bg-amber-400"}`} aria-hidden="true" />
              {live
                ? `Live · updated ${format(new Date(data.to), "HH:mm:ss")} · moves as activity happens`
                : `Updated ${format(new Date(data.to), "HH:mm:ss")} · refreshes every ${OVERVIEW_WINDOWS[range].refreshMs / 1000} s`}
            </>
          ) : (
            "Loading…"
          )}
        </p>
      </div>

      {data && (
        <>
          <Totals overview={data} windowLabel={windowLabel} />
          <div className="grid gap-4 lg:grid-cols-2">
            <LineChart
              title={`Sent ${perBucket(data.bucketSeconds)}`}
              description="In-app: notifications stored in inboxes. Push, email, SMS: attempts the provider accepted."
              unit="sent"
              buckets={data.buckets.map((b) => b.at)}
              series={CHANNELS.map((c): Series => ({ ...c, values: data.buckets.map((b) => b.channels[c.key].sent) }))}
              emptyText={`Nothing sent in the last ${windowLabel}.`}
            />
            <LineChart
              title={`Failed ${perBucket(data.bucketSeconds)}`}
              description="Push, email and SMS attempts the provider refused or did not answer (each retry counts); in-app does not fail."
              unit="failed"
              buckets={data.buckets.map((b) => b.at)}
              series={CHANNELS.filter((c) => c.key !== "in_app").map((c): Series => ({ ...c, values: data.buckets.map((b) => b.channels[c.key].failed) }))}
              emptyText={`No failed attempts in the last ${windowLabel}.`}
            />
          </div>
          <div className="grid gap-4 lg:grid-cols-2">
            <Queues queues={data.queues} />
            <LineChart
              title="Queue depth while this page is open"
              description="Jobs waiting, running or delayed in each queue, at every refresh of this page (BullMQ keeps no history)."
              unit="jobs"
              timeFormat="HH:mm:ss"
              buckets={history.map((h) => h.at)}
              series={OVERVIEW_QUEUES.map((q): Series => ({ key: q, label: QUEUE_LABELS[q], ...QUEUE_COLORS[q], values: history.map((h) => h.depth[q]) }))}
              emptyText={data.queues === null ? "Unavailable: Redis did not answer." : history.length === 0 ? "Waiting for the first reading." : "Every queue has been empty since this page opened."}
            />
          </div>
          <Funnel funnel={data.funnel} windowLabel={windowLabel} />
        </>
      )}
    </div>
  );
}

function Totals({ overview, windowLabel }: { overview: Overview; windowLabel: string }) {
  return (
    <section aria-label={`Totals, last ${windowLabel}`} className="grid grid-cols-2 gap-3 sm:grid-cols-4">
      {CHANNELS.map((c) => (
        <div key={c.key} role="group" aria-label={c.label} className="rounded-lg border border-slate-200 p-3 dark:border-slate-800">
          <div className="flex items-center gap-1.5 text-xs font-medium uppercase tracking-wide text-slate-500">
            <span className="inline-block size-2 rounded-full" style={{ backgroundColor: c.color }} aria-hidden="true" />
            {c.label}
          </div>
          <dl className="mt-1 flex gap-4">
            <div>
              <dt className="text-xs text-slate-500">Sent</dt>
              <dd className="text-xl font-semibold tabular-nums" data-testid={`total-${c.key}-sent`}>
                {overview.totals[c.key].sent}
              </dd>
            </div>
            {c.key !== "in_app" && (
              <div>
                <dt className="text-xs text-slate-500">Failed</dt>
                <dd className={`text-xl font-semibold tabular-nums ${overview.totals[c.key].failed > 0 ? "text-red-600 dark:text-red-400" : ""}`} data-testid={`total-${c.key}-failed`}>
                  {overview.totals[c.key].failed}
                </dd>
              </div>
            )}
          </dl>
        </div>
      ))}
    </section>
  );
}

function Queues({ queues }: { queues: Overview["queues"] }) {
  const headingId = useId();
  const largest = Math.max(1, ...(queues ?? []).map((q) => q.waiting + q.active + q.delayed + q.failed));
  return (
    <section aria-labelledby={headingId} className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
      <h2 id={headingId} className="font-medium">
        Queue depth now
      </h2>
      <p className="text-xs text-slate-500">Jobs in each BullMQ queue; a waiting count that keeps growing means the workers cannot keep up.</p>
      {queues === null ? (
        <p className="mt-3 text-slate-500">Queue depths are unavailable: Redis did not answer.</p>
      ) : (
        <>
          <ul aria-label="Queue depth: legend" className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs">
            {QUEUE_STATES.map((s) => (
              <li key={s.key} className="flex items-center gap-1.5">
                <span className={`inline-block size-2.5 rounded-sm ${s.className}`} aria-hidden="true" />
                {s.label}
              </li>
            ))}
          </ul>
          <table className="mt-3 w-full">
            <thead>
              <tr className="text-left text-xs uppercase tracking-wide text-slate-500">
                <th scope="col" className="py-1 font-medium">
                  Queue
                </th>
                <th scope="col" className="w-2/5 font-medium">
                  <span className="sr-only">Bar</span>
                </th>
                {QUEUE_STATES.map((s) => (
                  <th key={s.key} scope="col" className="pl-3 text-right font-medium">
                    {s.key === "delayed" ? "Delayed" : s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {queues.map((q) => (
                <tr key={q.queue} className="border-t border-slate-200 dark:border-slate-800" data-testid={`queue-${q.queue}`}>
                  <th scope="row" className="py-2 pr-3 text-left font-normal whitespace-nowrap">
                    {QUEUE_LABELS[q.queue]}
                  </th>
                  <td className="pr-3">
                    <div className="flex h-3 overflow-hidden rounded-sm bg-slate-100 dark:bg-slate-900" aria-hidden="true">
                      {QUEUE_STATES.map((s) => (q[s.key] > 0 ? <div key={s.key} className={s.className} style={{ width: `${(q[s.key] / largest) * 100}%` }} /> : null))}
                    </div>
                  </td>
                  {QUEUE_STATES.map((s) => (
                    <td key={s.key} className="pl-3 text-right tabular-nums">
                      {q[s.key]}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function Funnel({ funnel, windowLabel }: { funnel: Overview["funnel"]; windowLabel: string }) {
  const headingId = useId();
  return (
    <section aria-labelledby={headingId} className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
      <h2 id={headingId} className="font-medium">
        In-app funnel
      </h2>
      <p className="text-xs text-slate-500">Notifications of the triggers accepted in the last {windowLabel}, and how far each got.</p>
      {funnel.sent === 0 ? (
        <p className="mt-3 flex h-32 items-center justify-center rounded-md bg-slate-50 text-slate-500 dark:bg-slate-900">No in-app notifications in the last {windowLabel}.</p>
      ) : (
        <ol className="mt-3 space-y-2">
          {FUNNEL.map((stage) => {
            const value = funnel[stage.key];
            const share = Math.round((value / funnel.sent) * 100);
            return (
              <li key={stage.key} data-testid={`funnel-${stage.key}`}>
                <div className="flex items-baseline justify-between gap-2">
                  <span>
                    {stage.label} <span className="text-xs text-slate-500">({stage.help})</span>
                  </span>
                  <span className="tabular-nums">
                    <span data-testid={`funnel-${stage.key}-count`}>{value}</span> <span className="text-xs text-slate-500">{share}%</span>
                  </span>
                </div>
                <div className="mt-1 h-3 overflow-hidden rounded-sm bg-slate-100 dark:bg-slate-900" aria-hidden="true">
                  <div className="h-full bg-brand-500" style={{ width: `${Math.max(value > 0 ? 1 : 0, share)}%` }} />
                </div>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
