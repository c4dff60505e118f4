"use client";

import { useRouter } from "next/navigation";
import { useCallback } from "react";
import { NotificationProvider } from "@/components/notifications/notification-provider";
import { NotificationBell } from "@/components/notifications/notification-bell";
import { NotificationHistory } from "@/components/notifications/notification-history";
import { NotificationToasts } from "@/components/notifications/notification-toasts";
import { DemoEventPanel } from "@/components/demo/demo-event-panel";

/** The signed-in app: a header with the bell, the history, and toasts. */
export function InboxShell({ userId, demoMode }: { userId: string; demoMode: boolean }) {
  const router = useRouter();
  // Paths on this site stay client-side; anything else (an https: target) is a full navigation.
  const navigate = useCallback((url: string) => (url.startsWith("/") && !url.startsWith("//") ? router.push(url) : window.location.assign(url)), [router]);
  return (
    <NotificationProvider navigate={navigate}>
      <div className="flex h-screen flex-col">
        <header className="flex items-center justify-between border-b border-slate-200 px-4 py-2 dark:border-slate-800">
          <a href="/" className="font-semibold tracking-tight">
            Notify
          </a>
          <div className="flex items-center gap-3">
            <span className="hidden text-sm text-slate-500 sm:inline">{userId}</span>
            <NotificationBell />
          </div>
        </header>
        <main className="mx-auto flex min-h-0 w-full max-w-3xl flex-1 flex-col">
          <h1 className="px-4 pt-4 text-xl font-semibold">Notifications</h1>
          {demoMode && <DemoEventPanel userId={userId} />}
          <NotificationHistory />
        </main>
      </div>
      <NotificationToasts />
    </NotificationProvider>
  );
}
