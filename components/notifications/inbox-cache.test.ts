import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Notification } from "@/server/notifications/notifications.schema";
import { adjustCount, applyChanges, applyReadAll, applyState, classifySeq, compareNotifications, diffStates, newerCount, reuseUnchanged, revertState, shouldToast, upsertNotification } from "@/components/notifications/inbox-cache";

function notification(id: string, sortAt: string, extra: Partial<Notification> = {}): Notification {
  return {
    id,
    type: "comment",
    category: "engagement",
    priority: "normal",
    title: `t ${id}`,
    body: "",
    actor: null,
    actors: [],
    actorCount: 0,
    target: null,
    actions: [],
    data: {},
    seq: 1,
    read: false,
    seen: false,
    archived: false,
    createdAt: sortAt,
    sortAt,
    readAt: null,
    seenAt: null,
    archivedAt: null,
    clickedAt: null,
    expiresAt: null,
    ...extra,
  };
}

const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;
const time = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe("ordering and deduplication", () => {
  it("keeps any insertion order sorted by (sortAt desc, id desc), each id once", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ n: fc.integer({ min: 1, max: 30 }), s: fc.integer({ min: 0, max: 5 }) }), { maxLength: 60 }), (items) => {
        let list: Notification[] = [];
        for (const { n, s } of items) list = upsertNotification(list, notification(id(n), time(s), { seq: s }));
        const ids = list.map((x) => x.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...list].sort(compareNotifications)).toEqual(list);
      }),
    );
  });

  it("never lets an older copy replace a newer one", () => {
    const newer = notification(id(1), time(1), { seq: 5, title: "new" });
    const older = notification(id(1), time(1), { seq: 3, title: "old" });
    expect(upsertNotification([newer], older)[0]!.title).toBe("new");
    expect(upsertNotification([older], newer)[0]!.title).toBe("new");
  });

  it("orders equal timestamps by id", () => {
    const list = [notification(id(1), time(0)), notification(id(3), time(0)), notification(id(2), time(0))].sort(compareNotifications);
    expect(list.map((n) => n.id)).toEqual([id(3), id(2), id(1)]);
  });
});

describe("state changes and counts", () => {
  const list = [notification(id(1), time(1)), notification(id(2), time(2), { seen: true, seenAt: time(2) }), notification(id(3), time(3), { archived: true, archivedAt: time(3) })];

  it("applies read, unread, archive and removal by id", () => {
    const read = applyState(list, "read", [id(1)], time(9));
    expect(read[0]).toMatchObject({ read: true, seen: true, readAt: time(9) });
    expect(applyState(read, "unread", [id(1)], time(10))[0]).toMatchObject({ read: false, readAt: null, seen: true });
    expect(applyState(list, "removed", [id(2)], time(9)).map((n) => n.id)).toEqual([id(1), id(3)]);
  });

  it("read-all leaves archived notifications alone", () => {
    const all = applyReadAll(list, time(9));
    expect(all.map((n) => n.read)).toEqual([true, true, false]);
  });

  it("moves counts by what changed and never below zero", () => {
    const after = applyState(list, "read", [id(1), id(2), id(3)], time(9));
    expect(adjustCount({ count: 2, unseen: 1 }, list, after)).toEqual({ count: 0, unseen: 0 });
    expect(adjustCount({ count: 0, unseen: 0 }, list, after)).toEqual({ count: 0, unseen: 0 });
    const back = applyState(after, "unread", [id(1)], time(10));
    expect(adjustCount({ count: 0, unseen: 0 }, after, back)).toEqual({ count: 1, unseen: 0 });
  });

  it("returns the same object when a change changes nothing (an echo of our own change re-renders nothing)", () => {
    const read = applyState(list, "read", [id(1)], time(9));
    const echo = applyState(read, "read", [id(1)], time(10));
    expect(echo[0]).toBe(read[0]);
    expect(echo[0]!.readAt).toBe(time(9));
    expect(applyState(list, "unarchived", [id(1)], time(9))[0]).toBe(list[0]);
  });
});

