import { pool } from "@/server/db";
import { defaultNotificationTypes } from "@/server/types/default-types";

/** Inserts the default types that are missing; never overwrites a type an admin has edited. */
export async function seedNotificationTypes(): Promise<number> {
  let inserted = 0;
  for (const type of defaultNotificationTypes) {
    const { rowCount } = await pool.query(
      "INSERT INTO notification_types (key, name, category, priority, channels, title, body) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
      [type.key, type.name, type.category, type.priority, type.channels, type.title, type.body],
    );
    inserted += rowCount ?? 0;
  }
  return inserted;
}
