import { describe, expect, it } from "vitest";
import { idSchema, isSafeUrl, triggerInputSchema } from "@/server/notifications/notifications.schema";
import { safeNextPath } from "@/server/auth/session-cookie";

describe("isSafeUrl", () => {
  it.each([
    ["/posts/1", true],
    ["/posts/1?x=1#c", true],
    ["https://example.com/a", true],
    ["http://example.com/a", false],
    ["javascript:alert(1)", false],
    ["JavaScript:alert(1)", false],
    ["data:text/html,hi", false],
    ["//evil.example/x", false],
    ["/\\evil.example", false],
    ["/ok\nLocation: x", false],
    ["", false],
    ["relative/path", false],
    ["https://", false],
  ])("%s → %s", (url, safe) => {
    expect(isSafeUrl(url)).toBe(safe);
  });
});

describe("safeNextPath", () => {
  it.each([
    ["/notifications", "/notifications"],
    ["//evil.example", "/"],
    ["/\\evil.example", "/"],
    ["https://evil.example", "/"],
    ["/ünïcode", "/"],
    [undefined, "/"],
  ])("%s → %s", (next, expected) => {
    expect(safeNextPath(next)).toBe(expected);
  });
});

describe("ids and triggers", () => {
  it("accepts ids of 1–128 allowed characters only", () => {
    expect(idSchema.safeParse("user-1@example.com:a_b.c").success).toBe(true);
    expect(idSchema.safeParse("x".repeat(128)).success).toBe(true);
    expect(idSchema.safeParse("x".repeat(129)).success).toBe(false);
    expect(idSchema.safeParse("").success).toBe(false);
    expect(idSchema.safeParse("a b").success).toBe(false);
    expect(idSchema.safeParse("a/b").success).toBe(false);
  });

  it("requires a url for navigate and api_call actions, and a relative one for api_call", () => {
    const base = { type: "comment", to: ["u1"] };
    expect(triggerInputSchema.safeParse({ ...base, actions: [{ id: "a", label: "A", kind: "dismiss" }] }).success).toBe(true);
    expect(triggerInputSchema.safeParse({ ...base, actions: [{ id: "a", label: "A", kind: "navigate" }] }).success).toBe(false);
    expect(triggerInputSchema.safeParse({ ...base, actions: [{ id: "a", label: "A", kind: "api_call", url: "https://x.example/y" }] }).success).toBe(false);
    expect(triggerInputSchema.safeParse({ ...base, actions: [{ id: "a", label: "A", kind: "api_call", url: "/api/x" }] }).success).toBe(true);
  });

  it("refuses repeated channels and an expiry before sendAt", () => {
    const base = { type: "comment", to: ["u1"] };
    expect(triggerInputSchema.safeParse({ ...base, channels: ["push", "push"] }).success).toBe(false);
    const soon = new Date(Date.now() + 60_000).toISOString();
    const later = new Date(Date.now() + 120_000).toISOString();
    expect(triggerInputSchema.safeParse({ ...base, sendAt: later, expiresAt: soon }).success).toBe(false);
    expect(triggerInputSchema.safeParse({ ...base, sendAt: soon, expiresAt: later }).success).toBe(true);
  });
});
