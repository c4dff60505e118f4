import { env } from "@/server/env";

/**
 * The delay before retry number `attemptsMade` (1 after the first failure): what the provider asked
 * for (`Retry-After`), else CHANNEL_BACKOFF_MS doubled each time up to CHANNEL_BACKOFF_MAX_MS, with
 * full jitter between half and all of it so that retries of many deliveries spread out.
 */
export function retryDelay(attemptsMade: number, error?: { retryAfterMs?: number }, random = Math.random): number {
  if (error?.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, env.CHANNEL_BACKOFF_MAX_MS);
  const exponential = Math.min(env.CHANNEL_BACKOFF_MAX_MS, env.CHANNEL_BACKOFF_MS * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}
