// The end-user API, as the browser calls it (session cookie; same origin).
import type { Change, Notification, UnreadCount } from "@/server/notifications/notifications.schema";

export type InboxPage = { notifications: Notification[]; nextCursor: string | null; lastSeq: number };
export type ChangesPage = { changes: Change[]; lastSeq: number; hasMore: boolean };

export class InboxApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, { ...init, credentials: "same-origin", headers: { "content-type": "application/json", ...init?.headers } });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new InboxApiError(response.status, body?.error?.message ?? `Request failed (${response.status})`);
  }
  return (await response.json()) as T;
}

export const inboxApi = {
  list: (params: Record<string, string | undefined>) => {
    const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
    return call<InboxPage>(`/api/notifications?${query}`);
  },
  count: () => call<UnreadCount>("/api/notifications/unread-count"),
  changes: (afterSeq: number) => call<ChangesPage>(`/api/notifications/changes?afterSeq=${afterSeq}&limit=1000`),
  bulk: (operation: "read" | "unread" | "seen" | "archive" | "unarchive", ids: string[]) =>
    call<{ count: number }>(`/api/notifications/${operation}`, { method: "POST", body: JSON.stringify({ ids }) }),
  readAll: () => call<{ count: number }>("/api/notifications/read-all", { method: "POST", body: "{}" }),
  click: (id: string) => call<Notification>(`/api/notifications/${id}/click`, { method: "POST", body: "{}" }),
};
