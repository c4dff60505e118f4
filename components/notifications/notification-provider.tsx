"use client";

import { useQuery, useQueryClient, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import type { QueryKey } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { io, type Socket } from "socket.io-client";
import type { Notification, UnreadCount } from "@/server/notifications/notifications.schema";
import type { ClientToServerEvents, ServerToClientEvents, StateChangeEvent } from "@/server/realtime/events";
import { adjustCount, applyChanges, applyReadAll, applyState, classifySeq, diffStates, newerCount, reuseUnchanged, revertState, shouldToast, upsertNotification, type StateKind } from "@/components/notifications/inbox-cache";
import { createInboxApi, InboxApiError, type InboxApi, type InboxConnection, type InboxPage } from "@/components/notifications/inbox-api";

/** The signed-in user's preferences; kept current by `preferences:updated` from other tabs and devices. */
export const preferencesKey = ["preferences"] as const;

export const inboxKeys = {
  all: ["inbox"] as const,
  latest: ["inbox", "latest"] as const,
  count: ["inbox", "count"] as const,
  history: (filters: Record<string, string | undefined>) => ["inbox", "history", filters] as const,
};

const LATEST_LIMIT = 20;

/**
 * The cache is kept current by socket events and `changes`, so these queries never refetch on their
 * own (mount, focus, reconnect); sharing is by id so that unchanged notifications keep their identity.
 */
const liveQuery = { staleTime: Infinity, refetchOnWindowFocus: false, refetchOnReconnect: false } as const;
const sharePage = (previous: unknown, next: unknown) => (previous ? reuseUnchanged([previous as InboxPage], [next as InboxPage])[0] : next);
const shareCount = (previous: unknown, next: unknown) => newerCount(previous as UnreadCount | undefined, next as UnreadCount);
export const shareInfinite = (previous: unknown, next: unknown) => {
  if (!previous) return next;
  const data = next as InfiniteData<InboxPage>;
  return { ...data, pages: reuseUnchanged((previous as InfiniteData<InboxPage>).pages, data.pages) };
};
const POLL_MS = 5000;

type Operation = "read" | "unread" | "seen" | "archive" | "unarchive";
const operationState: Record<Operation, StateKind> = { read: "read", unread: "unread", seen: "seen", archive: "archived", unarchive: "unarchived" };

export type InboxToast = { id: string; notification: Notification };

export type NotificationAction = Notification["actions"][number];

/** What changes rarely: whether the socket is live, the last error, the toasts on screen. */
type InboxStatus = {
  isLive: boolean;
  error: string | null;
  toasts: InboxToast[];
};

type InboxActions = {
  /** The end-user API on this provider's connection (for the history's own queries). */
  api: InboxApi;
  dismissError: () => void;
  dismissToast: (id: string) => void;
  change: (operation: Operation, ids: string[]) => Promise<void>;
  markAllRead: () => Promise<void>;
  /** Records the click (clicked and read) without going anywhere. */
  click: (notification: Notification) => Promise<void>;
  /** What a click on the notification does: record it, then go to its target, when it has one. */
  open: (notification: Notification) => void;
  /** Runs one of the notification's action buttons; resolves to whether it succeeded. */
  runAction: (notification: Notification, action: NotificationAction) => Promise<boolean>;
};

const InboxStatusContext = createContext<InboxStatus | null>(null);
const InboxActionsContext = createContext<InboxActions | null>(null);

/** Every notification the cache holds (latest page and history pages), each id once. */
function cachedNotifications(client: QueryClient): Notification[] {
  const byId = new Map<string, Notification>();
  const add = (list: readonly Notification[]) => list.forEach((n) => byId.has(n.id) || byId.set(n.id, n));
  add(client.getQueryData<InboxPage>(inboxKeys.latest)?.notifications ?? []);
  for (const [, data] of client.getQueriesData<InfiniteData<InboxPage>>({ queryKey: ["inbox", "history"] })) data?.pages.forEach((p) => add(p.notifications));
  return [...byId.values()];
}

/** Only relative paths on this origin: an action never posts the session anywhere else. */
function isSameOriginPath(url: string | undefined): url is string {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\");
}

/** Applies `fn` to every cached list of notifications: the latest page and every history page. */
function updateLists(client: QueryClient, fn: (list: Notification[]) => Notification[]): void {
  client.setQueryData<InboxPage>(inboxKeys.latest, (page) => (page ? { ...page, notifications: fn(page.notifications) } : page));
  client.setQueriesData<InfiniteData<InboxPage>>({ queryKey: ["inbox", "history"] }, (data) =>
    data ? { ...data, pages: data.pages.map((p) => ({ ...p, notifications: fn(p.notifications) })) } : data,
  );
}

type Touched = ReturnType<typeof diffStates>;

/**
 * Like updateLists, and says per cached query what `fn` changed: each query keeps its own copies
 * (the latest page and a history page fetched at another moment can differ, e.g. in `seenAt`), so
 * each is undone against its own earlier state.
 */
function updateListsTracked(client: QueryClient, fn: (list: Notification[]) => Notification[]): [QueryKey, Touched][] {
  const tracked: [QueryKey, Touched][] = [];
  const track = (key: QueryKey, list: Notification[]) => {
    const next = fn(list);
    const touched = diffStates(list, next);
    const entry = tracked.find(([k]) => k === key);
    if (entry) touched.forEach((value, id) => entry[1].set(id, value));
    else tracked.push([key, touched]);
    return next;
  };
  client.setQueryData<InboxPage>(inboxKeys.latest, (page) => (page ? { ...page, notifications: track(inboxKeys.latest, page.notifications) } : page));
  for (const [key, data] of client.getQueriesData<InfiniteData<InboxPage>>({ queryKey: ["inbox", "history"] })) {
    if (data) client.setQueryData<InfiniteData<InboxPage>>(key, { ...data, pages: data.pages.map((p) => ({ ...p, notifications: track(key, p.notifications) })) });
  }
  return tracked;
}

/** Undoes what updateListsTracked recorded, query by query. */
function revertTracked(client: QueryClient, tracked: [QueryKey, Touched][]): void {
  for (const [key, touched] of tracked) {
    client.setQueryData<InboxPage | InfiniteData<InboxPage>>(key, (data) => {
      if (!data) return data;
      if ("pages" in data) return { ...data, pages: data.pages.map((p) => ({ ...p, notifications: revertState(p.notifications, touched) })) };
      return { ...data, notifications: revertState(data.notifications, touched) };
    });
  }
}

type ProviderProps = {
  children: ReactNode;
  /** Where the API is and how to authenticate; default: this origin with the session cookie. */
  connection?: InboxConnection;
  /** How to go to a notification's target; default: a full navigation. Pass the router's push to stay client-side. */
  navigate?: (url: string) => void;
};

/**
 * Drives the inbox in the browser: TanStack Query fetches the first page and the counts; socket
 * events are applied to the cache as they come (no refetch per event); a gap in `seq`, a reconnect or
 * the tab becoming visible asks `changes?afterSeq=` for exactly what was missed (a full refetch only on
 * 410); when the socket cannot connect, the same catch-up runs by polling.
 */
export function NotificationProvider({ children, connection, navigate }: ProviderProps) {
  const client = useQueryClient();
  const baseUrl = connection?.baseUrl ?? "";
  const token = connection?.token;
  const api = useMemo(() => createInboxApi({ baseUrl, token }), [baseUrl, token]);
  const latest = useQuery({ queryKey: inboxKeys.latest, queryFn: () => api.list({ limit: String(LATEST_LIMIT) }), ...liveQuery, structuralSharing: sharePage });
  const lastSeq = useRef<number | null>(null);
  const catchingUp = useRef<Promise<void> | null>(null);
  // An event that arrives while the first page is still loading may or may not be in that page:
  // once the page says which seq it reflects, ask `changes` for anything after it.
  const missedWhileLoading = useRef(false);
  // The oldest seq of a page (the history's) that loaded before the first page did: the inbox starts
  // from there, so that what committed between the two reads reaches that page too.
  const loadedBefore = useRef<number | null>(null);
  const toastedIds = useRef(new Set<string>());
  const navigateRef = useRef(navigate);
  navigateRef.current = navigate;
  const [isLive, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [toasts, setToasts] = useState<InboxToast[]>([]);

  // The first page tells which seq it reflects; live events start from there, or from an older page
  // loaded before it (then what came between is asked of `changes` at once, below).
  if (latest.data && lastSeq.current === null) {
    lastSeq.current = Math.min(latest.data.lastSeq, loadedBefore.current ?? Infinity);
    loadedBefore.current = null;
    if (lastSeq.current < latest.data.lastSeq) missedWhileLoading.current = true;
  }

  const catchUp = useCallback(async (): Promise<void> => {
    if (lastSeq.current === null) return;
    if (catchingUp.current) return catchingUp.current;
    catchingUp.current = (async () => {
      try {
        for (;;) {
          const page = await api.changes(lastSeq.current!);
          if (page.changes.length > 0) updateLists(client, (list) => applyChanges(list, page.changes));
          // What arrived in the last minute but reached this tab by catch-up (not live) still gets
          // its toast; older ones (after a long time offline) only show in the list.
          for (const change of page.changes) {
            const n = change.kind === "new" ? change.notification : undefined;
            if (n && Date.now() - Date.parse(n.createdAt) < 60_000 && shouldToast(n, toastedIds.current, document.visibilityState)) {
              setToasts((current) => [...current.slice(-2), { id: n.id, notification: n }]);
            }
          }
          lastSeq.current = page.lastSeq;
          if (!page.hasMore) break;
        }
        await client.invalidateQueries({ queryKey: inboxKeys.count });
      } catch (caught) {
        if (caught instanceof InboxApiError && caught.status === 410) {
          // Too far behind: start over. Reset (not just invalidate) so the old page cannot set lastSeq.
          lastSeq.current = null;
          loadedBefore.current = null;
          await client.resetQueries({ queryKey: inboxKeys.all });
        }
      } finally {
        catchingUp.current = null;
      }
    })();
    return catchingUp.current;
  }, [client, api]);

  useEffect(() => {
    if (latest.data && missedWhileLoading.current) {
      missedWhileLoading.current = false;
      void catchUp();
    }
  }, [latest.data, catchUp]);

  // Every page fetched says which seq it reflects, and so does every count fetched. A page older than
  // what the inbox is caught up to (the history and the latest page load at the same time, in two
  // snapshots) has the changes after it replayed onto it; a count ahead of it (a network blip the
  // socket did not notice) means something was missed. Replaying changes twice is harmless.
  useEffect(() => {
    const rewind = (seq: number) => {
      const run = () => {
        if (lastSeq.current !== null && seq < lastSeq.current) {
          lastSeq.current = seq;
          void catchUp();
        }
      };
      if (catchingUp.current) void catchingUp.current.then(run);
      else run();
    };
    return client.getQueryCache().subscribe((event) => {
      if (event.type !== "updated" || event.action.type !== "success" || event.action.manual) return;
      const [root, kind] = event.query.queryKey as readonly unknown[];
      if (root !== "inbox") return;
      const data = event.action.data;
      if (lastSeq.current === null) {
        // Before the first page: a history page is remembered, to be reconciled from its seq.
        if (kind === "history") {
          const pages = (data as InfiniteData<InboxPage>).pages;
          if (pages.length > 0) loadedBefore.current = Math.min(loadedBefore.current ?? Infinity, ...pages.map((p) => p.lastSeq));
        }
        return;
      }
      if (kind === "count") {
        const seq = (data as UnreadCount).seq;
        const check = () => {
          if (lastSeq.current !== null && seq > lastSeq.current) void catchUp();
        };
        // (A catch-up under way may end short of it: checked again once it is done.)
        if (catchingUp.current) void catchingUp.current.then(check);
        else check();
      } else if (kind === "history") {
        const pages = (data as InfiniteData<InboxPage>).pages;
        if (pages.length > 0) rewind(Math.min(...pages.map((p) => p.lastSeq)));
      } else if (kind === "latest") {
        rewind((data as InboxPage).lastSeq);
      }
    });
  }, [client, catchUp]);

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
    const options = { withCredentials: !token, auth: token ? { token } : undefined, reconnectionDelay: 1000, reconnectionDelayMax: 30_000, randomizationFactor: 0.5 };
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = baseUrl ? io(baseUrl, options) : io(options);
    const state = (kind: StateKind) => (event: StateChangeEvent) => onSeq(event.seq, () => updateLists(client, (list) => applyState(list, kind, event.ids, event.at)));
    socket.on("connect", () => {
      setLive(true);
      void catchUp();
    });
    socket.on("disconnect", () => setLive(false));
    socket.on("notification:new", (notification) => {
      // Tell the server this device has it (in-app `delivered`).
      socket.emit("notification:ack", { id: notification.id });
      onSeq(notification.seq, () => {
        updateLists(client, (list) => upsertNotification(list, notification));
        if (shouldToast(notification, toastedIds.current, document.visibilityState)) {
          setToasts((current) => [...current.slice(-2), { id: notification.id, notification }]);
        }
      });
    });
    socket.on("notification:updated", (notification) => updateLists(client, (list) => upsertNotification(list, notification)));
    socket.on("notifications:read", state("read"));
    socket.on("notifications:unread", state("unread"));
    socket.on("notifications:seen", state("seen"));
    socket.on("notifications:archived", state("archived"));
    socket.on("notifications:unarchived", state("unarchived"));
    socket.on("notifications:removed", state("removed"));
    socket.on("notifications:read_all", (event) => onSeq(event.seq, () => updateLists(client, (list) => applyReadAll(list, event.at))));
    socket.on("preferences:updated", (preferences) => client.setQueryData(preferencesKey, preferences));
    socket.on("unread_count", (next) => client.setQueryData<UnreadCount>(inboxKeys.count, (current) => newerCount(current, next)));

    // Whenever the socket is not connected, poll the same catch-up.
    const poll = setInterval(() => {
      if (!socket.connected) void catchUp();
    }, POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === "visible") void catchUp();
    };
    // Back online: the socket may not have noticed it was gone (and missed what was sent meanwhile).
    const onOnline = () => void catchUp();
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("online", onOnline);
    return () => {
      clearInterval(poll);
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("online", onOnline);
      socket.close();
    };
  }, [client, catchUp, onSeq, baseUrl, token]);

  /**
   * Optimistic: change the cache now; if the server refuses, undo exactly what this change did (not
   * what live events did meanwhile), let the server's count settle it, and say so.
   */
  const optimistic = useCallback(
    async (apply: (list: Notification[]) => Notification[], send: () => Promise<unknown>, failure: string) => {
      const before = cachedNotifications(client);
      const tracked = updateListsTracked(client, apply);
      const after = cachedNotifications(client);
      client.setQueryData<UnreadCount>(inboxKeys.count, (c) => (c ? adjustCount(c, before, after) : c));
      try {
        await send();
      } catch {
        const current = cachedNotifications(client);
        revertTracked(client, tracked);
        const reverted = cachedNotifications(client);
        client.setQueryData<UnreadCount>(inboxKeys.count, (c) => (c ? adjustCount(c, current, reverted) : c));
        void client.invalidateQueries({ queryKey: inboxKeys.count });
        setError(failure);
      }
    },
    [client],
  );

  const change = useCallback(
    (operation: Operation, ids: string[]) =>
      optimistic(
        (list) => applyState(list, operationState[operation], ids, new Date().toISOString()),
        () => api.bulk(operation, ids),
        `Could not mark ${ids.length === 1 ? "the notification" : `${ids.length} notifications`} ${operation === "archive" || operation === "unarchive" ? `${operation}d` : operation}; it is back as it was.`,
      ),
    [optimistic, api],
  );
  const markAllRead = useCallback(
    () => optimistic((list) => applyReadAll(list, new Date().toISOString()), api.readAll, "Could not mark all as read; nothing was changed."),
    [optimistic, api],
  );
  const click = useCallback(
    (notification: Notification) =>
      optimistic((list) => applyState(list, "read", [notification.id], new Date().toISOString()), () => api.click(notification.id), "Could not mark the notification read; it is back as it was."),
    [optimistic, api],
  );
  const goTo = useCallback((url: string) => (navigateRef.current ? navigateRef.current(url) : window.location.assign(url)), []);
  const open = useCallback(
    (notification: Notification) => {
      const done = click(notification);
      const url = notification.target?.url;
      // Let the click be recorded before a full navigation unloads the page.
      if (url) void done.finally(() => goTo(url));
    },
    [click, goTo],
  );
  const runAction = useCallback(
    async (notification: Notification, action: NotificationAction): Promise<boolean> => {
      switch (action.kind) {
        case "dismiss":
          await change("archive", [notification.id]);
          return true;
        case "navigate":
          await click(notification);
          if (action.url) goTo(action.url);
          return true;
        case "api_call": {
          if (!isSameOriginPath(action.url)) {
            setError(`"${action.label}" cannot run: its address is not on this site.`);
            return false;
          }
          try {
            const response = await fetch(action.url, {
              method: "POST",
              credentials: "same-origin",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ notificationId: notification.id, actionId: action.id }),
            });
            if (!response.ok) throw new Error(String(response.status));
          } catch {
            setError(`"${action.label}" did not go through; please try again.`);
            return false;
          }
          await click(notification);
          return true;
        }
      }
    },
    [change, click, goTo],
  );

  const dismissToast = useCallback((id: string) => setToasts((current) => current.filter((t) => t.id !== id)), []);
  const dismissError = useCallback(() => setError(null), []);
  // Actions never change, so components that only act (the history) do not re-render on every event.
  const actions = useMemo<InboxActions>(
    () => ({ api, dismissError, dismissToast, change, markAllRead, click, open, runAction }),
    [api, dismissError, dismissToast, change, markAllRead, click, open, runAction],
  );
  const status = useMemo<InboxStatus>(() => ({ isLive, error, toasts }), [isLive, error, toasts]);
  return (
    <InboxActionsContext.Provider value={actions}>
      <InboxStatusContext.Provider value={status}>{children}</InboxStatusContext.Provider>
    </InboxActionsContext.Provider>
  );
}

