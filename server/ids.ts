import { randomUUID } from "node:crypto";

/**
 * A UUIDv7 (RFC 9562: 48-bit millisecond time, version 7, then random bits) for ids made in bulk,
 * such as a fan-out chunk's notifications. It takes its randomness from `randomUUID`, which draws
 * from a pooled buffer: the `uuid` package asks the OS for every id, which at a million ids was the
 * biggest cost of a fan-out worker. Ids made in the same millisecond are not ordered among themselves
 * (nothing relies on that: lists break ties on sortAt first).
 */
export function fastUuidV7(at = Date.now()): string {
  const time = at.toString(16).padStart(12, "0");
  const random = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15, 18)}-${random.slice(19)}`;
}
