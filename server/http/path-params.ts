import { AppError } from "@/server/app-error";
import { idSchema, notificationIdSchema } from "@/server/notifications/notifications.schema";

/** A user id, topic key or type key from the path; invalid is 422 naming the parameter. */
export function parsePathId(name: string, value: string): string {
  const parsed = idSchema.safeParse(value);
  if (!parsed.success) {
    throw new AppError("validation_failed", `Invalid ${name} in the path.`, { details: [{ field: name, message: parsed.error.issues[0]?.message ?? "is invalid" }] });
  }
  return parsed.data;
}

/** A notification or trigger id from the path. Anything that is not one of ours is simply not found. */
export function parsePathUuidOrNotFound(value: string, what = "notification"): string {
  if (!notificationIdSchema.safeParse(value).success) throw new AppError("not_found", `No such ${what}.`);
  return value.toLowerCase();
}
