// The partition plan checks of tests/system/partitions.test.ts at full scale: 10,000,000
// notifications over twelve monthly partitions (20,000 users, ~500 each: ~40 a month; a tenth unread),
// then a first page, a page deep in the history, the unread filter, a quiet inbox, the changes after
// a seq and the unread count, each through EXPLAIN ANALYZE: by index, on one or two partitions
// (a quiet inbox, the unread filter and a search excepted: they read back through older months, by index,
// until their page is full). Prints the
// load time, the plans' partitions and their execution times. SLOW_ROWS overrides the row count.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changesStatement, listStatement, unreadCountStatement } from "@/server/notifications/inbox-statements";
import { encodeCursor } from "@/server/notifications/notification-cursor";
import type { ListQuery } from "@/server/notifications/notifications.schema";
import { partitionsRead, type PlanNode } from "@/server/notifications/plan-partitions";
import { createTestDatabase, dropTestDatabase } from "../system/start-system";

const ROWS = Number(process.env.SLOW_ROWS ?? 10_000_000);
const USERS = Number(process.env.SLOW_USERS ?? 20_000);
const MONTHS = 12;
// The last of the twelve months is the one "now" is in: mid-December 2025.
const at = new Date("2025-12-20T12:00:00Z");
const monthName = (m: number) => `notifications_y2025m${String(m).padStart(2, "0")}`;
const page = (q: Partial<ListQuery> = {}): ListQuery => ({ limit: 20, filter: "all", ...q });
let url: string;
let db: pg.Client;

