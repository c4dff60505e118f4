"use client";

import { formatDistanceToNowStrict } from "date-fns";
import { memo, useState } from "react";
import type { Notification } from "@/server/notifications/notifications.schema";

type Action = Notification["actions"][number];

const typeColors: Record<string, string> = {
  comment: "bg-sky-100 text-sky-700 dark:bg-sky-900 dark:text-sky-200",
  like: "bg-rose-100 text-rose-700 dark:bg-rose-900 dark:text-rose-200",
  follow: "bg-emerald-100 text-emerald-700 dark:bg-emerald-900 dark:text-emerald-200",
  mention: "bg-amber-100 text-amber-700 dark:bg-amber-900 dark:text-amber-200",
};

type Props = {
  notification: Notification;
  onOpen: (notification: Notification) => void;
  /** Runs an action button; resolves to whether it succeeded. Without it, no action buttons. */
  onAction?: (notification: Notification, action: Action) => Promise<boolean>;
  onArchive?: (notification: Notification) => void;
  /** With these, the item has a checkbox for bulk actions. */
  selected?: boolean;
  onSelect?: (notification: Notification, selected: boolean) => void;
  compact?: boolean;
};

/**
 * One notification. Every text is rendered as text (React escapes it); nothing is ever HTML.
 * Memoised: it re-renders only when its notification (or a callback) changes, so pass stable callbacks.
 */
export const NotificationItem = memo(function NotificationItem({ notification: n, onOpen, onAction, onArchive, selected, onSelect, compact }: Props) {
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
      <div className="min-w-0 flex-1">
        <button type="button" data-inbox-item onClick={() => onOpen(n)} className="block w-full rounded text-left focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500">
          <span className={`block truncate text-sm ${n.read ? "text-slate-700 dark:text-slate-300" : "font-semibold text-slate-900 dark:text-white"}`}>{n.title}</span>
          {n.body && <span className={`block text-sm text-slate-500 dark:text-slate-400 ${compact ? "truncate" : "line-clamp-2"}`}>{n.body}</span>}
          <time dateTime={n.sortAt} className="mt-0.5 block text-xs text-slate-400">
            {formatDistanceToNowStrict(new Date(n.sortAt), { addSuffix: true })}
          </time>
        </button>
        {onAction && n.actions.length > 0 && (
          <div className="mt-2 flex flex-wrap gap-2">
            {n.actions.map((action) => (
              <ActionButton key={action.id} notification={n} action={action} run={onAction} />
            ))}
          </div>
        )}
      </div>
      <span className="flex shrink-0 flex-col items-end gap-2">
        {!n.read && <span aria-label="unread" className="mt-1.5 h-2.5 w-2.5 rounded-full bg-brand-500" />}
        {onArchive && (
          <button type="button" onClick={() => onArchive(n)} className="text-xs text-slate-400 opacity-0 hover:text-slate-700 focus:opacity-100 group-hover:opacity-100 dark:hover:text-slate-200">
            {n.archived ? "Unarchive" : "Archive"}
          </button>
        )}
      </span>
    </div>
  );
});

/** One action button; an `api_call` shows that it is running, then that it is done. */
function ActionButton({ notification, action, run }: { notification: Notification; action: Action; run: NonNullable<Props["onAction"]> }) {
  const [state, setState] = useState<"idle" | "running" | "done">("idle");
  const primary = notification.actions[0]?.id === action.id && action.kind !== "dismiss";
  return (
    <button
      type="button"
      disabled={state !== "idle"}
      aria-busy={state === "running"}
      onClick={async () => {
        setState("running");
        const ok = await run(notification, action);
        setState(ok && action.kind === "api_call" ? "done" : "idle");
      }}
      className={`rounded-md px-2.5 py-1 text-xs font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 disabled:opacity-60 ${
        primary ? "bg-brand-600 text-white hover:bg-brand-700" : "border border-slate-300 text-slate-700 hover:bg-slate-100 dark:border-slate-600 dark:text-slate-200 dark:hover:bg-slate-800"
      }`}
    >
      {state === "done" ? `${action.label} ✓` : action.label}
    </button>
  );
}
