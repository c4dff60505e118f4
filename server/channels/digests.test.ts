import { describe, expect, it } from "vitest";
import { digestBoundary, digestDue } from "@/server/channels/digests";

const at = (iso: string) => new Date(iso);

describe("digest times", () => {
  it.each([
    ["daily, after the hour: today", "2026-06-10T09:00:00Z", "UTC", "daily", "2026-06-10T08:00:00.000Z"],
    ["daily, before the hour: yesterday", "2026-06-10T07:59:00Z", "UTC", "daily", "2026-06-09T08:00:00.000Z"],
    ["daily, exactly at the hour", "2026-06-10T08:00:00Z", "UTC", "daily", "2026-06-10T08:00:00.000Z"],
    ["daily in Berlin (summer, UTC+2)", "2026-06-10T06:30:00Z", "Europe/Berlin", "daily", "2026-06-10T06:00:00.000Z"],
    ["daily in Berlin on the day clocks go forward: 08:00 CEST", "2026-03-29T07:00:00Z", "Europe/Berlin", "daily", "2026-03-29T06:00:00.000Z"],
    ["daily in Berlin the day before: 08:00 CET", "2026-03-29T05:00:00Z", "Europe/Berlin", "daily", "2026-03-28T07:00:00.000Z"],
    ["daily in Tokyo, already tomorrow there", "2026-06-10T23:30:00Z", "Asia/Tokyo", "daily", "2026-06-10T23:00:00.000Z"],
    ["weekly on a Wednesday: Monday", "2026-06-10T12:00:00Z", "UTC", "weekly", "2026-06-08T08:00:00.000Z"],
    ["weekly on Monday before the hour: the Monday before", "2026-06-08T07:00:00Z", "UTC", "weekly", "2026-06-01T08:00:00.000Z"],
    ["weekly on Monday after the hour", "2026-06-08T08:30:00Z", "UTC", "weekly", "2026-06-08T08:00:00.000Z"],
  ] as const)("%s", (_name, now, zone, frequency, expected) => {
    expect(digestBoundary(at(now), zone, frequency, 8).toISOString()).toBe(expected);
  });

  it("is due once a digest hour has passed since the last digest (or the oldest waiting item)", () => {
    const since = at("2026-06-10T07:00:00Z");
    expect(digestDue(at("2026-06-10T07:59:00Z"), "UTC", "daily", since)).toBe(false);
    expect(digestDue(at("2026-06-10T08:00:00Z"), "UTC", "daily", since)).toBe(true);
    expect(digestDue(at("2026-06-10T09:00:00Z"), "UTC", "daily", at("2026-06-10T08:00:30Z"))).toBe(false);
    expect(digestDue(at("2026-06-14T09:00:00Z"), "UTC", "weekly", since)).toBe(false);
    expect(digestDue(at("2026-06-15T08:00:00Z"), "UTC", "weekly", since)).toBe(true);
  });
});
