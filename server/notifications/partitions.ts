// The notifications table is partitioned by month of created_at (UTC; see the migration
// 20261130190000_notifications_partitioned_by_month). This module knows the two facts the inbox
// queries rely on to touch only the partitions that can hold what they ask for, and keeps monthly
// partitions created ahead of time.
import { pool } from "@/server/db";
import { env } from "@/server/env";
import { now } from "@/server/clock";
import { logger } from "@/server/logger";
import { addUtcMonths } from "@/server/notifications/partition-bounds";

/**
 * Makes sure the partitions of this month and the next `ahead` months exist (the relay runs it at
 * start and hourly). Returns the months it created. Safe to run on several processes at once.
 */
export async function ensureNotificationPartitions(at: Date = now(), ahead: number = env.NOTIFICATION_PARTITIONS_AHEAD): Promise<string[]> {
  const created: string[] = [];
  for (let i = 0; i <= ahead; i++) {
    const month = addUtcMonths(at, i);
    if (await createPartition(month)) created.push(month.toISOString().slice(0, 7));
  }
  if (created.length > 0) logger.info({ months: created }, "notification partitions created");
  return created;
}

/**
 * One month's partition; tried again when PostgreSQL chose it as a deadlock's victim, or when it gave
 * up waiting 2 s for its locks (traffic goes first; the next hourly run tries again after that).
 */
async function createPartition(month: Date, attempts = 5): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { rows } = await pool.query<{ created: boolean }>("SELECT notify_create_notifications_partition($1) AS created", [month]);
      return rows[0]?.created ?? false;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || (code !== "40P01" && code !== "55P03")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** The monthly partitions, oldest first, with their bounds (the default partition is not listed). */
export async function listNotificationPartitions(): Promise<{ name: string; from: Date; to: Date }[]> {
  const { rows } = await pool.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'notifications'::regclass`,
  );
  return rows
    .flatMap((r) => {
      const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(r.bound);
      return m ? [{ name: r.name, from: new Date(m[1]!), to: new Date(m[2]!) }] : [];
    })
    .sort((a, b) => a.from.getTime() - b.from.getTime());
}
