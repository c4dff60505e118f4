import { describe, expect, it } from "vitest";
import { fitSegments, isE164 } from "@/server/channels/sms-provider";
import { smsSegments } from "@/server/templates/render-notification";

describe("SMS segments", () => {
  it.each([
    ["short GSM", "hello", { characters: 5, segments: 1, encoding: "GSM-7" }],
    ["160 GSM characters: one segment", "a".repeat(160), { characters: 160, segments: 1, encoding: "GSM-7" }],
    ["161: two segments of 153", "a".repeat(161), { characters: 161, segments: 2, encoding: "GSM-7" }],
    ["€ takes two septets: 80 fit", "€".repeat(80), { characters: 80, segments: 1, encoding: "GSM-7" }],
    ["81 € do not", "€".repeat(81), { characters: 81, segments: 2, encoding: "GSM-7" }],
    ["ö is GSM", "ö".repeat(10), { characters: 10, segments: 1, encoding: "GSM-7" }],
    ["ł is not: UCS-2, 70 per segment", "ł".repeat(70), { characters: 70, segments: 1, encoding: "UCS-2" }],
    ["71 UCS-2 characters: two segments of 67", "ł".repeat(71), { characters: 71, segments: 2, encoding: "UCS-2" }],
    ["an emoji is two UTF-16 units", "😀".repeat(35), { characters: 35, segments: 1, encoding: "UCS-2" }],
  ] as const)("%s", (_name, body, expected) => {
    expect(smsSegments(body)).toEqual(expected);
  });

  it("cuts a body to the budget, keeping its encoding, and leaves a short one alone", () => {
    const gsm = fitSegments("word ".repeat(200), 1);
    expect(smsSegments(gsm)).toMatchObject({ segments: 1, encoding: "GSM-7" });
    expect(gsm.endsWith("...")).toBe(true);
    expect(gsm.length).toBeGreaterThan(150);
    const ucs = fitSegments("łódź ".repeat(100), 2);
    expect(smsSegments(ucs)).toMatchObject({ segments: 2, encoding: "UCS-2" });
    expect(ucs.endsWith("…")).toBe(true);
    expect(fitSegments("short", 1)).toBe("short");
  });

  it("takes E.164 numbers only", () => {
    for (const ok of ["+4915112345678", "+14155552671"]) expect(isE164(ok)).toBe(true);
    for (const bad of ["015112345678", "+0123456789", "+49 151 1234", "4915112345678", "+1234"]) expect(isE164(bad)).toBe(false);
  });
});
