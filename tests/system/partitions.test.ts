// The notifications table is partitioned by month. The inbox's three reads — a page of the list,
// the unread count and the changes after a seq — must use an index and read one or two partitions
// (EXPLAIN ANALYZE: the partitions whose scans ran), and the page read month by month must still be
// exactly the inbox in order. The maintenance job's function creates partitions ahead and moves rows that landed
// in the default partition. (tests/slow/partitions-10m.slow.ts repeats the plan checks at 10 million rows.)
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { changesStatement, listStatement, unreadCountStatement } from "@/server/notifications/inbox-statements";
import { encodeCursor } from "@/server/notifications/notification-cursor";
import type { ListQuery } from "@/server/notifications/notifications.schema";
import { partitionsRead, type PlanNode } from "@/server/notifications/plan-partitions";

let db: pg.Client;
const user = `part-${Date.now().toString(36)}`;
const quiet = `${user}-quiet`;
// A fixed year of its own, ahead (the retention test removes what is old).
const month = (m: number, day = 15) => new Date(Date.UTC(2035, m - 1, day, 12));
const page = (q: Partial<ListQuery> = {}): ListQuery => ({ limit: 20, filter: "all", ...q });

async function explain(statement: { text: string; values: unknown[] }): Promise<PlanNode> {
  const { rows } = await db.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, values: statement.values });
  return rows[0]!["QUERY PLAN"][0].Plan;
}

beforeAll(async () => {
  db = new pg.Client({ connectionString: inject("system").databaseUrl });
  await db.connect();
  for (let m = 1; m <= 7; m++) await db.query("SELECT notify_create_notifications_partition($1)", [month(m)]);
  // Others' notifications around this user's, 2,000 a month, so that the planner sees tables of some size.
  await db.query(
    `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, created_at, sort_at)
     SELECT 'other-' || (i % 200), uuid_generate_v7(), 'comment', 'social', 'normal', 'x', '', i,
            make_timestamptz(2035, m, 1, 0, 0, 0, 'UTC') + (i % 27) * interval '1 day' + i * interval '1 second',
            make_timestamptz(2035, m, 1, 0, 0, 0, 'UTC') + (i % 27) * interval '1 day' + i * interval '1 second'
       FROM generate_series(1, 6) m, generate_series(1, 2000) i`,
  );
  // This user: 30 a month from January to June, and one group started on 1 June that an event on
  // 19 June moved up.
  await db.query(
    `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, created_at, sort_at)
     SELECT $1, uuid_generate_v7(), 'comment', 'social', 'normal', 'n ' || m || '-' || i, '', m * 100 + i, t, t
       FROM generate_series(1, 6) m, generate_series(1, 30) i,
            LATERAL (SELECT make_timestamptz(2035, m, i % 27 + 1, 10, i, 0, 'UTC') AS t) x`,
    [user],
  );
  await db.query(
    `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, created_at, sort_at)
     VALUES ($1, uuid_generate_v7(), 'like', 'social', 'normal', 'group', '', 999, '2035-06-01T00:30Z', '2035-06-19T08:00Z'),
            ($2, uuid_generate_v7(), 'like', 'social', 'normal', 'old one', '', 1, '2035-02-03T12:00Z', '2035-02-03T12:00Z'),
            ($2, uuid_generate_v7(), 'like', 'social', 'normal', 'older one', '', 2, '2035-01-03T12:00Z', '2035-01-03T12:00Z')`,
    [user, quiet],
  );
  await db.query("INSERT INTO users (id, last_seq, unread_count, unseen_count) VALUES ($1, 1000, 181, 181), ($2, 2, 2, 2)", [user, quiet]);
  // The change log after seq 600: the last 30 of June, each pointing at its notification.
  await db.query(
    `INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
     SELECT user_id, seq, 'new', id, created_at, created_at FROM notifications WHERE user_id = $1 AND seq > 600 AND seq < 999`,
    [user],
  );
  await db.query("ANALYZE notifications");
});

afterAll(async () => {
  await db.query("DELETE FROM notifications WHERE created_at >= '2035-01-01' AND created_at < '2035-08-01'");
  await db.query("DELETE FROM notification_changes WHERE user_id = $1", [user]);
  await db.query("DELETE FROM users WHERE id = ANY($1)", [[user, quiet]]);
  await db.end();
});

