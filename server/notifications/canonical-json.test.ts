import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, hashCanonicalJson } from "@/server/notifications/canonical-json";

/** Shuffles an object's keys at every depth, keeping the values. */
function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).reverse().map(([k, v]) => [k, reorder(v)]));
  }
  return value;
}

describe("canonicalJson", () => {
  it("is the same for any key order at any depth", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => canonicalJson(reorder(value)) === canonicalJson(value)));
  });

  it("parses back to an equal value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it("tells different bodies apart", () => {
    expect(hashCanonicalJson({ a: 1, b: [1, 2] })).toBe(hashCanonicalJson({ b: [1, 2], a: 1 }));
    expect(hashCanonicalJson({ a: 1, b: [1, 2] })).not.toBe(hashCanonicalJson({ a: 1, b: [2, 1] }));
    expect(hashCanonicalJson({ a: "1" })).not.toBe(hashCanonicalJson({ a: 1 }));
  });
});
