// Web push through the `web-push` library (VAPID, aes128gcm): TTL and Urgency from the priority,
// `Topic` so that later updates of the same notification replace earlier ones on the device.
import { createHash } from "node:crypto";
import webpush, { WebPushError } from "web-push";
import { env } from "@/server/env";
import type { Priority } from "@/server/notifications/notifications.schema";
import { DeliveryError, classifyHttpFailure } from "@/server/channels/delivery-error";
import type { Subscription } from "@/server/push/subscriptions";

export type PushPayload = {
  title: string;
  body: string;
  url?: string;
  icon?: string;
  notificationId?: string;
  tag: string;
  silent: boolean;
  /** The delivery (trigger/user) this push is for: the service worker shows each one once. */
  delivery?: string;
  /** Sent again after an attempt whose outcome was lost (the process died mid-request). */
  repeat?: boolean;
};

/** How long a push service keeps trying to reach an offline device, and how urgently. */
const DELIVERY: Record<Priority, { ttl: number; urgency: "high" | "normal" | "low" }> = {
  urgent: { ttl: 24 * 3600, urgency: "high" },
  high: { ttl: 12 * 3600, urgency: "high" },
  normal: { ttl: 4 * 3600, urgency: "normal" },
  low: { ttl: 3600, urgency: "low" },
};

export function pushConfigured(): boolean {
  return Boolean(env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY);
}

/** A Topic header value: at most 32 URL-safe characters, the same for every update of one thing. */
export function pushTopic(key: string): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 32);
}

/**
 * Sends one push to one device. A 404 or 410 means the subscription is gone (`gone: true`); 429 and
 * 5xx are retried; other answers are permanent.
 */
export async function sendPush(subscription: Subscription, payload: PushPayload, options: { priority: Priority; topic: string; expiresAt: Date | null }): Promise<{ gone: boolean }> {
  if (!pushConfigured()) throw new DeliveryError("permanent", "web push is not configured (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)", "not_configured");
  const { ttl, urgency } = DELIVERY[options.priority];
  const untilExpiry = options.expiresAt ? Math.max(0, Math.floor((options.expiresAt.getTime() - Date.now()) / 1000)) : ttl;
  try {
    await webpush.sendNotification({ endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } }, JSON.stringify(payload), {
      vapidDetails: { subject: env.VAPID_SUBJECT ?? "mailto:notify@localhost", publicKey: env.VAPID_PUBLIC_KEY!, privateKey: env.VAPID_PRIVATE_KEY! },
      TTL: Math.min(ttl, untilExpiry),
      urgency,
      topic: options.topic,
      timeout: 15_000,
    });
    return { gone: false };
  } catch (error) {
    if (error instanceof WebPushError) {
      if (error.statusCode === 404 || error.statusCode === 410) return { gone: true };
      throw classifyHttpFailure(error.statusCode, error.body || error.message, (error.headers as Record<string, string> | undefined)?.["retry-after"]);
    }
    throw classifyHttpFailure(null, (error as Error).message);
  }
}
