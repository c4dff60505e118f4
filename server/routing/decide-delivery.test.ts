// The routing decision as a table: one row per situation, every reason, time zones across DST
// changes, quiet hours that cross midnight, and windows that run into each other.
import { describe, expect, it } from "vitest";
import { decideDelivery, quietHoursEnd, type Decision, type DecisionInput, type RoutingType } from "@/server/routing/decide-delivery";
import { DEFAULT_PREFERENCES, mergePreferences, type PreferencesInput } from "@/server/preferences/preferences.schema";

const comment: RoutingType = { key: "comment", category: "engagement", optOut: true, respectQuietHours: true };
const security: RoutingType = { key: "security", category: "transactional", optOut: false, respectQuietHours: false };
const digestOff: RoutingType = { key: "promo", category: "promotional", optOut: true, respectQuietHours: true, defaults: { email: false, push: false } };

type Case = {
  name: string;
  channel?: DecisionInput["channel"];
  type?: RoutingType;
  priority?: DecisionInput["priority"];
  prefs?: PreferencesInput;
  timeZone?: string | null;
  hasAddress?: boolean;
  rateLimited?: boolean;
  expiresAt?: string;
  now: string;
  expected: { action: Decision["action"]; reason?: string; until?: string };
};

const NOON = "2026-06-10T12:00:00Z";
const berlinNight = { quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Berlin" } };

const cases: Case[] = [
  // Plain sends.
  { name: "in-app with default preferences", channel: "in_app", now: NOON, expected: { action: "send" } },
  { name: "push with default preferences", channel: "push", now: NOON, expected: { action: "send" } },
  { name: "email with default preferences (instant)", channel: "email", now: NOON, expected: { action: "send" } },
  // Expired.
  { name: "expired before the send", channel: "push", expiresAt: "2026-06-10T11:59:59Z", now: NOON, expected: { action: "suppress", reason: "expired" } },
  { name: "expires later: sent", channel: "push", expiresAt: "2026-06-10T12:00:01Z", now: NOON, expected: { action: "send" } },
  // Preferences.
  { name: "SMS is opt-in by default", channel: "sms", now: NOON, expected: { action: "suppress", reason: "channel_disabled" } },
  { name: "SMS turned on", channel: "sms", prefs: { channels: { sms: true } }, now: NOON, expected: { action: "send" } },
  { name: "push master switch off", channel: "push", prefs: { channels: { push: false } }, now: NOON, expected: { action: "suppress", reason: "channel_disabled" } },
  { name: "the master switch wins over a type set on", channel: "push", prefs: { channels: { push: false }, types: { comment: { push: true } } }, now: NOON, expected: { action: "suppress", reason: "channel_disabled" } },
  { name: "type turned off for email", channel: "email", prefs: { types: { comment: { email: false } } }, now: NOON, expected: { action: "suppress", reason: "type_muted" } },
  { name: "type off for email leaves push alone", channel: "push", prefs: { types: { comment: { email: false } } }, now: NOON, expected: { action: "send" } },
  { name: "category off", channel: "push", prefs: { categories: { engagement: { push: false } } }, now: NOON, expected: { action: "suppress", reason: "category_muted" } },
  { name: "type on wins over its category off", channel: "push", prefs: { categories: { engagement: { push: false } }, types: { comment: { push: true } } }, now: NOON, expected: { action: "send" } },
  { name: "in-app off for the type suppresses the inbox too", channel: "in_app", prefs: { types: { comment: { in_app: false } } }, now: NOON, expected: { action: "suppress", reason: "type_muted" } },
  { name: "admin default off, user never chose", channel: "email", type: digestOff, now: NOON, expected: { action: "suppress", reason: "type_muted" } },
  { name: "admin default off, user turned it on", channel: "email", type: digestOff, prefs: { types: { promo: { email: true } } }, now: NOON, expected: { action: "send" } },
  { name: "admin default off, category on", channel: "push", type: digestOff, prefs: { categories: { promotional: { push: true } } }, now: NOON, expected: { action: "send" } },
  { name: "a type that does not allow opting out ignores every switch", channel: "email", type: security, prefs: { channels: { email: false }, types: { security: { email: false } } }, now: NOON, expected: { action: "send" } },
  { name: "not opt-out: in-app off is ignored", channel: "in_app", type: security, prefs: { channels: { in_app: false } }, now: NOON, expected: { action: "send" } },
  // Addresses.
  { name: "email without an address", channel: "email", hasAddress: false, now: NOON, expected: { action: "suppress", reason: "no_address" } },
  { name: "preferences come before the address", channel: "sms", hasAddress: false, now: NOON, expected: { action: "suppress", reason: "channel_disabled" } },
  // Quiet hours across midnight (Berlin, summer: UTC+2).
  { name: "quiet hours before midnight defer to 07:00 next day", channel: "push", prefs: berlinNight, now: "2026-06-10T21:30:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-06-11T05:00:00.000Z" } },
  { name: "quiet hours after midnight defer to 07:00 the same day", channel: "email", prefs: berlinNight, now: "2026-06-11T01:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-06-11T05:00:00.000Z" } },
  { name: "exactly at the start is quiet", channel: "push", prefs: berlinNight, now: "2026-06-10T20:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-06-11T05:00:00.000Z" } },
  { name: "exactly at the end is not quiet", channel: "push", prefs: berlinNight, now: "2026-06-11T05:00:00Z", expected: { action: "send" } },
  { name: "outside the window", channel: "push", prefs: berlinNight, now: "2026-06-10T19:59:00Z", expected: { action: "send" } },
  { name: "quiet hours never hold back the inbox", channel: "in_app", prefs: berlinNight, now: "2026-06-10T23:00:00Z", expected: { action: "send" } },
  { name: "urgent bypasses quiet hours", channel: "push", priority: "urgent", prefs: berlinNight, now: "2026-06-10T23:00:00Z", expected: { action: "send" } },
  { name: "a type that ignores quiet hours", channel: "sms", type: security, prefs: berlinNight, now: "2026-06-10T23:00:00Z", expected: { action: "send" } },
  { name: "a same-day window (13:00–14:00 UTC)", channel: "push", prefs: { quietHours: { start: "13:00", end: "14:00", timeZone: "UTC" } }, now: "2026-06-10T13:15:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-06-10T14:00:00.000Z" } },
  { name: "an empty window (start = end) is never quiet", channel: "push", prefs: { quietHours: { start: "09:00", end: "09:00" } }, now: "2026-06-10T09:00:00Z", expected: { action: "send" } },
  // Time zones and DST.
  { name: "no zone in quiet hours: the user's own (Tokyo, UTC+9)", channel: "push", prefs: { quietHours: { start: "22:00", end: "07:00" } }, timeZone: "Asia/Tokyo", now: "2026-06-10T14:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-06-10T22:00:00.000Z" } },
  { name: "no zone anywhere: UTC", channel: "push", prefs: { quietHours: { start: "22:00", end: "07:00" } }, timeZone: null, now: "2026-06-10T23:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-06-11T07:00:00.000Z" } },
  { name: "Berlin, the night clocks go forward: ends at 07:00 CEST (05:00 UTC)", channel: "push", prefs: berlinNight, now: "2026-03-28T23:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-03-29T05:00:00.000Z" } },
  { name: "Berlin, the night clocks go back: ends at 07:00 CET (06:00 UTC)", channel: "push", prefs: berlinNight, now: "2026-10-24T22:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-10-25T06:00:00.000Z" } },
  { name: "Berlin, the repeated hour after the clocks go back is still quiet", channel: "push", prefs: berlinNight, now: "2026-10-25T01:30:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-10-25T06:00:00.000Z" } },
  { name: "New York, DST starts overnight: 08:00 EDT", channel: "email", prefs: { quietHours: { start: "21:00", end: "08:00", timeZone: "America/New_York" } }, now: "2026-03-08T03:00:00Z", expected: { action: "defer", reason: "quiet_hours", until: "2026-03-08T12:00:00.000Z" } },
  // Do not disturb.
  { name: "DND defers until it ends", channel: "push", prefs: { dndUntil: "2026-06-10T15:00:00Z" }, now: NOON, expected: { action: "defer", reason: "dnd", until: "2026-06-10T15:00:00.000Z" } },
  { name: "DND in the past does nothing", channel: "push", prefs: { dndUntil: "2026-06-10T11:00:00Z" }, now: NOON, expected: { action: "send" } },
  { name: "DND ending inside quiet hours: deferred to the end of quiet hours", channel: "push", prefs: { ...berlinNight, dndUntil: "2026-06-10T21:00:00Z" }, now: NOON, expected: { action: "defer", reason: "dnd", until: "2026-06-11T05:00:00.000Z" } },
  { name: "quiet hours running into a longer DND: deferred to the end of DND", channel: "push", prefs: { ...berlinNight, dndUntil: "2026-06-11T09:00:00Z" }, now: "2026-06-10T23:00:00Z", expected: { action: "defer", reason: "dnd", until: "2026-06-11T09:00:00.000Z" } },
  { name: "urgent bypasses DND", channel: "email", priority: "urgent", prefs: { dndUntil: "2026-06-10T15:00:00Z" }, now: NOON, expected: { action: "send" } },
  { name: "DND never holds back the inbox", channel: "in_app", prefs: { dndUntil: "2026-06-10T15:00:00Z" }, now: NOON, expected: { action: "send" } },
  // Limits and digests.
  { name: "rate limited: batched, not lost", channel: "push", rateLimited: true, now: NOON, expected: { action: "batch", reason: "rate_limited" } },
  { name: "rate limits do not apply to the inbox", channel: "in_app", rateLimited: true, now: NOON, expected: { action: "send" } },
  { name: "urgent is not rate limited", channel: "push", priority: "urgent", rateLimited: true, now: NOON, expected: { action: "send" } },
  { name: "deferral comes before the limit", channel: "push", rateLimited: true, prefs: { dndUntil: "2026-06-10T15:00:00Z" }, now: NOON, expected: { action: "defer", reason: "dnd", until: "2026-06-10T15:00:00.000Z" } },
  { name: "daily email frequency: into the digest", channel: "email", prefs: { emailFrequency: "daily" }, now: NOON, expected: { action: "batch", reason: "digest" } },
  { name: "weekly email frequency does not touch push", channel: "push", prefs: { emailFrequency: "weekly" }, now: NOON, expected: { action: "send" } },
  { name: "transactional email never waits for a digest", channel: "email", type: security, prefs: { emailFrequency: "weekly" }, now: NOON, expected: { action: "send" } },
];

