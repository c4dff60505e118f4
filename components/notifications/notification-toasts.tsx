"use client";

import { useEffect } from "react";
import { useNotifications, type InboxToast } from "@/components/notifications/notification-provider";

function Toast({ toast, dismiss, onOpen }: { toast: InboxToast; dismiss: (id: string) => void; onOpen: () => void }) {
  useEffect(() => {
    const timer = setTimeout(() => dismiss(toast.id), 6000);
    return () => clearTimeout(timer);
  }, [dismiss, toast.id]);
  return (
    <div role="status" className="pointer-events-auto w-80 rounded-lg border border-slate-200 bg-white p-3 shadow-lg dark:border-slate-700 dark:bg-slate-900">
      <button type="button" onClick={onOpen} className="block w-full text-left">
        <span className="block text-sm font-semibold">{toast.notification.title}</span>
        {toast.notification.body && <span className="block truncate text-sm text-slate-500">{toast.notification.body}</span>}
      </button>
    </div>
  );
}

/** New notifications while the tab is visible, once each, dismissed after a few seconds; and errors. */
export function NotificationToasts() {
  const { toasts, dismissToast, click, error, dismissError } = useNotifications();
  return (
    <div aria-live="polite" className="pointer-events-none fixed bottom-4 right-4 z-30 flex flex-col gap-2">
      {error && (
        <div role="alert" className="pointer-events-auto w-80 rounded-lg border border-red-300 bg-red-50 p-3 text-sm text-red-800 shadow-lg dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          {error}
          <button type="button" onClick={dismissError} className="ml-2 underline">
            Dismiss
          </button>
        </div>
      )}
      {toasts.map((toast) => (
        <Toast
          key={toast.id}
          toast={toast}
          dismiss={dismissToast}
          onOpen={() => {
            void click(toast.notification);
            dismissToast(toast.id);
          }}
        />
      ))}
    </div>
  );
}
