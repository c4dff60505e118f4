// The retention job on the running system's database (npm run retention, as the relay runs it each
// night): read and seen notifications past RETENTION_ARCHIVE_DAYS move to cold storage and are
// still in the inbox's pages, in order; unread ones stay; everything past RETENTION_DELETE_DAYS
// goes, an unread one as a removal (counter down, a `removed` change); a month partition left
// empty past the limit is dropped; a state change on a cold notification brings it back.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1] = system.webUrls as [string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);
const partitionOf = (d: Date) => `notifications_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, "0")}`;

async function retention(): Promise<{ archived: number; deletedCold: number; removedHot: number; droppedPartitions: string[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/retention.ts", "--archive-days", "90", "--delete-days", "365"], {
    env: { ...process.env, DATABASE_URL: system.databaseUrl, REDIS_URL: system.redisUrl, REDIS_PREFIX: system.redisPrefix, SERVICE_API_KEY: system.serviceKey, AUTH_SECRET: system.authSecret, LOG_LEVEL: "warn" },
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

const user = uniqueId("retained");
let token: string;
let recentId: string;
const rows = {
  archivedA: { days: 200, read: true },
  keptUnread: { days: 210, read: false },
  archivedE: { days: 120, read: true },
  deletedRead: { days: 400, read: true },
  removedUnread: { days: 401, read: false },
} as const;
const ids: Record<keyof typeof rows, string> = {} as never;
let coldOld: string;

beforeAll(async () => {
  token = await service.token(user);
  const reply = await service.trigger({ type: "comment", to: [user], actor: { id: "ann", name: "Ann" } });
  expect(reply.status).toBe(202);
  await eventually(async () => ((await service.status(reply.body.id)).body.status === "completed" ? true : undefined));
  recentId = (await userClient(web1, token).list()).body.notifications[0]!.id;
  // Old notifications, as if written long ago, with the counters moved as a fan-out would.
  for (const [name, r] of Object.entries(rows)) {
    const at = ago(r.days);
    await db.query("SELECT notify_create_notifications_partition($1)", [at]);
    const { rows: inserted } = await db.query<{ id: string }>(
      `WITH u AS (UPDATE users SET last_seq = last_seq + 1, unread_count = unread_count + $3, unseen_count = unseen_count + $3 WHERE id = $1 RETURNING last_seq)
       INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, seq, read_at, seen_at, created_at, sort_at)
       SELECT $1, gen_random_uuid(), 'comment', 'social', 'normal', $4, '', u.last_seq, $5, $5, $2, $2 FROM u RETURNING id`,
      [user, at, r.read ? 0 : 1, name, r.read ? at : null],
    );
    ids[name as keyof typeof rows] = inserted[0]!.id;
  }
  // And one archived long ago, now past the limit in cold storage.
  const { rows: cold } = await db.query<{ id: string }>(
    `WITH u AS (UPDATE users SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq)
     INSERT INTO notifications_archive (id, user_id, trigger_id, type, category, priority, title, body, seq, read_at, seen_at, created_at, sort_at)
     SELECT gen_random_uuid(), $1, gen_random_uuid(), 'comment', 'social', 'normal', 'cold and old', '', u.last_seq, $2, $2, $2, $2 FROM u RETURNING id`,
    [user, ago(500)],
  );
  coldOld = cold[0]!.id;
  // The cached counts predate these rows.
  const redis = new Redis(system.redisUrl);
  await redis.del(`${system.redisPrefix}:unread:{${user}}`);
  redis.disconnect();
});

afterAll(() => db.end());

describe("retention", () => {
  it("moves old read notifications to cold storage, keeps unread ones, deletes past the limit and drops the empty partition", async () => {
    const before = (await userClient(web1, token).count()).body;
    expect(before.count).toBe(3); // the recent one, keptUnread, removedUnread
    const oldPartition = partitionOf(ago(401));
    const result = await retention();
    expect(result.archived).toBeGreaterThanOrEqual(2);
    const where = async (id: string) => {
      const { rows: found } = await db.query<{ place: string }>(
        "SELECT tableoid::regclass::text AS place FROM notifications WHERE id = $1 UNION ALL SELECT 'archive' FROM notifications_archive WHERE id = $1",
        [id],
      );
      return found.map((r) => r.place);
    };
    expect(await where(ids.archivedA)).toEqual(["archive"]);
    expect(await where(ids.archivedE)).toEqual(["archive"]);
    expect(await where(ids.keptUnread)).toEqual([partitionOf(ago(210))]);
    expect(await where(ids.deletedRead)).toEqual([]);
    expect(await where(ids.removedUnread)).toEqual([]);
    expect(await where(recentId)).toHaveLength(1);
    // Both past the limit left as removals (a seq and a change each; a client may hold them): the
    // unread one took the counter down.
    const after = (await userClient(web1, token).count()).body;
    expect(after.count).toBe(2);
    const { rows: removed } = await db.query("SELECT ids FROM notification_changes WHERE user_id = $1 AND kind = 'removed' ORDER BY seq", [user]);
    expect(removed.flatMap((r) => r.ids).sort()).toEqual([coldOld, ids.deletedRead, ids.removedUnread].sort());
    expect(await where(coldOld)).toEqual([]);
    // Its month's partition was left empty past the limit: dropped.
    const { rows: exists } = await db.query("SELECT to_regclass($1) AS t", [oldPartition]);
    expect(exists[0].t).toBeNull();
    // A second run finds nothing more of this user's to do.
    await retention();
    expect(await where(ids.keptUnread)).toEqual([partitionOf(ago(210))]);
  });

  it("the inbox still pages through everything kept, hot and cold, in order; export includes the cold ones", async () => {
    const me = userClient(web1, token);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await me.list(`?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.notifications.map((n) => n.id));
      cursor = page.body.nextCursor;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([recentId, ids.archivedE, ids.archivedA, ids.keptUnread]);
    const exported = await request(`${web1}/api/v1/users/${user}/export`, { token: system.serviceKey });
    expect(exported.status).toBe(200);
    expect(exported.body.notifications.map((n: { id: string }) => n.id).sort()).toEqual([recentId, ids.archivedE, ids.archivedA, ids.keptUnread].sort());
  });

  it("marking a cold notification unread brings it back into the inbox table, counted", async () => {
    const me = userClient(web1, token);
    const reply = await me.post("/api/notifications/unread", { ids: [ids.archivedA] });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect((await me.count()).body.count).toBe(3);
    const { rows: hot } = await db.query("SELECT read_at FROM notifications WHERE id = $1", [ids.archivedA]);
    expect(hot).toEqual([{ read_at: null }]);
    const { rows: cold } = await db.query("SELECT 1 FROM notifications_archive WHERE id = $1", [ids.archivedA]);
    expect(cold).toHaveLength(0);
    const click = await me.post(`/api/notifications/${ids.archivedE}/click`);
    expect(click.status, JSON.stringify(click.body)).toBe(200);
    expect(click.body).toMatchObject({ id: ids.archivedE, read: true });
  });
  it("a trigger's status still counts its notifications once retention has moved them to cold storage", async () => {
    const reply = await service.trigger({ type: "comment", to: [user], actor: { id: "ann", name: "Ann" } });
    await eventually(async () => ((await service.status(reply.body.id)).body.status === "completed" ? true : undefined));
    const { rows: moved } = await db.query(
      `WITH m AS (DELETE FROM notifications WHERE trigger_id = $1 RETURNING *) INSERT INTO notifications_archive SELECT * FROM m RETURNING id`,
      [reply.body.id],
    );
    expect(moved).toHaveLength(1);
    const status = (await service.status(reply.body.id)).body;
    expect(status.channels.in_app.sent).toBe(1);
    expect(status.outcomes.filter((o: { channel: string }) => o.channel === "in_app")).toEqual([expect.objectContaining({ userId: user, status: "sent" })]);
  });
});