describe("decideDelivery", () => {
  it("has a row for every reason", () => {
    const reasons = new Set(cases.map((c) => c.expected.reason).filter(Boolean));
    for (const reason of ["expired", "channel_disabled", "category_muted", "type_muted", "no_address", "quiet_hours", "dnd", "rate_limited", "digest"]) expect(reasons).toContain(reason);
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("$name", (c) => {
    const decision = decideDelivery({
      channel: c.channel ?? "push",
      type: c.type ?? comment,
      priority: c.priority ?? "normal",
      preferences: mergePreferences(DEFAULT_PREFERENCES, c.prefs ?? {}),
      timeZone: c.timeZone === undefined ? null : c.timeZone,
      hasAddress: c.hasAddress ?? true,
      rateLimited: c.rateLimited ?? false,
      expiresAt: c.expiresAt ? new Date(c.expiresAt) : null,
      now: new Date(c.now),
    });
    const shown: Record<string, unknown> = { action: decision.action };
    if ("reason" in decision) shown.reason = decision.reason;
    if ("until" in decision) shown.until = decision.until.toISOString();
    expect(shown).toEqual(c.expected);
  });
});

describe("quietHoursEnd", () => {
  it("for every minute of a day across both DST changes, a deferral ends at the window's end and outside it nothing is held", () => {
    const quiet = { start: "22:00", end: "07:00", timeZone: "Europe/Berlin" };
    for (const day of ["2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z", "2026-06-10T12:00:00Z"]) {
      for (let minute = 0; minute < 24 * 60; minute += 7) {
        const at = new Date(Date.parse(day) + minute * 60_000);
        const end = quietHoursEnd(quiet, null, at);
        const local = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at);
        const inside = local >= "22:00" || local < "07:00";
        expect(end !== null, `${at.toISOString()} (${local} in Berlin)`).toBe(inside);
        if (end) {
          expect(end.getTime()).toBeGreaterThan(at.getTime());
          expect(end.getTime() - at.getTime()).toBeLessThanOrEqual(10 * 3600_000);
          expect(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(end)).toBe("07:00");
        }
      }
    }
  });
});
