// /admin/overview – live charts for admins: sent and failed per channel, queue depths, the in-app funnel
import { notFound, redirect } from "next/navigation";
import { getSessionUser } from "@/server/auth/get-session-user";
import { AppShell } from "@/components/app-shell";
import { AdminNav } from "@/components/admin/admin-nav";
import { AdminOverview } from "@/components/admin/overview/admin-overview";

export const dynamic = "force-dynamic";

export default async function AdminOverviewPage() {
  const user = await getSessionUser();
  if (!user) redirect("/");
  // Not an admin: the page does not exist for them.
  if (!user.isAdmin) notFound();
  return (
    <AppShell user={user}>
      <main className="mx-auto w-full max-w-6xl flex-1 overflow-y-auto">
        <h1 className="px-4 pt-4 text-xl font-semibold">Overview</h1>
        <AdminNav />
        <AdminOverview />
      </main>
    </AppShell>
  );
}
