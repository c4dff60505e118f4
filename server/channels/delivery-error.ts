// How a channel worker tells failures apart: a transient one is retried (after `retryAfterMs` when
// the provider said so), a permanent one fails at once, and an outage backs off the whole channel.
export type FailureKind = "transient" | "permanent" | "outage";

export class DeliveryError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** The outcome reason recorded when this failure is final (`provider_error`, `invalid_address`, ...). */
    readonly reason: string = "provider_error",
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** `Retry-After` as milliseconds: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 86_400_000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.min(at - now, 86_400_000));
}

/** The usual HTTP answer of a provider, as a failure kind: 429 and 5xx are retried; other 4xx are permanent. */
export function classifyHttpFailure(status: number | null, message: string, retryAfter?: string | null): DeliveryError {
  if (status === null) return new DeliveryError("outage", `provider unreachable: ${message}`);
  if (status === 429) return new DeliveryError("transient", `rate limited by the provider: ${message}`, "provider_error", parseRetryAfter(retryAfter) ?? undefined);
  if (status >= 500) return new DeliveryError("outage", `provider error ${status}: ${message}`, "provider_error", parseRetryAfter(retryAfter));
  return new DeliveryError("permanent", `refused by the provider (${status}): ${message}`, status === 422 || status === 400 ? "invalid_request" : "provider_error");
}