async function explain(label: string, statement: { text: string; values: unknown[] }) {
  const { rows } = await db.query<{ "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number }] }>({ text: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.text}`, values: statement.values });
  const result = rows[0]!["QUERY PLAN"][0];
  const read = partitionsRead(result.Plan);
  console.log(`${label.padEnd(34)} ${result["Execution Time"].toFixed(2).padStart(8)} ms   partitions: ${read.partitions.join(", ") || "none"}   index scans on: ${read.indexScans.join(", ")}`);
  return read;
}

beforeAll(async () => {
  url = await createTestDatabase("notify_slow_partitions");
  db = new pg.Client({ connectionString: url });
  await db.connect();
  const t = performance.now();
  for (let m = 1; m <= MONTHS; m++) await db.query("SELECT notify_create_notifications_partition($1)", [new Date(Date.UTC(2025, m - 1, 1))]);
  await db.query("INSERT INTO users (id, last_seq, unread_count, unseen_count) SELECT 'u' || g, 0, 0, 0 FROM generate_series(1, $1) g", [USERS]);
  // Month by month, rows spread over the month in time order; user i % USERS; 1 in 10 unread.
  const perMonth = Math.ceil(ROWS / MONTHS);
  for (let m = 1; m <= MONTHS; m++) {
    await db.query(
      `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, read_at, created_at, sort_at)
       SELECT 'u' || (g % $3 + 1), gen_random_uuid(), 'comment', 'social', 'normal', 'Comment ' || g, '', $2::bigint * $1 + g,
              CASE WHEN g % 10 = 0 THEN NULL ELSE t END, t, t
         FROM generate_series(1, $1) g,
              LATERAL (SELECT make_timestamptz(2025, $2, 1, 0, 0, 0, 'UTC') + (g::float8 / $1) * (make_timestamptz(2025, $2, 1, 0, 0, 0, 'UTC') + interval '1 month' - make_timestamptz(2025, $2, 1, 0, 0, 0, 'UTC')) AS t) x`,
      [perMonth, m, USERS],
    );
    console.log(`month ${m}: ${(perMonth * m).toLocaleString("en")} rows, ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  await db.query(
    `UPDATE users u SET last_seq = s.seq, unread_count = s.unread FROM (
       SELECT user_id, max(seq) AS seq, count(*) FILTER (WHERE read_at IS NULL)::int AS unread FROM notifications GROUP BY user_id) s
      WHERE u.id = s.user_id`,
  );
  // The change log of user u7: its December notifications.
  await db.query(
    `INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
     SELECT user_id, seq, 'new', id, created_at, created_at FROM notifications WHERE user_id = 'u7' AND created_at >= '2025-12-01'`,
  );
  await db.query("VACUUM ANALYZE notifications");
  await db.query("VACUUM ANALYZE users");
  const { rows } = await db.query<{ n: string; size: string }>("SELECT count(*) AS n, pg_size_pretty(pg_total_relation_size('notifications_y2025m12')) AS size FROM notifications");
  console.log(`loaded ${Number(rows[0]!.n).toLocaleString("en")} notifications in ${((performance.now() - t) / 1000).toFixed(0)} s; one month's partition with its indexes: ${rows[0]!.size}`);
}, 3_600_000);

afterAll(async () => {
  await db?.end();
  if (url) await dropTestDatabase(url);
});

describe(`inbox reads at ${ROWS.toLocaleString("en")} notifications`, () => {
  const twoAtMost = (read: ReturnType<typeof partitionsRead>, allowed: string[]) => {
    expect(read.seqScans).toEqual([]);
    expect(read.indexScans).toContain(read.partitions[0]);
    expect(read.partitions.length).toBeGreaterThanOrEqual(1);
    expect(read.partitions.length).toBeLessThanOrEqual(2);
    for (const p of read.partitions) expect(allowed).toContain(p);
  };

  it("first page, a page in June, the unread filter, the changes and the unread count: by index, one or two partitions", async () => {
    const { rows: first } = await db.query<{ id: string }>(listStatement("u7", page(), at));
    // A page of 20 and one more: the sign of a next page.
    expect(first.filter((r) => r.id).length).toBe(21);
    twoAtMost(await explain("first page", listStatement("u7", page(), at)), [monthName(12), monthName(11)]);
    const june = encodeCursor({ sortAt: "2025-06-16T00:00:00.000Z", id: "ffffffff-ffff-7fff-bfff-ffffffffffff" });
    twoAtMost(await explain("page from mid-June", listStatement("u7", page({ cursor: june }), at)), [monthName(6), monthName(5)]);
    // A tenth unread, spread over the year: the unread filter (and a search) reads back through the
    // months until its page is full, by index.
    const unread = await explain("first page, unread", listStatement("u7", page({ filter: "unread" }), at));
    expect(unread.seqScans.filter((p) => p !== "notifications_default")).toEqual([]);
    const search = await explain("first page, search 'Comment 1'", listStatement("u7", page({ q: "Comment 1" }), at));
    expect(search.seqScans.filter((p) => p !== "notifications_default")).toEqual([]);
    const changes = await explain("changes after a seq", changesStatement("u7", 0, 500));
    expect(changes.seqScans).toEqual([]);
    expect(changes.partitions).toEqual([monthName(12)]);
    const count = await explain("unread count", unreadCountStatement("u7"));
    expect(count.partitions).toEqual([]);
    expect(count.indexScans).toEqual(["users"]);
  });

  it("an inbox too quiet to fill a page in two months reads back through the older ones, by index", async () => {
    await db.query(
      `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, created_at, sort_at)
       VALUES ('quiet', gen_random_uuid(), 'comment', 'social', 'normal', 'March', '', 1, '2025-03-03T00:00Z', '2025-03-03T00:00Z')`,
    );
    const { rows } = await db.query<{ title: string }>(listStatement("quiet", page(), at));
    expect(rows.map((r) => r.title)).toEqual(["March"]);
    const read = await explain("quiet inbox (one in March)", listStatement("quiet", page(), at));
    // The default partition is empty (every month has its own): scanning it is free, and it cannot
    // be ruled out for "everything older".
    expect(read.seqScans.filter((p) => p !== "notifications_default")).toEqual([]);
    expect(read.partitions).toContain(monthName(3));
  });
});
