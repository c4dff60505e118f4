// /admin – the admin dashboard (admins only): types and templates, service keys, deliveries
import { notFound, redirect } from "next/navigation";
import { getSessionUser } from "@/server/auth/get-session-user";
import { AppShell } from "@/components/app-shell";
import { AdminDashboard } from "@/components/admin/admin-dashboard";
import { AdminNav } from "@/components/admin/admin-nav";

export const dynamic = "force-dynamic";

export default async function AdminPage() {
  const user = await getSessionUser();
  if (!user) redirect("/");
  // Not an admin: the page does not exist for them.
  if (!user.isAdmin) notFound();
  return (
    <AppShell user={user}>
      <main className="mx-auto w-full max-w-6xl flex-1 overflow-y-auto">
        <h1 className="px-4 pt-4 text-xl font-semibold">Admin</h1>
        <AdminNav />
        <AdminDashboard />
      </main>
    </AppShell>
  );
}
