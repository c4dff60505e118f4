"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useCallback, type ReactNode } from "react";
import { NotificationProvider } from "@/components/notifications/notification-provider";
import { NotificationBell } from "@/components/notifications/notification-bell";
import { NotificationToasts } from "@/components/notifications/notification-toasts";
import { PushPrompt } from "@/components/push/push-prompt";

export type ShellUser = { id: string; name: string | null; isAdmin: boolean };

/** Every signed-in page: a header with navigation and the bell, live notifications, toasts. */
export function AppShell({ user, children }: { user: ShellUser; children: ReactNode }) {
  const router = useRouter();
  const pathname = usePathname();
  // Paths on this site stay client-side; anything else (an https: target) is a full navigation.
  const navigate = useCallback((url: string) => (url.startsWith("/") && !url.startsWith("//") ? router.push(url) : window.location.assign(url)), [router]);
  const links = [
    { href: "/notifications", label: "Inbox" },
    { href: "/settings/notifications", label: "Settings" },
    ...(user.isAdmin ? [{ href: "/admin", label: "Admin" }] : []),
  ];
  return (
    <NotificationProvider navigate={navigate}>
      <div className="flex h-screen flex-col">
        <header className="flex items-center justify-between gap-3 border-b border-slate-200 px-4 py-2 dark:border-slate-800">
          <div className="flex min-w-0 items-center gap-4">
            <a href="/" className="font-semibold tracking-tight">
              Notify
            </a>
            <nav aria-label="Main" className="flex gap-1 text-sm">
              {links.map((link) => {
                const current = pathname === link.href || pathname.startsWith(`${link.href}/`);
                return (
                  <Link
                    key={link.href}
                    href={link.href}
                    aria-current={current ? "page" : undefined}
                    className={`rounded-md px-2 py-1 ${current ? "bg-slate-100 font-medium dark:bg-slate-800" : "text-slate-500 hover:text-slate-900 dark:hover:text-white"}`}
                  >
                    {link.label}
                  </Link>
                );
              })}
            </nav>
          </div>
          <div className="flex items-center gap-3">
            <span className="hidden text-sm text-slate-500 sm:inline">{user.name ?? user.id}</span>
            <NotificationBell />
          </div>
        </header>
        {children}
      </div>
      <NotificationToasts />
      <PushPrompt />
    </NotificationProvider>
  );
}
