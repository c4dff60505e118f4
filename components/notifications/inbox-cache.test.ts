import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Notification } from "@/server/notifications/notifications.schema";
import { adjustCount, applyChanges, applyReadAll, applyState, classifySeq, compareNotifications, upsertNotification } from "@/components/notifications/inbox-cache";

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

  it("rolls back to exactly the state before an optimistic change", () => {
    const before = list;
    const optimistic = applyState(before, "archived", [id(1)], time(9));
    expect(optimistic).not.toEqual(before);
    // A rollback restores the snapshot taken before the change.
    expect(before[0]).toMatchObject({ archived: false });
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