/** What the inbox can do; stable for the provider's lifetime. */
export function useInboxActions(): InboxActions {
  const value = useContext(InboxActionsContext);
  if (!value) throw new Error("useInboxActions() must be used inside <NotificationProvider>");
  return value;
}

/** Whether the socket is live, the last error and the toasts; re-renders only when one of them changes. */
export function useInboxStatus(): InboxStatus {
  const value = useContext(InboxStatusContext);
  if (!value) throw new Error("useInboxStatus() must be used inside <NotificationProvider>");
  return value;
}

const NO_COUNT: UnreadCount = { count: 0, unseen: 0, seq: 0 };
const NO_NOTIFICATIONS: Notification[] = [];

/** The unread and unseen counts; re-renders only when they change (e.g. the bell's badge). */
export function useUnreadCount(): UnreadCount {
  const { api } = useInboxActions();
  return useQuery({ queryKey: inboxKeys.count, queryFn: api.count, ...liveQuery, structuralSharing: shareCount }).data ?? NO_COUNT;
}

/** The latest notifications (newest first, archived included); re-renders only when that list changes. */
export function useLatestNotifications(): { notifications: Notification[]; isLoading: boolean } {
  const { api } = useInboxActions();
  const query = useQuery({ queryKey: inboxKeys.latest, queryFn: () => api.list({ limit: String(LATEST_LIMIT) }), ...liveQuery, structuralSharing: sharePage });
  return { notifications: query.data?.notifications ?? NO_NOTIFICATIONS, isLoading: query.isLoading };
}

/**
 * Everything at once: the state and the actions. Convenient, but it re-renders on any change; the
 * narrower hooks above re-render only for what they return.
 */
export function useNotifications(): InboxStatus & InboxActions & { notifications: Notification[]; count: UnreadCount; isLoading: boolean } {
  const status = useInboxStatus();
  const actions = useInboxActions();
  const count = useUnreadCount();
  const { notifications, isLoading } = useLatestNotifications();
  return { ...status, ...actions, notifications, count, isLoading };
}
