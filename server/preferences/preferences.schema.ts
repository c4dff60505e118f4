// A user's notification preferences (API.md, Preferences): the shape, the input of `PUT`, the
// defaults, and how a partial update merges into what is stored.
import { z } from "zod";
import { channelSchema, idSchema, type Channel } from "@/server/notifications/notifications.schema";

export type { Channel };
export const CHANNELS = channelSchema.options;

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone.length <= 64;
  } catch {
    return false;
  }
}

export const timeZoneSchema = z.string().refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin");
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a time of day as HH:MM (00:00–23:59)");

export type ChannelSettings = Partial<Record<Channel, boolean>>;

export type Preferences = {
  /** Master switch per channel. */
  channels: Record<Channel, boolean>;
  /** Per category, per channel; absent means "as the type's default". */
  categories: Record<string, ChannelSettings>;
  /** Per type, per channel; wins over the category. */
  types: Record<string, ChannelSettings>;
  /** Local wall-clock window; `timeZone` absent means the user's own time zone. */
  quietHours: { start: string; end: string; timeZone?: string } | null;
  dndUntil: string | null;
  emailFrequency: "instant" | "daily" | "weekly";
};

/** What a user has before choosing anything. SMS costs money and interrupts: it is opt-in. */
export const DEFAULT_PREFERENCES: Preferences = {
  channels: { in_app: true, push: true, email: true, sms: false },
  categories: {},
  types: {},
  quietHours: null,
  dndUntil: null,
  emailFrequency: "instant",
};

// In an update, `null` for one channel of a type or category goes back to the default.
const channelSettingsInput = z.partialRecord(channelSchema, z.boolean().nullable());
const MAX_KEYS = 200;

export const preferencesInputSchema = z.strictObject({
  channels: z.partialRecord(channelSchema, z.boolean()).optional(),
  categories: z
    .record(idSchema, channelSettingsInput)
    .refine((value) => Object.keys(value).length <= MAX_KEYS, `at most ${MAX_KEYS} categories`)
    .optional(),
  types: z
    .record(idSchema, channelSettingsInput)
    .refine((value) => Object.keys(value).length <= MAX_KEYS, `at most ${MAX_KEYS} types`)
    .optional(),
  quietHours: z.strictObject({ start: clockTime, end: clockTime, timeZone: timeZoneSchema.optional() }).nullable().optional(),
  dndUntil: z.iso
    .datetime({ offset: true })
    .transform((value) => new Date(value).toISOString())
    .nullable()
    .optional(),
  emailFrequency: z.enum(["instant", "daily", "weekly"]).optional(),
});
export type PreferencesInput = z.infer<typeof preferencesInputSchema>;

function mergeSettings(current: Record<string, ChannelSettings>, patch: Record<string, Partial<Record<Channel, boolean | null>>> | undefined): Record<string, ChannelSettings> {
  if (!patch) return current;
  const next: Record<string, ChannelSettings> = { ...current };
  for (const [key, channels] of Object.entries(patch)) {
    const merged: ChannelSettings = { ...next[key] };
    for (const [channel, value] of Object.entries(channels) as [Channel, boolean | null][]) {
      if (value === null) delete merged[channel];
      else merged[channel] = value;
    }
    if (Object.keys(merged).length === 0) delete next[key];
    else next[key] = merged;
  }
  return next;
}

/** A partial update applied to the stored preferences: only what it names changes. */
export function mergePreferences(current: Preferences, patch: PreferencesInput): Preferences {
  return {
    channels: { ...current.channels, ...patch.channels },
    categories: mergeSettings(current.categories, patch.categories),
    types: mergeSettings(current.types, patch.types),
    quietHours: patch.quietHours === undefined ? current.quietHours : patch.quietHours,
    dndUntil: patch.dndUntil === undefined ? current.dndUntil : patch.dndUntil,
    emailFrequency: patch.emailFrequency ?? current.emailFrequency,
  };
}

/** Stored preferences (JSON, possibly from an older version or empty) with every default filled in. */
export function resolvePreferences(stored: unknown): Preferences {
  // Most users never change a thing: no parse for them (the fan-out asks for every recipient).
  if (stored === null || stored === undefined || (typeof stored === "object" && !Array.isArray(stored) && Object.keys(stored).length === 0)) return DEFAULT_PREFERENCES;
  const parsed = preferencesInputSchema.safeParse(stored ?? {});
  return parsed.success ? mergePreferences(DEFAULT_PREFERENCES, parsed.data) : DEFAULT_PREFERENCES;
}
