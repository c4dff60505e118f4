// /notifications – the signed-in user's inbox: header with the bell, and the full history
import { redirect } from "next/navigation";
import { env } from "@/server/env";
import { getSessionUser } from "@/server/auth/get-session-user";
import { InboxShell } from "@/components/notifications/inbox-shell";

export const dynamic = "force-dynamic";

export default async function NotificationsPage() {
  const user = await getSessionUser();
  if (!user) redirect("/");
  return <InboxShell user={user} demoMode={env.DEMO_MODE} />;
}
