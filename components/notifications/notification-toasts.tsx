"use client";

import { memo, useEffect } from "react";
import type { Notification } from "@/server/notifications/notifications.schema";
import { useInboxActions, useInboxStatus, type InboxToast } from "@/components/notifications/notification-provider";

const TOAST_MS = 6000;

const Toast = memo(function Toast({ toast, dismiss, open }: { toast: InboxToast; dismiss: (id: string) => void; open: (n: Notification) => void }) {
  useEffect(() => {
    const timer = setTimeout(() => dismiss(toast.id), TOAST_MS);
    return () => clearTimeout(timer);
  }, [dismiss, toast.id]);
  const n = toast.notification;
  return (
    <div data-testid="notification-toast" className="pointer-events-auto flex w-80 max-w-[calc(100vw-2rem)] items-start gap-2 rounded-lg border border-slate-200 bg-white p-3 shadow-lg dark:border-slate-700 dark:bg-slate-900">
      <button
        type="button"
        onClick={() => {
          dismiss(toast.id);
          open(n);
        }}
        className="min-w-0 flex-1 text-left focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500"
      >
        <span className="block truncate text-sm font-semibold">{n.title}</span>
        {n.body && <span className="block truncate text-sm text-slate-500 dark:text-slate-400">{n.body}</span>}
      </button>
      <button type="button" aria-label="Dismiss" onClick={() => dismiss(toast.id)} className="rounded px-1 text-slate-400 hover:text-slate-700 dark:hover:text-slate-200">
        ×
      </button>
    </div>
  );
});

/**
 * New notifications while the tab is visible, once each, dismissed after a few seconds; a click opens
 * the notification (records the click and goes to its target). Errors stay until dismissed.
 */
export function NotificationToasts() {
  const { toasts, error } = useInboxStatus();
  const { dismissToast, dismissError, open } = useInboxActions();
  return (
    <div className="pointer-events-none fixed bottom-4 right-4 z-30 flex flex-col gap-2">
      {error && (
        <div role="alert" className="pointer-events-auto w-80 max-w-[calc(100vw-2rem)] rounded-lg border border-red-300 bg-red-50 p-3 text-sm text-red-800 shadow-lg dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          {error}
          <button type="button" onClick={dismissError} className="ml-2 underline">
            Dismiss
          </button>
        </div>
      )}
      <div role="status" aria-live="polite" className="flex flex-col gap-2">
        {toasts.map((toast) => (
          <Toast key={toast.id} toast={toast} dismiss={dismissToast} open={open} />
        ))}
      </div>
    </div>
  );
}
