"use client";

import { AppShell, type ShellUser } from "@/components/app-shell";
import { NotificationHistory } from "@/components/notifications/notification-history";
import { DemoEventPanel } from "@/components/demo/demo-event-panel";

/** The inbox page: the full history (and, with DEMO_MODE, the event panel). */
export function InboxShell({ user, demoMode }: { user: ShellUser; demoMode: boolean }) {
  return (
    <AppShell user={user}>
      <main className="mx-auto flex min-h-0 w-full max-w-3xl flex-1 flex-col">
        <h1 className="px-4 pt-4 text-xl font-semibold">Notifications</h1>
        {demoMode && <DemoEventPanel userId={user.id} />}
        <NotificationHistory />
      </main>
    </AppShell>
  );
}
