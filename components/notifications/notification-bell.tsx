"use client";

import Link from "next/link";
import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useInboxActions, useLatestNotifications, useUnreadCount } from "@/components/notifications/notification-provider";
import { NotificationItem } from "@/components/notifications/notification-item";
import { markEngaged } from "@/components/push/push-prompt";

const DROPDOWN_SIZE = 10;

/**
 * The header bell: unread badge, and a dropdown with the 10 latest. Keyboard: Enter/Space or
 * ArrowDown opens it and moves focus to the first notification, ArrowUp/ArrowDown/Home/End move
 * between notifications, Tab walks through the buttons, Escape closes it and returns focus to the bell.
 */
export function NotificationBell() {
  const count = useUnreadCount();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const bell = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const panelId = useId();
  const label = count.count > 0 ? `Notifications, ${count.count} unread` : "Notifications";

  const close = useCallback((returnFocus: boolean) => {
    setOpen(false);
    if (returnFocus) bell.current?.focus();
  }, []);

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (root.current && !root.current.contains(event.target as Node)) close(false);
    };
    document.addEventListener("pointerdown", onPointer);
    return () => document.removeEventListener("pointerdown", onPointer);
  }, [open, close]);

  // Activating a notification closes the dropdown and gives focus back to the bell.
  const closeAndReturn = useCallback(() => close(true), [close]);
  const closeQuietly = useCallback(() => close(false), [close]);

  const onBellKey = (event: KeyboardEvent) => {
    if (event.key === "ArrowDown" && !open) {
      event.preventDefault();
      markEngaged();
      setOpen(true);
    }
  };

  return (
    <div
      ref={root}
      className="relative"
      onKeyDown={(event) => {
        if (event.key === "Escape" && open) {
          event.preventDefault();
          close(true);
        }
      }}
      onBlur={(event) => {
        // Tabbing out of the bell and its dropdown closes it.
        if (open && event.relatedTarget && !root.current?.contains(event.relatedTarget as Node)) close(false);
      }}
    >
      <button
        ref={bell}
        type="button"
        aria-label={label}
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        aria-haspopup="dialog"
        onClick={() => {
          if (!open) markEngaged();
          setOpen((o) => !o);
        }}
        onKeyDown={onBellKey}
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
      {open && <NotificationDropdown id={panelId} panel={panel} unread={count.count} onClose={closeQuietly} onDone={closeAndReturn} />}
    </div>
  );
}

/** The open dropdown: its own subscription to the latest list, so the closed bell never renders it. */
type DropdownProps = { id: string; panel: React.RefObject<HTMLDivElement | null>; unread: number; onClose: () => void; onDone: () => void };

function NotificationDropdown({ id, panel, unread, onClose, onDone }: DropdownProps) {
  const { notifications, isLoading } = useLatestNotifications();
  const { change, markAllRead, open, runAction } = useInboxActions();
  const latest = useMemo(() => notifications.filter((n) => !n.archived).slice(0, DROPDOWN_SIZE), [notifications]);

  // Seen is recorded when the dropdown opens (and for what arrives while it is open).
  const unseen = latest.filter((n) => !n.seen).map((n) => n.id).join(",");
  useEffect(() => {
    if (unseen) void change("seen", unseen.split(","));
  }, [unseen, change]);

  // Focus moves into the dropdown when it opens: the newest notification, else the panel itself.
  // Until the user moves (a key, a pointer), it follows the newest one: a notification that arrives
  // just after the dropdown opened, or a page that replaces an older one, takes it, rather than
  // leaving focus on the panel or on an item that is no longer the first.
  const moved = useRef(false);
  const newest = latest[0]?.id;
  useEffect(() => {
    if (moved.current || isLoading) return;
    const first = panel.current?.querySelector<HTMLElement>("[data-inbox-item]");
    (first ?? panel.current)?.focus();
  }, [isLoading, panel, newest]);

  const onOpen = useCallback(
    (n: (typeof latest)[number]) => {
      onDone();
      open(n);
    },
    [open, onDone],
  );

  const onKeyDown = (event: KeyboardEvent) => {
    moved.current = true;
    const items = [...(panel.current?.querySelectorAll<HTMLElement>("[data-inbox-item]") ?? [])];
    if (items.length === 0) return;
    const at = items.indexOf(document.activeElement as HTMLElement);
    const go = (index: number) => {
      event.preventDefault();
      items[(index + items.length) % items.length]?.focus();
    };
    if (event.key === "ArrowDown") go(at + 1);
    else if (event.key === "ArrowUp") go(at === -1 ? items.length - 1 : at - 1);
    else if (event.key === "Home") go(0);
    else if (event.key === "End") go(items.length - 1);
  };

  return (
    <div
      ref={panel}
      id={id}
      role="dialog"
      aria-label="Notifications"
      tabIndex={-1}
      onKeyDown={onKeyDown}
      onPointerDown={() => (moved.current = true)}
      className="absolute right-0 z-20 mt-2 w-[min(24rem,calc(100vw-1rem))] overflow-hidden rounded-xl border border-slate-200 bg-white shadow-xl focus:outline-none dark:border-slate-700 dark:bg-slate-900"
    >
      <div className="flex items-center justify-between border-b border-slate-200 px-4 py-3 dark:border-slate-700">
        <h2 className="text-sm font-semibold">Notifications</h2>
        <button type="button" onClick={() => void markAllRead()} disabled={unread === 0} className="text-xs font-medium text-brand-600 disabled:text-slate-400 dark:text-brand-500">
          Mark all as read
        </button>
      </div>
      {isLoading ? (
        <p className="px-4 py-10 text-center text-sm text-slate-500">Loading…</p>
      ) : latest.length === 0 ? (
        <p className="px-4 py-10 text-center text-sm text-slate-500">You&apos;re all caught up. New notifications will show up here.</p>
      ) : (
        <div role="list" className="max-h-[min(28rem,70vh)] divide-y divide-slate-100 overflow-y-auto dark:divide-slate-800">
          {latest.map((n) => (
            <NotificationItem key={n.id} notification={n} onOpen={onOpen} onAction={runAction} compact />
          ))}
        </div>
      )}
      <Link href="/notifications" onClick={onClose} className="block border-t border-slate-200 px-4 py-2.5 text-center text-sm font-medium text-brand-600 dark:border-slate-700 dark:text-brand-500">
        View all
      </Link>
    </div>
  );
}
