// What the inbox queries know about the monthly partitions of notifications (by created_at, UTC):
// pure, so that the statements can be built and their plans checked anywhere.
//
// The fact they rely on: a notification's sortAt is in the same UTC month as its createdAt. It
// starts equal, and only an aggregation group's update moves it up, within the group's window, which
// ends with the month the group started in (server/notifications/fan-out-trigger.ts). So the
// notifications sorted within a month all live in that month's partition.

/**
 * How far ahead of this node's clock another node's may be: a first page reads notifications
 * created up to this long after now (web nodes' clocks are expected to agree within it).
 */
export const CLOCK_MARGIN_MS = 3_600_000;

export function startOfUtcMonth(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

export function addUtcMonths(at: Date, months: number): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
}
