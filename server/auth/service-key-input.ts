import { z } from "zod";

/** `POST /api/v1/admin/service-keys`. */
export const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z
    .array(z.enum(["notify", "admin"]))
    .min(1)
    .refine((s) => new Set(s).size === s.length, "must not repeat a scope"),
});

/** The highest own limits a key can be given (the same ceilings as the INGEST_* defaults in server/env.ts). */
export const MAX_REQUESTS_PER_SECOND = 1_000_000;
export const MAX_RECIPIENTS_PER_SECOND = 100_000_000;

/**
 * A key's own ingestion limits: null (or absent on create) is the deployment's INGEST_* default,
 * 0 is unlimited for this key.
 */
export const serviceKeyLimitsSchema = z.strictObject({
  requestsPerSecond: z.number().int().min(0).max(MAX_REQUESTS_PER_SECOND).nullable(),
  recipientsPerSecond: z.number().int().min(0).max(MAX_RECIPIENTS_PER_SECOND).nullable(),
});
export type ServiceKeyLimits = z.infer<typeof serviceKeyLimitsSchema>;

/** `PATCH /api/v1/admin/service-keys/{id}`: a field left out keeps its value. */
export const updateKeySchema = z.strictObject({
  limits: serviceKeyLimitsSchema.partial(),
});
