"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { isToday, isYesterday } from "date-fns";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Notification } from "@/server/notifications/notifications.schema";
import { inboxKeys, shareInfinite, useInboxActions } from "@/components/notifications/notification-provider";
import { NotificationItem } from "@/components/notifications/notification-item";

type Filter = "all" | "unread" | "archived";

/** The types offered in the filter (the seeded ones; any type can still be searched for). */
const NOTIFICATION_TYPES = ["comment", "like", "follow", "mention", "system"] as const;
type Row = { kind: "header"; label: string } | { kind: "item"; notification: Notification };

function dayLabel(iso: string): string {
  const date = new Date(iso);
  if (isToday(date)) return "Today";
  if (isYesterday(date)) return "Yesterday";
  return "Earlier";
}

/** The full history: cursor pages, virtualised rows, filters, search and date groups. */
export function NotificationHistory() {
  const { api, change, open, runAction } = useInboxActions();
  const [filter, setFilter] = useState<Filter>("all");
  const [type, setType] = useState<string>("");
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);

  const filters = { filter, q: q || undefined, type: type || undefined };
  const history = useInfiniteQuery({
    queryKey: inboxKeys.history(filters),
    queryFn: ({ pageParam }) => api.list({ ...filters, limit: "100", cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // Kept current by events like the latest page; a filter change starts a new query.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    structuralSharing: shareInfinite,
  });

  const rows = useMemo<Row[]>(() => {
    const seen = new Set<string>();
    const result: Row[] = [];
    let group = "";
    for (const page of history.data?.pages ?? []) {
      for (const n of page.notifications) {
        if (seen.has(n.id)) continue;
        // The cache may hold items whose state no longer matches the filter (changed live).
        if (filter === "all" && n.archived) continue;
        if (filter === "archived" && !n.archived) continue;
        if (filter === "unread" && (n.read || n.archived)) continue;
        if (type && n.type !== type) continue;
        seen.add(n.id);
        const label = dayLabel(n.sortAt);
        if (label !== group) {
          group = label;
          result.push({ kind: "header", label });
        }
        result.push({ kind: "item", notification: n });
      }
    }
    return result;
  }, [history.data, filter, type]);

  const onSelect = useCallback((n: Notification, isSelected: boolean) => {
    setSelected((current) => {
      const next = new Set(current);
      if (isSelected) next.add(n.id);
      else next.delete(n.id);
      return next;
    });
  }, []);
  const onArchive = useCallback((n: Notification) => void change(n.archived ? "unarchive" : "archive", [n.id]), [change]);
  const bulk = (operation: "read" | "unread" | "archive" | "unarchive") => {
    void change(operation, [...selected]);
    setSelected(new Set());
  };

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: (i) => (rows[i]?.kind === "header" ? 36 : 84),
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (lastIndex >= rows.length - 20 && history.hasNextPage && !history.isFetchingNextPage) void history.fetchNextPage();
  }, [lastIndex, rows.length, history]);

  return (
    <section className="flex min-h-0 flex-1 flex-col">
      <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 px-4 py-3 dark:border-slate-800">
        <div role="tablist" aria-label="Filter" className="flex rounded-lg bg-slate-100 p-0.5 dark:bg-slate-800">
          {(["all", "unread", "archived"] as const).map((f) => (
            <button
              key={f}
              role="tab"
              aria-selected={filter === f}
              onClick={() => setFilter(f)}
              className={`rounded-md px-3 py-1 text-sm capitalize ${filter === f ? "bg-white shadow dark:bg-slate-950" : "text-slate-500"}`}
            >
              {f}
            </button>
          ))}
        </div>
        <select
          aria-label="Type"
          value={type}
          onChange={(e) => setType(e.target.value)}
          className="rounded-lg border border-slate-300 bg-transparent px-2 py-1.5 text-sm dark:border-slate-700"
        >
          <option value="">All types</option>
          {NOTIFICATION_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <input
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          placeholder="Search notifications"
          aria-label="Search notifications"
          className="ml-auto w-full max-w-xs rounded-lg border border-slate-300 bg-transparent px-3 py-1.5 text-sm dark:border-slate-700"
        />
      </div>
      {selected.size > 0 && (
        <div role="toolbar" aria-label="Selected notifications" className="flex items-center gap-2 border-b border-slate-200 bg-slate-50 px-4 py-2 text-sm dark:border-slate-800 dark:bg-slate-900">
          <span className="mr-2 text-slate-500">{selected.size} selected</span>
          <button type="button" onClick={() => bulk("read")} className="rounded px-2 py-1 hover:bg-slate-200 dark:hover:bg-slate-800">
            Mark read
          </button>
          <button type="button" onClick={() => bulk("unread")} className="rounded px-2 py-1 hover:bg-slate-200 dark:hover:bg-slate-800">
            Mark unread
          </button>
          <button type="button" onClick={() => bulk(filter === "archived" ? "unarchive" : "archive")} className="rounded px-2 py-1 hover:bg-slate-200 dark:hover:bg-slate-800">
            {filter === "archived" ? "Unarchive" : "Archive"}
          </button>
          <button type="button" onClick={() => setSelected(new Set())} className="ml-auto rounded px-2 py-1 text-slate-500 hover:bg-slate-200 dark:hover:bg-slate-800">
            Clear
          </button>
        </div>
      )}
      <div ref={scroller} data-testid="history-scroller" className="min-h-0 flex-1 overflow-y-auto" style={{ contain: "strict" }}>
        {history.isLoading ? (
          <p className="p-8 text-center text-sm text-slate-500">Loading…</p>
        ) : rows.length === 0 ? (
          <p className="p-8 text-center text-sm text-slate-500">{q ? "Nothing matches your search." : "No notifications here yet."}</p>
        ) : (
          <div role="list" style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {items.map((item) => {
              const row = rows[item.index]!;
              return (
                <div key={item.key} role="presentation" data-index={item.index} ref={virtualizer.measureElement} style={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${item.start}px)` }}>
                  {row.kind === "header" ? (
                    <h3 className="bg-slate-50 px-4 py-2 text-xs font-semibold uppercase tracking-wide text-slate-500 dark:bg-slate-900">{row.label}</h3>
                  ) : (
                    <NotificationItem
                      notification={row.notification}
                      onOpen={open}
                      onAction={runAction}
                      onArchive={onArchive}
                      selected={selected.has(row.notification.id)}
                      onSelect={onSelect}
                    />
                  )}
                </div>
              );
            })}
          </div>
        )}
      </div>
    </section>
  );
}
