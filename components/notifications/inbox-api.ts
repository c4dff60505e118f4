// The end-user API as the inbox calls it: by default the browser's session cookie on the same origin;
// with a `token`, a user token minted by a service (Authorization header, and `auth` on the socket).
import type { Change, Notification, UnreadCount } from "@/server/notifications/notifications.schema";

export type InboxPage = { notifications: Notification[]; nextCursor: string | null; lastSeq: number };
export type ChangesPage = { changes: Change[]; lastSeq: number; hasMore: boolean };

/** Where the inbox's API lives and how it authenticates. Both default to the page's own session. */
export type InboxConnection = {
  /** Origin of the notification system, e.g. `https://notify.example.com`; default: this page's origin. */
  baseUrl?: string;
  /** A user token (`POST /api/v1/users/{id}/token`); default: the session cookie. */
  token?: string;
};

export class InboxApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type InboxApi = ReturnType<typeof createInboxApi>;

export function createInboxApi({ baseUrl = "", token }: InboxConnection = {}) {
  async function call<T>(path: string, init?: RequestInit): Promise<T> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${baseUrl}${path}`, { ...init, credentials: token ? "omit" : "same-origin", headers });
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new InboxApiError(response.status, body?.error?.message ?? `Request failed (${response.status})`);
    }
    return (await response.json()) as T;
  }

  return {
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
}
