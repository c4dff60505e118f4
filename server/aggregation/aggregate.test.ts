import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { actorsPhrase, groupKey, MAX_ACTORS, mergeActors, withinWindow, type Actor } from "@/server/aggregation/aggregate";

const source = { type: "like", target: { type: "post", id: "456" }, actor: { id: "u9", name: "John" }, data: { thread: { id: "t1" } } };

describe("group keys", () => {
  it("defaults to type:targetType:targetId and reads other parts", () => {
    expect(groupKey(source)).toBe("like:post:456");
    expect(groupKey({ ...source, target: null })).toBe("like:-:-");
    expect(groupKey(source, "type:actorId")).toBe("like:u9");
    expect(groupKey(source, "type:data.thread.id")).toBe("like:t1");
    expect(groupKey({ ...source, target: { type: "post", id: "a:b" } })).toBe("like:post:a%3Ab");
  });
});

describe("merging actors", () => {
  it("keeps the newest first, each once, at most 10, and counts every distinct actor", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 80 }), (ids) => {
        let group = { actors: [] as Actor[], actorCount: 0, seen: new Set<string>() };
        for (const n of ids) {
          const actor = { id: `a${n}`, name: `A${n}` };
          const merged = mergeActors(group, actor);
          group = { actors: merged.actors, actorCount: merged.actorCount, seen: new Set([...group.seen, actor.id]) };
        }
        const distinct = new Set(ids.map((n) => `a${n}`));
        expect(group.actorCount).toBe(distinct.size);
        expect(group.actors.length).toBe(Math.min(MAX_ACTORS, distinct.size));
        expect(new Set(group.actors.map((a) => a.id)).size).toBe(group.actors.length);
        if (ids.length > 0) expect(group.actors[0]!.id).toBe(`a${ids.at(-1)}`);
      }),
    );
  });

  it("a repeated actor moves to the front without counting twice", () => {
    const group = { actors: [{ id: "m", name: "Mary" }, { id: "j", name: "John" }], actorCount: 2, seen: new Set(["m", "j"]) };
    expect(mergeActors(group, { id: "j", name: "John" })).toEqual({ actors: [{ id: "j", name: "John" }, { id: "m", name: "Mary" }], actorCount: 2, isNewActor: false });
    expect(mergeActors(group, null).actorCount).toBe(2);
  });
});

describe("the phrase", () => {
  it.each([
    [[], 0, "Someone"],
    [[{ id: "j", name: "John" }], 1, "John"],
    [[{ id: "j", name: "John" }, { id: "m", name: "Mary" }], 2, "John and Mary"],
    [[{ id: "j", name: "John" }, { id: "m", name: "Mary" }, { id: "a", name: "Ann" }], 3, "John, Mary and Ann"],
    [[{ id: "j", name: "John" }, { id: "m", name: "Mary" }, { id: "a", name: "Ann" }], 4, "John, Mary and 2 others"],
    [[{ id: "j", name: "John" }, { id: "m", name: "Mary" }], 7, "John, Mary and 5 others"],
    [[{ id: "j" }, { id: "m", name: "Mary" }], 3, "j, Mary and 1 other"],
  ] as const)("%j, %i → %s", (actors, count, phrase) => {
    expect(actorsPhrase(actors as readonly Actor[], count)).toBe(phrase);
  });
});

describe("windows", () => {
  it("joins inside the window, not at or after its end", () => {
    const start = new Date("2026-06-10T12:00:00Z");
    expect(withinWindow(start, new Date("2026-06-10T12:59:59Z"), "1h")).toBe(true);
    expect(withinWindow(start, new Date("2026-06-10T13:00:00Z"), "1h")).toBe(false);
  });
});
