import { z } from "zod";

/** `POST /api/v1/admin/service-keys`. */
export const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z
    .array(z.enum(["notify", "admin"]))
    .min(1)
    .refine((s) => new Set(s).size === s.length, "must not repeat a scope"),
});
