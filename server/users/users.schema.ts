import { z } from "zod";
import { safeUrlSchema } from "@/server/notifications/notifications.schema";

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** `PUT /api/v1/users/{userId}`: any subset; `null` clears a field. */
export const userInputSchema = z.strictObject({
  name: z.string().min(1).max(200).nullable().optional(),
  email: z.email().max(320).nullable().optional(),
  phone: z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +4915112345678").nullable().optional(),
  avatarUrl: safeUrlSchema.nullable().optional(),
  timezone: z.string().max(64).refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin").nullable().optional(),
  locale: z.string().regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, "must be a locale such as en or de-DE").nullable().optional(),
  role: z.enum(["user", "admin"]).optional(),
});
export type UserInput = z.infer<typeof userInputSchema>;

export const userSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  avatarUrl: z.string().nullable(),
  timezone: z.string().nullable(),
  locale: z.string().nullable(),
  role: z.enum(["user", "admin"]),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type User = z.infer<typeof userSchema>;

export const tokenInputSchema = z.strictObject({ ttlSeconds: z.number().int().min(60).max(31_536_000).optional() });

