import { defaultNotificationTypes } from "@/server/types/default-types";
import { findType, upsertType } from "@/server/types/type-registry";
import { typeInputSchema } from "@/server/types/types.schema";

/** Adds the default types that are missing (as template version 1); never touches an existing one. */
export async function seedNotificationTypes(): Promise<number> {
  let inserted = 0;
  for (const { key, ...type } of defaultNotificationTypes) {
    if (await findType(key)) continue;
    await upsertType(key, typeInputSchema.parse(type), "seed");
    inserted++;
  }
  return inserted;
}
