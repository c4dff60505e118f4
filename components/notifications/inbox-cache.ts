// Pure functions that keep the browser's copy of the inbox right as events arrive: one place for the
// rules, shared by the socket handlers, the optimistic mutations and the `changes` replay.
import type { Change, Notification, UnreadCount } from "@/server/notifications/notifications.schema";

/** The order of every list: newest `sortAt` first, then higher id first (as the API returns them). */
export function compareNotifications(a: Notification, b: Notification): number {
  if (a.sortAt !== b.sortAt) return a.sortAt < b.sortAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Inserts or replaces one notification (by id), keeping the order; an older copy never wins. */
export function upsertNotification(list: readonly Notification[], notification: Notification): Notification[] {
  const existing = list.find((n) => n.id === notification.id);
  if (existing && existing.seq > notification.seq) return list as Notification[];
  const rest = existing ? list.filter((n) => n.id !== notification.id) : [...list];
  const at = rest.findIndex((n) => compareNotifications(notification, n) < 0);
  if (at === -1) rest.push(notification);
  else rest.splice(at, 0, notification);
  return rest;
}

export type StateKind = "read" | "unread" | "seen" | "archived" | "unarchived" | "removed";

/** Applies a bulk state change to the listed notifications with these ids. */
export function applyState(list: readonly Notification[], kind: StateKind, ids: readonly string[], at: string): Notification[] {
  const targets = new Set(ids);
  if (kind === "removed") return list.filter((n) => !targets.has(n.id));
  return list.map((n) => (targets.has(n.id) ? withState(n, kind, at) : n));
}

/** The notification in the new state; the same object when nothing changes (so nothing re-renders). */
function withState(n: Notification, kind: Exclude<StateKind, "removed">, at: string): Notification {
  const already = { read: n.read && n.seen, unread: !n.read, seen: n.seen, archived: n.archived, unarchived: !n.archived }[kind];
  if (already) return n;
  switch (kind) {
    case "read":
      return { ...n, read: true, readAt: n.readAt ?? at, seen: true, seenAt: n.seenAt ?? at };
    case "unread":
      return { ...n, read: false, readAt: null };
    case "seen":
      return { ...n, seen: true, seenAt: n.seenAt ?? at };
    case "archived":
      return { ...n, archived: true, archivedAt: n.archivedAt ?? at };
    case "unarchived":
      return { ...n, archived: false, archivedAt: null };
  }
}

/** Every unread notification in the inbox (not archived) becomes read. */
export function applyReadAll(list: readonly Notification[], at: string): Notification[] {
  return list.map((n) => (!n.read && !n.archived ? withState(n, "read", at) : n));
}

/**
 * How counts move when the client itself changes state (optimistically), computed from the items it
 * knows; the server's `unread_count` event then sets the truth. Never below zero.
 */
export function adjustCount<C extends Pick<UnreadCount, "count" | "unseen">>(count: C, before: readonly Notification[], after: readonly Notification[]): C {
  const byId = new Map(before.map((n) => [n.id, n]));
  let unread = count.count;
  let unseen = count.unseen;
  for (const n of after) {
    const old = byId.get(n.id);
    if (!old) continue;
    unread += Number(isUnread(n)) - Number(isUnread(old));
    unseen += Number(isUnseen(n)) - Number(isUnseen(old));
  }
  return { ...count, count: Math.max(0, unread), unseen: Math.max(0, unseen) };
}

/**
 * Of two readings of the counts, the one that reflects the later `seq` (on a tie, the incoming one):
 * a count fetched before an event but answered after it must not overwrite the event's newer count.
 */
export function newerCount(current: UnreadCount | undefined, incoming: UnreadCount): UnreadCount {
  return current && current.seq > incoming.seq ? current : incoming;
}

type StateFields = Pick<Notification, "read" | "readAt" | "seen" | "seenAt" | "archived" | "archivedAt">;

function stateOf(n: Notification): StateFields {
  return { read: n.read, readAt: n.readAt, seen: n.seen, seenAt: n.seenAt, archived: n.archived, archivedAt: n.archivedAt };
}

function sameState(a: Notification, b: Notification): boolean {
  const x = stateOf(a);
  const y = stateOf(b);
  return (Object.keys(x) as (keyof StateFields)[]).every((key) => x[key] === y[key]);
}

/**
 * Which notifications an optimistic change touched: for each id whose state it changed, the copy
 * from before and the copy it made.
 */
export function diffStates(before: readonly Notification[], after: readonly Notification[]): Map<string, { before: Notification; after: Notification }> {
  const old = new Map(before.map((n) => [n.id, n]));
  const changed = new Map<string, { before: Notification; after: Notification }>();
  for (const n of after) {
    const was = old.get(n.id);
    if (was && !sameState(was, n)) changed.set(n.id, { before: was, after: n });
  }
  return changed;
}

/**
 * Undoes an optimistic change that the server refused: each notification it touched gets back its
 * earlier state, unless something else (a live event, another change) has moved it on since; the
 * rest of the list, and every other field, stays as it is now.
 */
export function revertState(list: readonly Notification[], touched: ReadonlyMap<string, { before: Notification; after: Notification }>): Notification[] {
  return list.map((n) => {
    const entry = touched.get(n.id);
    if (!entry || !sameState(n, entry.after)) return n;
    return { ...n, ...stateOf(entry.before) };
  });
}

const isUnread = (n: Notification) => !n.read && !n.archived;
const isUnseen = (n: Notification) => !n.seen && !n.archived;

/** What to do with an event that carries `seq`, given the last seq the client has applied. */
export function classifySeq(lastSeq: number, seq: number): "stale" | "next" | "gap" {
  if (seq <= lastSeq) return "stale";
  return seq === lastSeq + 1 ? "next" : "gap";
}

/** Replays `changes?afterSeq=` onto a list, in seq order. */
export function applyChanges(list: readonly Notification[], changes: readonly Change[]): Notification[] {
  let next = [...list];
  for (const change of [...changes].sort((a, b) => a.seq - b.seq)) {
    switch (change.kind) {
      case "new":
      case "updated":
        if (change.notification) next = upsertNotification(next, change.notification);
        break;
      case "read_all":
        next = applyReadAll(next, change.at);
        break;
      default:
        next = applyState(next, change.kind, change.ids ?? [], change.at);
    }
  }
  return next;
}

/**
 * Structural sharing by id for the query cache: every notification in `next` that is deep-equal to
 * the one with its id in `previous` is replaced by that earlier object, so memoised items skip
 * rendering. (TanStack's default shares by array index, which a new notification at the top shifts.)
 */
export function reuseUnchanged<T extends { notifications: Notification[] }>(previous: readonly T[], next: readonly T[]): T[] {
  const byId = new Map<string, Notification>();
  for (const page of previous) for (const n of page.notifications) byId.set(n.id, n);
  if (byId.size === 0) return next as T[];
  return next.map((page) => {
    let changed = false;
    const notifications = page.notifications.map((n) => {
      const old = byId.get(n.id);
      const kept = old !== undefined && old !== n && deepEqual(old, n) ? old : n;
      if (kept !== n) changed = true;
      return kept;
    });
    return changed ? { ...page, notifications } : page;
  });
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Whether a live notification gets a toast: only while the tab is visible, only if it is unread, and
 * once per id (a notification that reaches the tab twice, e.g. live and again in a catch-up, or
 * updated by aggregation, is not toasted again). Records the id when it says yes.
 */
export function shouldToast(notification: Notification, toasted: Set<string>, visibility: DocumentVisibilityState): boolean {
  if (visibility !== "visible" || notification.read || notification.archived || toasted.has(notification.id)) return false;
  toasted.add(notification.id);
  return true;
}
