// /notifications – the signed-in user's inbox: header with the bell, and the full history
import { redirect } from "next/navigation";
import { env } from "@/server/env";
import { getSessionUserId } from "@/server/auth/get-session-user";
import { InboxShell } from "@/components/notifications/inbox-shell";

export const dynamic = "force-dynamic";

export default async function NotificationsPage() {
  const userId = await getSessionUserId();
  if (!userId) redirect("/");
  return <InboxShell userId={userId} demoMode={env.DEMO_MODE} />;
}
