import { describe, expect, it } from "vitest";
import { batcher, batcherPerKey } from "@/server/batcher";

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("batcher", () => {
  it("runs an item alone while a statement is free, and what waits behind busy statements together", async () => {
    const batches: number[][] = [];
    const release: (() => void)[] = [];
    const add = batcher(
      async (items: number[]) => {
        batches.push(items);
        await new Promise<void>((resolve) => release.push(resolve));
        return items.map((n) => n * 10);
      },
      { inFlight: 2, max: 3 },
    );
    const results = [1, 2, 3, 4, 5, 6].map((n) => add(n));
    await tick();
    // Two alone (both statements were free), then the rest waits.
    expect(batches).toEqual([[1], [2]]);
    release.shift()!();
    await tick();
    // The first to finish takes up to `max` of what waited.
    expect(batches).toEqual([[1], [2], [3, 4, 5]]);
    while (release.length > 0) {
      release.shift()!();
      await tick();
    }
    expect(batches).toEqual([[1], [2], [3, 4, 5], [6]]);
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it("runs each item of a failed batch again alone: only the bad one fails", async () => {
    const batches: string[][] = [];
    let hold: Promise<void> | null = new Promise<void>((resolve) => setTimeout(resolve, 20));
    const add = batcher(
      async (items: string[]) => {
        batches.push(items);
        if (hold) {
          const wait = hold;
          hold = null;
          await wait;
        }
        if (items.includes("bad")) throw new Error(`refused: ${items.join(",")}`);
        return items.map((s) => s.toUpperCase());
      },
      { inFlight: 1, max: 10 },
    );
    const first = add("first");
    const rest = ["a", "bad", "b"].map((s) => add(s).then((v) => ({ ok: v }), (e: Error) => ({ error: e.message })));
    expect(await first).toBe("FIRST");
    expect(await Promise.all(rest)).toEqual([{ ok: "A" }, { error: "refused: bad" }, { ok: "B" }]);
    expect(batches).toEqual([["first"], ["a", "bad", "b"], ["a"], ["bad"], ["b"]]);
  });

  it("per key: each key has its own statements in flight, and a batch holds one key's items only", async () => {
    const batches: [string, number[]][] = [];
    const release: (() => void)[] = [];
    const add = batcherPerKey(
      async (key: { name: string }, items: number[]) => {
        batches.push([key.name, items]);
        await new Promise<void>((resolve) => release.push(resolve));
        return items.map((n) => `${key.name}${n}`);
      },
      { inFlight: 1, max: 10 },
    );
    const a = { name: "a" };
    const b = { name: "b" };
    const results = [add(a, 1), add(a, 2), add(b, 3), add(a, 4), add(b, 5)];
    await tick();
    // b's first item does not wait behind a's statement.
    expect(batches).toEqual([["a", [1]], ["b", [3]]]);
    while (release.length > 0) {
      release.shift()!();
      await tick();
    }
    expect(batches).toEqual([["a", [1]], ["b", [3]], ["a", [2, 4]], ["b", [5]]]);
    expect(await Promise.all(results)).toEqual(["a1", "a2", "b3", "a4", "b5"]);
  });
});
