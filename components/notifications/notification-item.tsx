"use client";

import { formatDistanceToNowStrict } from "date-fns";
import { memo } from "react";
import type { Notification } from "@/server/notifications/notifications.schema";

const typeColors: Record<string, string> = {
  comment: "bg-sky-100 text-sky-700 dark:bg-sky-900 dark:text-sky-200",
  like: "bg-rose-100 text-rose-700 dark:bg-rose-900 dark:text-rose-200",
  follow: "bg-emerald-100 text-emerald-700 dark:bg-emerald-900 dark:text-emerald-200",
  mention: "bg-amber-100 text-amber-700 dark:bg-amber-900 dark:text-amber-200",
};

type Props = {
  notification: Notification;
  onOpen: (notification: Notification) => void;
  onArchive?: (notification: Notification) => void;
  /** With these, the item has a checkbox for bulk actions. */
  selected?: boolean;
  onSelect?: (notification: Notification, selected: boolean) => void;
  compact?: boolean;
};

/** One notification. Every text is rendered as text (React escapes it); nothing is ever HTML. */
export const NotificationItem = memo(function NotificationItem({ notification: n, onOpen, onArchive, selected, onSelect, compact }: Props) {
  const initial = (n.actor?.name ?? n.type).slice(0, 1).toUpperCase();
  return (
    <div role="listitem" data-testid="notification-item" data-id={n.id} data-read={n.read} className={`group relative flex gap-3 px-4 py-3 ${n.read ? "" : "bg-brand-50/60 dark:bg-brand-700/10"}`}>
      {onSelect && (
        <input
          type="checkbox"
          aria-label={`Select: ${n.title}`}
          checked={selected ?? false}
          onChange={(e) => onSelect(n, e.target.checked)}
          className="mt-2.5 h-4 w-4 shrink-0 accent-brand-600"
        />
      )}
      <span
        aria-hidden
        className={`mt-0.5 flex h-9 w-9 shrink-0 items-center justify-center rounded-full text-sm font-semibold ${typeColors[n.type] ?? "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-100"}`}
      >
        {n.actor?.avatarUrl ? <img src={n.actor.avatarUrl} alt="" className="h-9 w-9 rounded-full object-cover" /> : initial}
      </span>
      <button type="button" onClick={() => onOpen(n)} className="min-w-0 flex-1 text-left focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 rounded">
        <span className={`block truncate text-sm ${n.read ? "text-slate-700 dark:text-slate-300" : "font-semibold text-slate-900 dark:text-white"}`}>{n.title}</span>
        {n.body && <span className={`block text-sm text-slate-500 dark:text-slate-400 ${compact ? "truncate" : "line-clamp-2"}`}>{n.body}</span>}
        <time dateTime={n.sortAt} className="mt-0.5 block text-xs text-slate-400">
          {formatDistanceToNowStrict(new Date(n.sortAt), { addSuffix: true })}
        </time>
      </button>
      <span className="flex shrink-0 flex-col items-end gap-2">
        {!n.read && <span aria-label="unread" className="mt-1.5 h-2.5 w-2.5 rounded-full bg-brand-500" />}
        {onArchive && (
          <button type="button" onClick={() => onArchive(n)} className="text-xs text-slate-400 opacity-0 hover:text-slate-700 focus:opacity-100 group-hover:opacity-100 dark:hover:text-slate-200">
            {n.archived ? "Unarchive" : "Archive"}
          </button>
        )}
      </span>
      {n.actions.length > 0 && !compact && (
        <span className="absolute bottom-2 right-4 flex gap-2">
          {n.actions.map((action) =>
            action.kind === "navigate" && action.url ? (
              <a key={action.id} href={action.url} className="rounded border border-slate-300 px-2 py-0.5 text-xs dark:border-slate-600">
                {action.label}
              </a>
            ) : null,
          )}
        </span>
      )}
    </div>
  );
});
