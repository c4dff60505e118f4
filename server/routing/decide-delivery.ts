// The one place that decides, for one recipient and one channel, whether a notification is sent
// now, deferred until a time, batched, or suppressed, and why. Pure: everything it needs is passed
// in (the clock too), so it is tested as a table of cases.
import { TZDate } from "@date-fns/tz";
import type { Channel, Preferences } from "@/server/preferences/preferences.schema";
import type { Priority } from "@/server/notifications/notifications.schema";

export type SuppressReason = "channel_disabled" | "category_muted" | "type_muted" | "no_address" | "expired";
export type Decision =
  | { action: "send" }
  | { action: "defer"; until: Date; reason: "quiet_hours" | "dnd" }
  | { action: "batch"; reason: "rate_limited" | "digest" }
  | { action: "suppress"; reason: SuppressReason };

/** What routing needs to know about a notification type. */
export type RoutingType = {
  key: string;
  category: string;
  /** Whether users may turn it off; when false, preferences never suppress it. */
  optOut: boolean;
  /** Whether quiet hours and do-not-disturb hold back its push, email and SMS. */
  respectQuietHours: boolean;
  /** Admin defaults per channel for users who have not chosen (absent: on). */
  defaults?: Partial<Record<Channel, boolean>>;
};

export type DecisionInput = {
  channel: Channel;
  type: RoutingType;
  priority: Priority;
  preferences: Preferences;
  /** The recipient's own time zone (for quiet hours that name none), IANA. */
  timeZone: string | null;
  /** Whether the recipient can be reached on this channel (an email address, a phone, a device). */
  hasAddress: boolean;
  /** Whether the per-recipient limit of this type is already used up (checked in Redis by the caller). */
  rateLimited: boolean;
  expiresAt: Date | null;
  now: Date;
};

/**
 * The decision, rules in this order:
 * 1. expired before it could be sent: suppressed (`expired`);
 * 2. preferences, unless the type does not allow opting out: the channel's master switch
 *    (`channel_disabled`), then the type's own setting, then its category's (`type_muted`,
 *    `category_muted`), then the admin's default for the type;
 * 3. in-app stops here: the inbox is never deferred, batched or rate limited;
 * 4. no address on the channel: suppressed (`no_address`);
 * 5. `urgent` skips everything below;
 * 6. do-not-disturb and quiet hours (types that respect them): deferred until the window ends, and
 *    until the later end when one window runs into the other;
 * 7. the type's per-recipient limit used up: batched (`rate_limited`), kept for a summary;
 * 8. email with a daily or weekly frequency, not transactional: batched into the digest (`digest`).
 */
export function decideDelivery(input: DecisionInput): Decision {
  const { channel, type, preferences, now } = input;
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) return { action: "suppress", reason: "expired" };
  if (type.optOut) {
    const muted = mutedBy(preferences, type, channel);
    if (muted) return { action: "suppress", reason: muted };
  }
  if (channel === "in_app") return { action: "send" };
  if (!input.hasAddress) return { action: "suppress", reason: "no_address" };
  if (input.priority === "urgent") return { action: "send" };
  if (type.respectQuietHours) {
    const held = heldUntil(preferences, input.timeZone, now);
    if (held) return { action: "defer", until: held.until, reason: held.reason };
  }
  if (input.rateLimited) return { action: "batch", reason: "rate_limited" };
  if (channel === "email" && preferences.emailFrequency !== "instant" && type.category !== "transactional") return { action: "batch", reason: "digest" };
  return { action: "send" };
}

function mutedBy(preferences: Preferences, type: RoutingType, channel: Channel): SuppressReason | null {
  if (preferences.channels[channel] === false) return "channel_disabled";
  const byType = preferences.types[type.key]?.[channel];
  if (byType !== undefined && byType !== null) return byType ? null : "type_muted";
  const byCategory = preferences.categories[type.category]?.[channel];
  if (byCategory !== undefined && byCategory !== null) return byCategory ? null : "category_muted";
  return type.defaults?.[channel] === false ? "type_muted" : null;
}

/**
 * When do-not-disturb or quiet hours hold a message at `now`: the first moment neither does, and
 * which of them held it first. Null when neither does.
 */
export function heldUntil(preferences: Pick<Preferences, "dndUntil" | "quietHours">, userTimeZone: string | null, now: Date): { until: Date; reason: "dnd" | "quiet_hours" } | null {
  let at = now;
  let reason: "dnd" | "quiet_hours" | null = null;
  // Each window can push `at` into the other one; two rounds of each settle it.
  for (let round = 0; round < 4; round++) {
    const dnd = preferences.dndUntil ? new Date(preferences.dndUntil) : null;
    if (dnd && dnd.getTime() > at.getTime()) {
      reason ??= "dnd";
      at = dnd;
      continue;
    }
    const quietEnd = preferences.quietHours ? quietHoursEnd(preferences.quietHours, userTimeZone, at) : null;
    if (quietEnd) {
      reason ??= "quiet_hours";
      at = quietEnd;
      continue;
    }
    break;
  }
  return reason ? { until: at, reason } : null;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * If `at` falls inside the quiet hours (local wall-clock times in their time zone, or the user's, or
 * UTC), the instant they end; else null. A window whose start is after its end crosses midnight; an
 * empty window (start = end) is never quiet. Local times are resolved through the time zone's rules
 * on that day, so a window keeps its wall-clock hours across a DST change.
 */
export function quietHoursEnd(quiet: NonNullable<Preferences["quietHours"]>, userTimeZone: string | null, at: Date): Date | null {
  const zone = quiet.timeZone ?? userTimeZone ?? "UTC";
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return null;
  const local = new TZDate(at.getTime(), zone);
  const minute = local.getHours() * 60 + local.getMinutes();
  const inside = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  if (!inside) return null;
  // The end is today, unless the window crosses midnight and we are before midnight.
  const dayOffset = start > end && minute >= start ? 1 : 0;
  const endAt = new TZDate(local.getFullYear(), local.getMonth(), local.getDate() + dayOffset, Math.floor(end / 60), end % 60, 0, zone);
  return new Date(endAt.getTime());
}
