import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validate, version } from "uuid";
import { fastUuidV7 } from "@/server/ids";

describe("fastUuidV7", () => {
  it("is a valid version-7 UUID carrying the millisecond time, and unique", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (at) => {
        const id = fastUuidV7(at);
        expect(validate(id)).toBe(true);
        expect(version(id)).toBe(7);
        expect(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)).toBe(true);
        expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
      }),
    );
    const many = Array.from({ length: 10_000 }, () => fastUuidV7());
    expect(new Set(many).size).toBe(many.length);
  });

  it("sorts by time across milliseconds", () => {
    expect(fastUuidV7(1_000) < fastUuidV7(1_001)).toBe(true);
    expect(fastUuidV7(Date.parse("2026-01-01")) < fastUuidV7(Date.parse("2027-01-01"))).toBe(true);
  });
});
