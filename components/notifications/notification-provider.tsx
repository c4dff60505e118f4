"use client";

import { useQuery, useQueryClient, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { io, type Socket } from "socket.io-client";
import type { Notification, UnreadCount } from "@/server/notifications/notifications.schema";
import type { ClientToServerEvents, ServerToClientEvents, StateChangeEvent } from "@/server/realtime/events";
import { adjustCount, applyChanges, applyReadAll, applyState, classifySeq, upsertNotification, type StateKind } from "@/components/notifications/inbox-cache";
import { InboxApiError, inboxApi, type InboxPage } from "@/components/notifications/inbox-api";

export const inboxKeys = {
  all: ["inbox"] as const,
  latest: ["inbox", "latest"] as const,
  count: ["inbox", "count"] as const,
  history: (filters: Record<string, string | undefined>) => ["inbox", "history", filters] as const,
};

const LATEST_LIMIT = 20;
const POLL_MS = 5000;

type Operation = "read" | "unread" | "seen" | "archive" | "unarchive";
const operationState: Record<Operation, StateKind> = { read: "read", unread: "unread", seen: "seen", archive: "archived", unarchive: "unarchived" };

export type InboxToast = { id: string; notification: Notification };

type InboxState = {
  notifications: Notification[];
  count: UnreadCount;
  isLoading: boolean;
  isLive: boolean;
  error: string | null;
  toasts: InboxToast[];
};

type InboxActions = {
  dismissError: () => void;
  dismissToast: (id: string) => void;
  change: (operation: Operation, ids: string[]) => Promise<void>;
  markAllRead: () => Promise<void>;
  click: (notification: Notification) => Promise<void>;
};

const InboxStateContext = createContext<InboxState | null>(null);
const InboxActionsContext = createContext<InboxActions | null>(null);

/** Applies `fn` to every cached list of notifications: the latest page and every history page. */
function updateLists(client: QueryClient, fn: (list: Notification[]) => Notification[]): void {
  client.setQueryData<InboxPage>(inboxKeys.latest, (page) => (page ? { ...page, notifications: fn(page.notifications) } : page));
  client.setQueriesData<InfiniteData<InboxPage>>({ queryKey: ["inbox", "history"] }, (data) =>
    data ? { ...data, pages: data.pages.map((p) => ({ ...p, notifications: fn(p.notifications) })) } : data,
  );
}

/**
 * Drives the inbox in the browser: TanStack Query fetches the first page and the counts; socket
 * events are applied to the cache as they come (no refetch per event); a gap in `seq`, a reconnect or
 * the tab becoming visible asks `changes?afterSeq=` for exactly what was missed (a full refetch only on
 * 410); when the socket cannot connect, the same catch-up runs by polling.
 */
export function NotificationProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const latest = useQuery({ queryKey: inboxKeys.latest, queryFn: () => inboxApi.list({ limit: String(LATEST_LIMIT) }) });
  const count = useQuery({ queryKey: inboxKeys.count, queryFn: inboxApi.count });
  const lastSeq = useRef<number | null>(null);
  const catchingUp = useRef<Promise<void> | null>(null);
  // An event that arrives while the first page is still loading may or may not be in that page:
  // once the page says which seq it reflects, ask `changes` for anything after it.
  const missedWhileLoading = useRef(false);
  const toastedIds = useRef(new Set<string>());
  const [isLive, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [toasts, setToasts] = useState<InboxToast[]>([]);

  // The first page tells which seq it reflects; live events start from there.
  if (latest.data && lastSeq.current === null) lastSeq.current = latest.data.lastSeq;

  const catchUp = useCallback(async (): Promise<void> => {
    if (lastSeq.current === null) return;
    if (catchingUp.current) return catchingUp.current;
    catchingUp.current = (async () => {
      try {
        for (;;) {
          const page = await inboxApi.changes(lastSeq.current!);
          if (page.changes.length > 0) updateLists(client, (list) => applyChanges(list, page.changes));
          lastSeq.current = page.lastSeq;
          if (!page.hasMore) break;
        }
        await client.invalidateQueries({ queryKey: inboxKeys.count });
      } catch (caught) {
        if (caught instanceof InboxApiError && caught.status === 410) {
          // Too far behind: start over. Reset (not just invalidate) so the old page cannot set lastSeq.
          lastSeq.current = null;
          await client.resetQueries({ queryKey: inboxKeys.all });
        }
      } finally {
        catchingUp.current = null;
      }
    })();
    return catchingUp.current;
  }, [client]);

  useEffect(() => {
    if (latest.data && missedWhileLoading.current) {
      missedWhileLoading.current = false;
      void catchUp();
    }
  }, [latest.data, catchUp]);

  /** Applies an event that carries a seq, or catches up when one was missed. */
  const onSeq = useCallback(
    (seq: number, apply: () => void) => {
      if (lastSeq.current === null) {
        missedWhileLoading.current = true;
        return;
      }
      const verdict = classifySeq(lastSeq.current, seq);
      if (verdict === "next") {
        apply();
        lastSeq.current = seq;
      } else if (verdict === "gap") void catchUp();
    },
    [catchUp],
  );

  useEffect(() => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({
      withCredentials: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 30_000,
      randomizationFactor: 0.5,
    });
    const state = (kind: StateKind) => (event: StateChangeEvent) => onSeq(event.seq, () => updateLists(client, (list) => applyState(list, kind, event.ids, event.at)));
    socket.on("connect", () => {
      setLive(true);
      void catchUp();
    });
    socket.on("disconnect", () => setLive(false));
    socket.on("notification:new", (notification) =>
      onSeq(notification.seq, () => {
        updateLists(client, (list) => upsertNotification(list, notification));
        if (!notification.read && document.visibilityState === "visible" && !toastedIds.current.has(notification.id)) {
          toastedIds.current.add(notification.id);
          setToasts((current) => [...current.slice(-2), { id: notification.id, notification }]);
        }
      }),
    );
    socket.on("notification:updated", (notification) => updateLists(client, (list) => upsertNotification(list, notification)));
    socket.on("notifications:read", state("read"));
    socket.on("notifications:unread", state("unread"));
    socket.on("notifications:seen", state("seen"));
    socket.on("notifications:archived", state("archived"));
    socket.on("notifications:unarchived", state("unarchived"));
    socket.on("notifications:removed", state("removed"));
    socket.on("notifications:read_all", (event) => onSeq(event.seq, () => updateLists(client, (list) => applyReadAll(list, event.at))));
    socket.on("unread_count", (next) => client.setQueryData<UnreadCount>(inboxKeys.count, next));

    // Whenever the socket is not connected, poll the same catch-up.
    const poll = setInterval(() => {
      if (!socket.connected) void catchUp();
    }, POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === "visible") void catchUp();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(poll);
      document.removeEventListener("visibilitychange", onVisible);
      socket.close();
    };
  }, [client, catchUp, onSeq]);

  /** Optimistic: change the cache now, undo it if the server refuses, and say so. */
  const optimistic = useCallback(
    async (apply: (list: Notification[]) => Notification[], send: () => Promise<unknown>, failure: string) => {
      const snapshot = client.getQueriesData({ queryKey: inboxKeys.all });
      const before = client.getQueryData<InboxPage>(inboxKeys.latest)?.notifications ?? [];
      updateLists(client, apply);
      const after = client.getQueryData<InboxPage>(inboxKeys.latest)?.notifications ?? [];
      client.setQueryData<UnreadCount>(inboxKeys.count, (c) => (c ? adjustCount(c, before, after) : c));
      try {
        await send();
      } catch {
        for (const [key, data] of snapshot) client.setQueryData(key, data);
        setError(failure);
      }
    },
    [client],
  );

  const change = useCallback(
    (operation: Operation, ids: string[]) =>
      optimistic(
        (list) => applyState(list, operationState[operation], ids, new Date().toISOString()),
        () => inboxApi.bulk(operation, ids),
        `Could not mark ${ids.length === 1 ? "the notification" : `${ids.length} notifications`} ${operation === "archive" || operation === "unarchive" ? `${operation}d` : operation}; it is back as it was.`,
      ),
    [optimistic],
  );
  const markAllRead = useCallback(
    () => optimistic((list) => applyReadAll(list, new Date().toISOString()), inboxApi.readAll, "Could not mark all as read; nothing was changed."),
    [optimistic],
  );
  const click = useCallback(
    (notification: Notification) =>
      optimistic((list) => applyState(list, "read", [notification.id], new Date().toISOString()), () => inboxApi.click(notification.id), "Could not mark the notification read; it is back as it was."),
    [optimistic],
  );

  const dismissToast = useCallback((id: string) => setToasts((current) => current.filter((t) => t.id !== id)), []);
  const dismissError = useCallback(() => setError(null), []);
  // Actions never change, so components that only act (the history) do not re-render on every event.
  const actions = useMemo<InboxActions>(() => ({ dismissError, dismissToast, change, markAllRead, click }), [dismissError, dismissToast, change, markAllRead, click]);
  const state = useMemo<InboxState>(
    () => ({
      notifications: latest.data?.notifications ?? [],
      count: count.data ?? { count: 0, unseen: 0 },
      isLoading: latest.isLoading || count.isLoading,
      isLive,
      error,
      toasts,
    }),
    [latest.data, latest.isLoading, count.data, count.isLoading, isLive, error, toasts],
  );
  return (
    <InboxActionsContext.Provider value={actions}>
      <InboxStateContext.Provider value={state}>{children}</InboxStateContext.Provider>
    </InboxActionsContext.Provider>
  );
}

/** What the inbox can do; stable for the provider's lifetime. */
export function useInboxActions(): InboxActions {
  const value = useContext(InboxActionsContext);
  if (!value) throw new Error("useInboxActions() must be used inside <NotificationProvider>");
  return value;
}

/** The inbox state and its actions. */
export function useNotifications(): InboxState & InboxActions {
  const state = useContext(InboxStateContext);
  const actions = useContext(InboxActionsContext);
  if (!state || !actions) throw new Error("useNotifications() must be used inside <NotificationProvider>");
  return { ...state, ...actions };
}
