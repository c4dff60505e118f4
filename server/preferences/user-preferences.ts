// Reading and changing a user's preferences. A change merges into what is stored (only the named
// settings change), applies to the next send, and reaches the user's other tabs and devices.
import { AppError } from "@/server/app-error";
import { pool, withTransaction } from "@/server/db";
import { publishToUser } from "@/server/realtime/publish";
import { mergePreferences, resolvePreferences, type Preferences, type PreferencesInput } from "@/server/preferences/preferences.schema";

export async function getPreferences(userId: string): Promise<Preferences> {
  const { rows } = await pool.query<{ preferences: unknown }>("SELECT preferences FROM users WHERE id = $1", [userId]);
  return resolvePreferences(rows[0]?.preferences);
}

/**
 * Refuses (422, naming each field) what cannot be set: types that do not exist or do not allow
 * opting out being turned off, and categories no type has.
 */
async function checkAgainstTypes(input: PreferencesInput): Promise<void> {
  const typeKeys = Object.keys(input.types ?? {});
  const categoryKeys = Object.keys(input.categories ?? {});
  if (typeKeys.length === 0 && categoryKeys.length === 0) return;
  const { rows } = await pool.query<{ key: string; category: string; opt_out: boolean }>("SELECT key, category, opt_out FROM notification_types");
  const types = new Map(rows.map((r) => [r.key, r]));
  const categories = new Set(rows.map((r) => r.category));
  const details: { field: string; message: string }[] = [];
  for (const key of typeKeys) {
    const type = types.get(key);
    if (!type) details.push({ field: `types.${key}`, message: "is not a notification type" });
    else if (!type.opt_out) {
      for (const [channel, value] of Object.entries(input.types![key]!)) {
        if (value === false) details.push({ field: `types.${key}.${channel}`, message: "this type cannot be turned off" });
      }
    }
  }
  for (const key of categoryKeys) if (!categories.has(key)) details.push({ field: `categories.${key}`, message: "is not a category of any notification type" });
  if (details.length > 0) throw new AppError("validation_failed", `Invalid preferences: ${details.map((d) => d.field).join(", ")}.`, { details });
}

export async function updatePreferences(userId: string, input: PreferencesInput): Promise<Preferences> {
  await checkAgainstTypes(input);
  const preferences = await withTransaction(async (sql) => {
    await sql.query("INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", [userId]);
    const { rows } = await sql.query<{ preferences: unknown }>("SELECT preferences FROM users WHERE id = $1 FOR UPDATE", [userId]);
    const merged = mergePreferences(resolvePreferences(rows[0]?.preferences), input);
    await sql.query("UPDATE users SET preferences = $2, updated_at = now() WHERE id = $1", [userId, JSON.stringify(merged)]);
    return merged;
  });
  publishToUser(userId, "preferences:updated", preferences);
  return preferences;
}
