// Web push subscriptions, one per browser or device. Registering again (every visit) refreshes the
// device's last-active time; the most recently active one is the user's primary device.
import { z } from "zod";
import { AppError } from "@/server/app-error";
import { pool } from "@/server/db";
import { env } from "@/server/env";

/** A push service endpoint: https only, no credentials, bounded. */
const endpointSchema = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" && !url.username && !url.password;
    } catch {
      return false;
    }
  }, "must be the https URL of a push service");

const base64url = (min: number, max: number) => z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url").min(min).max(max);

export const subscriptionInputSchema = z.strictObject({
  endpoint: endpointSchema,
  keys: z.strictObject({ p256dh: base64url(80, 100), auth: base64url(16, 32) }),
  deviceId: z.string().min(1).max(128).optional(),
  expirationTime: z.number().nullable().optional(),
});
export const unsubscribeInputSchema = z.strictObject({ endpoint: endpointSchema });

export async function saveSubscription(userId: string, input: z.infer<typeof subscriptionInputSchema>, userAgent: string | null): Promise<{ id: string; created: boolean }> {
  await pool.query("INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", [userId]);
  // The same endpoint again (this device, maybe now signed in as someone else) is updated, not doubled.
  const { rows } = await pool.query<{ id: string; created: boolean }>(
    `INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, device_id, user_agent)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
            device_id = coalesce(excluded.device_id, push_subscriptions.device_id), user_agent = excluded.user_agent, last_active_at = now()
     RETURNING id, (xmax = 0) AS created`,
    [userId, input.endpoint, input.keys.p256dh, input.keys.auth, input.deviceId ?? null, userAgent?.slice(0, 300) ?? null],
  );
  return rows[0]!;
}

export async function removeSubscription(userId: string, endpoint: string): Promise<void> {
  const { rowCount } = await pool.query("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2", [userId, endpoint]);
  if (!rowCount) throw new AppError("not_found", "No such push subscription for this user.");
}

export type Subscription = { id: string; endpoint: string; p256dh: string; auth: string; last_active_at: Date };

/** A user's active devices (seen within PUSH_DEVICE_ACTIVE_DAYS), the primary (most recently active) first. */
export async function subscriptionsOf(userId: string): Promise<Subscription[]> {
  const { rows } = await pool.query<Subscription>(
    `SELECT id, endpoint, p256dh, auth, last_active_at FROM push_subscriptions
      WHERE user_id = $1 AND last_active_at > now() - make_interval(days => $2) ORDER BY last_active_at DESC, id DESC`,
    [userId, env.PUSH_DEVICE_ACTIVE_DAYS],
  );
  return rows;
}
