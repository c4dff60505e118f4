// A service key as the admin API returns it: never the key, with its own and its effective limits.
import type { ServiceKeySummary } from "@/server/auth/service-key";
import { effectiveIngestionLimits } from "@/server/notifications/ingestion-limits";
import { env } from "@/server/env";

export function serviceKeyJson(key: ServiceKeySummary) {
  return {
    ...key,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    effectiveLimits: effectiveIngestionLimits(key.limits),
  };
}

/** The deployment's limits, which every key without its own is held to (0: unlimited). */
export function ingestionDefaultsJson() {
  return { requestsPerSecond: env.INGEST_REQUESTS_PER_SECOND, recipientsPerSecond: env.INGEST_RECIPIENTS_PER_SECOND, burstSeconds: env.INGEST_BURST_SECONDS };
}
