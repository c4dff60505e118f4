// /settings/notifications – the signed-in user's notification settings
import { redirect } from "next/navigation";
import { getSessionUser } from "@/server/auth/get-session-user";
import { AppShell } from "@/components/app-shell";
import { PreferencesForm } from "@/components/settings/preferences-form";

export const dynamic = "force-dynamic";

export default async function NotificationSettingsPage() {
  const user = await getSessionUser();
  if (!user) redirect("/");
  return (
    <AppShell user={user}>
      <main className="mx-auto w-full max-w-3xl flex-1 overflow-y-auto">
        <h1 className="px-4 pt-4 text-xl font-semibold">Notification settings</h1>
        <PreferencesForm />
      </main>
    </AppShell>
  );
}