describe("optimistic rollback", () => {
  const list = [notification(id(1), time(1)), notification(id(2), time(2), { seen: true, seenAt: time(2) }), notification(id(3), time(3), { archived: true, archivedAt: time(3) })];

  it("undoes exactly what the refused change did, and the counts come back", () => {
    const after = applyState(list, "read", [id(1), id(2)], time(9));
    const touched = diffStates(list, after);
    expect([...touched.keys()].sort()).toEqual([id(1), id(2)]);
    const reverted = revertState(after, touched);
    expect(reverted).toEqual(list);
    const optimisticCount = adjustCount({ count: 2, unseen: 1 }, list, after);
    expect(optimisticCount).toEqual({ count: 0, unseen: 0 });
    expect(adjustCount(optimisticCount, after, reverted)).toEqual({ count: 2, unseen: 1 });
  });

  it("keeps what live events changed while the request was in flight", () => {
    const after = applyState(list, "archived", [id(1), id(2)], time(9));
    const touched = diffStates(list, after);
    // Meanwhile: another device read #2, a new notification arrived, #1's title was re-rendered.
    let live = applyState(after, "read", [id(2)], time(10));
    live = upsertNotification(live, notification(id(4), time(4)));
    live = live.map((n) => (n.id === id(1) ? { ...n, title: "updated" } : n));
    const reverted = revertState(live, touched);
    const byId = new Map(reverted.map((n) => [n.id, n]));
    expect(byId.get(id(1))).toMatchObject({ archived: false, archivedAt: null, title: "updated" });
    // #2 moved on since (read by another device): its newer state stands.
    expect(byId.get(id(2))).toMatchObject({ archived: true, read: true });
    expect(byId.get(id(4))).toBeDefined();
    expect(byId.get(id(3))).toBe(live.find((n) => n.id === id(3)));
  });

  it("for any sequence of changes, reverting straight away restores the list and the counts", () => {
    const kinds = ["read", "unread", "seen", "archived", "unarchived"] as const;
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.subarray([1, 2, 3]), (kind, picked) => {
        const after = applyState(list, kind, picked.map(id), time(20));
        const reverted = revertState(after, diffStates(list, after));
        expect(reverted).toEqual(list);
        // The true counts of `list`: #1 and #2 unread, #1 unseen (#3 is archived).
        const optimistic = adjustCount({ count: 2, unseen: 1 }, list, after);
        expect(optimistic.count).toBeGreaterThanOrEqual(0);
        expect(adjustCount(optimistic, after, reverted)).toEqual({ count: 2, unseen: 1 });
      }),
    );
  });
});

describe("gaps and replay", () => {
  it("classifies seqs", () => {
    expect(classifySeq(5, 5)).toBe("stale");
    expect(classifySeq(5, 6)).toBe("next");
    expect(classifySeq(5, 8)).toBe("gap");
  });

  it("replays changes in seq order to the same list as live events", () => {
    const n1 = notification(id(1), time(1), { seq: 1 });
    const n2 = notification(id(2), time(2), { seq: 2 });
    const changes = [
      { seq: 4, kind: "archived" as const, ids: [id(1)], at: time(4) },
      { seq: 1, kind: "new" as const, notification: n1, at: time(1) },
      { seq: 2, kind: "new" as const, notification: n2, at: time(2) },
      { seq: 3, kind: "read_all" as const, at: time(3) },
    ];
    const replayed = applyChanges([], changes);
    const live = applyState(applyReadAll(upsertNotification(upsertNotification([], n1), n2), time(3)), "archived", [id(1)], time(4));
    expect(replayed).toEqual(live);
    expect(replayed.map((n) => [n.id, n.read, n.archived])).toEqual([
      [id(2), true, false],
      [id(1), true, true],
    ]);
  });
});

describe("sharing by id", () => {
  it("keeps the earlier object for every unchanged notification, wherever it moved", () => {
    const a = notification(id(1), time(1));
    const b = notification(id(2), time(2));
    const previous = [{ notifications: [b, a] }];
    // The same content as fresh objects (a refetch, or TanStack's copy), with a new one on top.
    const next = [{ notifications: [notification(id(3), time(3)), { ...b }, { ...a, read: true }] }];
    const [page] = reuseUnchanged(previous, next);
    expect(page!.notifications[1]).toBe(b);
    expect(page!.notifications[2]).not.toBe(a);
    expect(page!.notifications[2]).toMatchObject({ id: id(1), read: true });
    expect(page!.notifications[0]).toBe(next[0]!.notifications[0]);
    // Nothing to reuse: the same pages back.
    expect(reuseUnchanged([], next)).toBe(next);
  });
});

describe("toasts", () => {
  it("one per id, only unread, only while the tab is visible", () => {
    const toasted = new Set<string>();
    const n = notification(id(1), time(1));
    expect(shouldToast(n, toasted, "hidden")).toBe(false);
    expect(shouldToast(n, toasted, "visible")).toBe(true);
    expect(shouldToast({ ...n, seq: 2, title: "updated" }, toasted, "visible")).toBe(false);
    expect(shouldToast(notification(id(2), time(2), { read: true }), toasted, "visible")).toBe(false);
    expect(shouldToast(notification(id(3), time(3), { archived: true }), toasted, "visible")).toBe(false);
    expect([...toasted]).toEqual([id(1)]);
  });
});

describe("counts", () => {
  it("keep the reading with the later seq: a slow fetch never overwrites a newer event", () => {
    const event = { count: 1, unseen: 1, seq: 7 };
    const staleFetch = { count: 0, unseen: 0, seq: 6 };
    expect(newerCount(event, staleFetch)).toBe(event);
    expect(newerCount(staleFetch, event)).toBe(event);
    expect(newerCount(undefined, staleFetch)).toBe(staleFetch);
    const same = { count: 1, unseen: 0, seq: 7 };
    expect(newerCount(event, same)).toBe(same);
    // An optimistic adjustment keeps the seq it started from.
    expect(adjustCount(event, [], [])).toEqual(event);
  });
});
