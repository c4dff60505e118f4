import { z } from "zod";

/** `DELETE /api/v1/admin/suppressions?channel=…&address=…`: lift one suppressed address. */
export const suppressionQuerySchema = z.object({ channel: z.enum(["email", "sms"]), address: z.string().min(1).max(320) });
