// The time every routing and scheduling decision uses. In production it is the system clock. With
// TEST_CLOCK on (the test suite only), an offset in Redis moves every process's clock forward
// together, so a test can reach the end of quiet hours without waiting for it.
import { env } from "@/server/env";
import { getRedis, redisKey } from "@/server/redis";

let offsetMs = 0;
let refreshing: NodeJS.Timeout | null = null;

/** The Redis key the test suite writes the offset (milliseconds) to. */
export const TEST_CLOCK_KEY = "test-clock-offset-ms";

function startRefreshing(): void {
  if (refreshing || !env.TEST_CLOCK) return;
  const refresh = () =>
    getRedis()
      .get(redisKey(TEST_CLOCK_KEY))
      .then((value) => (offsetMs = Number(value ?? 0) || 0))
      .catch(() => undefined);
  void refresh();
  refreshing = setInterval(refresh, 100);
  refreshing.unref();
}

/** Now, as this deployment's clock says. */
export function now(): Date {
  startRefreshing();
  return new Date(Date.now() + offsetMs);
}

/** Reads the test offset at once (tests that just moved the clock call it through an API-less path). */
export async function syncClock(): Promise<void> {
  if (!env.TEST_CLOCK) return;
  const value = await getRedis().get(redisKey(TEST_CLOCK_KEY)).catch(() => null);
  offsetMs = Number(value ?? 0) || 0;
  startRefreshing();
}