describe("inbox reads on the monthly partitions", () => {
  it("pages through the whole inbox in order, across months, with the group where it moved up to", async () => {
    const { rows: expected } = await db.query<{ id: string }>("SELECT id FROM notifications WHERE user_id = $1 ORDER BY sort_at DESC, id DESC", [user]);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 20; i++) {
      const { rows } = await db.query<{ id: string | null; sort_at: Date }>(listStatement(user, page({ cursor }), month(6, 28)));
      const ids = rows.filter((r) => r.id !== null);
      seen.push(...ids.slice(0, 20).map((r) => r.id!));
      if (ids.length <= 20) break;
      const last = ids[19]!;
      cursor = encodeCursor({ sortAt: last.sort_at.toISOString(), id: last.id! });
    }
    expect(seen).toHaveLength(181);
    expect(seen).toEqual(expected.map((r) => r.id));
    // The group is on the first page, where its last event put it.
    const { rows: first } = await db.query<{ title: string }>(listStatement(user, page(), month(6, 28)));
    expect(first.map((r) => r.title)).toContain("group");
  });

  it("a page reads one or two partitions, by index", async () => {
    const first = partitionsRead(await explain(listStatement(user, page(), month(6, 28))));
    expect(first.seqScans).toEqual([]);
    expect(first.indexScans.length).toBeGreaterThan(0);
    expect(first.partitions.length).toBeGreaterThanOrEqual(1);
    expect(first.partitions.length).toBeLessThanOrEqual(2);
    expect(first.partitions.every((p) => ["notifications_y2035m06", "notifications_y2035m05"].includes(p))).toBe(true);
    // A page further down, from mid-April: the rest of April, then March.
    const april = partitionsRead(await explain(listStatement(user, page({ cursor: encodeCursor({ sortAt: "2035-04-14T00:00:00.000Z", id: "ffffffff-ffff-7fff-bfff-ffffffffffff" }) }), month(6, 28))));
    expect(april.seqScans).toEqual([]);
    expect(april.partitions.length).toBeLessThanOrEqual(2);
    expect(april.partitions.every((p) => ["notifications_y2035m04", "notifications_y2035m03"].includes(p))).toBe(true);
    // The unread filter reads the same way.
    const unread = partitionsRead(await explain(listStatement(user, page({ filter: "unread" }), month(6, 28))));
    expect(unread.seqScans).toEqual([]);
    expect(unread.partitions.length).toBeLessThanOrEqual(2);
  });

  it("a quiet inbox finds its older notifications on the first page", async () => {
    const { rows } = await db.query<{ title: string | null }>(listStatement(quiet, page(), month(6, 28)));
    expect(rows.map((r) => r.title)).toEqual(["old one", "older one"]);
  });

  it("the changes after a seq read each notification by key in its own partition", async () => {
    const { rows } = await db.query<{ seq: string; id: string | null }>(changesStatement(user, 600, 500));
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.id !== null)).toBe(true);
    const plan = partitionsRead(await explain(changesStatement(user, 600, 500)));
    expect(plan.seqScans).toEqual([]);
    expect(plan.partitions).toEqual(["notifications_y2035m06"]);
  });

  it("the unread count is the user row's counters: one index lookup, no partition read", async () => {
    const { rows } = await db.query(unreadCountStatement(user));
    expect(rows[0]).toMatchObject({ unread_count: 181 });
    const plan = partitionsRead(await explain(unreadCountStatement(user)));
    expect(plan.partitions).toEqual([]);
    expect(plan.seqScans).toEqual([]);
    expect(plan.indexScans).toEqual(["users"]);
  });
});

describe("partition maintenance", () => {
  it("the relay has created this month's partition and the next three", async () => {
    const { rows } = await db.query<{ name: string }>("SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'notifications'::regclass");
    const names = new Set(rows.map((r) => r.name));
    const nowMonth = new Date();
    for (let i = 0; i <= 3; i++) {
      const m = new Date(Date.UTC(nowMonth.getUTCFullYear(), nowMonth.getUTCMonth() + i, 1));
      expect(names).toContain(`notifications_y${m.getUTCFullYear()}m${String(m.getUTCMonth() + 1).padStart(2, "0")}`);
    }
    expect(names).toContain("notifications_default");
  });

  it("a row of a month without a partition lands in the default one and moves when the month's partition is created", async () => {
    const at = "2041-03-10T00:00:00Z";
    await db.query(
      `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, created_at, sort_at)
       VALUES ($1, uuid_generate_v7(), 'like', 'social', 'normal', 'far ahead', '', 1, $2, $2)`,
      [quiet, at],
    );
    const where = async () => (await db.query<{ p: string }>("SELECT tableoid::regclass::text AS p FROM notifications WHERE user_id = $1 AND title = 'far ahead'", [quiet])).rows.map((r) => r.p);
    expect(await where()).toEqual(["notifications_default"]);
    expect((await db.query("SELECT notify_create_notifications_partition($1) AS created", [at])).rows[0].created).toBe(true);
    expect(await where()).toEqual(["notifications_y2041m03"]);
    // Again: nothing to do.
    expect((await db.query("SELECT notify_create_notifications_partition($1) AS created", [at])).rows[0].created).toBe(false);
    await db.query("DROP TABLE notifications_y2041m03");
  });

  it("creating a partition waits for a transaction that read the default partition and then writes to it: no deadlock", async () => {
    const other = new pg.Client({ connectionString: inject("system").databaseUrl });
    await other.connect();
    try {
      // Like a fan-out joining an open group, or a read-state change: read, then write.
      await other.query("BEGIN");
      await other.query("SELECT count(*) FROM notifications_default");
      const creating = db.query("SELECT notify_create_notifications_partition($1) AS created", ["2042-05-10T00:00:00Z"]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Past deadlock_timeout (1 s) PostgreSQL would abort one of the two, were they in a cycle.
      await other.query("UPDATE notifications_default SET title = title WHERE false");
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await other.query("COMMIT");
      expect((await creating).rows[0].created).toBe(true);
    } finally {
      await other.query("ROLLBACK").catch(() => undefined);
      await other.end();
      await db.query("DROP TABLE IF EXISTS notifications_y2042m05");
    }
  });
});
