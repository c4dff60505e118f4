"use client";

import Link from "next/link";
import { useEffect, useId, useRef, useState } from "react";
import type { Notification } from "@/server/notifications/notifications.schema";
import { useNotifications } from "@/components/notifications/notification-provider";
import { NotificationItem } from "@/components/notifications/notification-item";

/** The header bell: unread badge, and a dropdown with the 10 latest. */
export function NotificationBell() {
  const { notifications, count, change, markAllRead, click } = useNotifications();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const panelId = useId();
  const latest = notifications.filter((n) => !n.archived).slice(0, 10);

  // Seen is recorded when the dropdown opens.
  useEffect(() => {
    if (!open) return;
    const unseen = latest.filter((n) => !n.seen).map((n) => n.id);
    if (unseen.length > 0) void change("seen", unseen);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only on opening
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (root.current && !root.current.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const onOpen = (n: Notification) => {
    void click(n);
    const url = n.target?.url;
    if (url) window.location.assign(url);
  };
  const label = count.count > 0 ? `Notifications, ${count.count} unread` : "Notifications";

  return (
    <div ref={root} className="relative">
      <button
        type="button"
        aria-label={label}
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
        className="relative rounded-full p-2 text-slate-600 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 dark:text-slate-300 dark:hover:bg-slate-800"
      >
        <svg aria-hidden viewBox="0 0 24 24" className="h-6 w-6" fill="none" stroke="currentColor" strokeWidth="1.8">
          <path d="M15 17h5l-1.4-1.4A2 2 0 0 1 18 14.2V11a6 6 0 1 0-12 0v3.2a2 2 0 0 1-.6 1.4L4 17h5m6 0a3 3 0 1 1-6 0" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
        {count.count > 0 && (
          <span data-testid="notification-badge" className="absolute -right-0.5 -top-0.5 min-w-5 rounded-full bg-red-600 px-1 text-center text-xs font-semibold leading-5 text-white">
            {count.count > 99 ? "99+" : count.count}
          </span>
        )}
      </button>
      {open && (
        <div id={panelId} role="dialog" aria-label="Notifications" className="absolute right-0 z-20 mt-2 w-[min(24rem,calc(100vw-1rem))] overflow-hidden rounded-xl border border-slate-200 bg-white shadow-xl dark:border-slate-700 dark:bg-slate-900">
          <div className="flex items-center justify-between border-b border-slate-200 px-4 py-3 dark:border-slate-700">
            <h2 className="text-sm font-semibold">Notifications</h2>
            <button type="button" onClick={() => void markAllRead()} disabled={count.count === 0} className="text-xs font-medium text-brand-600 disabled:text-slate-400">
              Mark all as read
            </button>
          </div>
          {latest.length === 0 ? (
            <p className="px-4 py-10 text-center text-sm text-slate-500">You&apos;re all caught up. New notifications will show up here.</p>
          ) : (
            <div role="list" className="max-h-[28rem] divide-y divide-slate-100 overflow-y-auto dark:divide-slate-800">
              {latest.map((n) => (
                <NotificationItem key={n.id} notification={n} onOpen={onOpen} compact />
              ))}
            </div>
          )}
          <Link href="/notifications" onClick={() => setOpen(false)} className="block border-t border-slate-200 px-4 py-2.5 text-center text-sm font-medium text-brand-600 dark:border-slate-700">
            View all
          </Link>
        </div>
      )}
    </div>
  );
}
