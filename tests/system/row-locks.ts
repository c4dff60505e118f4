// Rows held locked from a connection of the test's own, so that a race in the code under test
// happens for certain; and what a fan-out stored for a trigger.
import type pg from "pg";

/**
 * Takes the row locks of `lockSql` (a `SELECT … FOR UPDATE`) in a transaction of its own and holds
 * them until `release`.
 */
export async function holdRows(db: pg.Pool, lockSql: string, params: unknown[]) {
  const holder = await db.connect();
  await holder.query("BEGIN");
  await holder.query(lockSql, params);
  const { rows } = await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  let held = true;
  return {
    /** How many statements of this database wait for a lock (this holder's or another's), the holder aside. */
    async waiters(): Promise<number> {
      const { rows: blocked } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1",
        [rows[0]!.pid],
      );
      return blocked[0]!.n;
    },
    /** Commits, after running `sql` (with the lock's parameters) in the holder's transaction if given. Once only. */
    async release(sql?: string): Promise<void> {
      if (!held) return;
      held = false;
      if (sql) await holder.query(sql, params);
      await holder.query("COMMIT");
      holder.release();
    },
  };
}

/** A trigger's status and how many inbox notifications it stored. */
export async function triggerState(db: pg.Pool, triggerId: string): Promise<{ status: string; notifications: number }> {
  const { rows } = await db.query<{ status: string; notifications: number }>(
    "SELECT status, (SELECT count(*)::int FROM notifications WHERE trigger_id = t.id) AS notifications FROM triggers t WHERE id = $1",
    [triggerId],
  );
  return rows[0]!;
}
