// Many writers at once for the same users: triggers fanned out by two worker processes, and a few
// hundred random state changes on both web nodes. Afterwards counts equal COUNT(*) and seq is gapless.
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { connectDevice, eventually, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const webs = system.webUrls;
const service = serviceClient(webs[0]!, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
afterAll(() => db.end());

/** A small deterministic PRNG (mulberry32), so a failure can be replayed with the printed seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("concurrency", () => {
  it("keeps counts equal to PostgreSQL and seq contiguous under concurrent triggers and state changes", async () => {
    const seed = Number(process.env.TEST_SEED ?? Date.now() % 100_000);
    const rand = random(seed);
    const pick = <T,>(items: T[]): T => items[Math.floor(rand() * items.length)]!;
    const users = Array.from({ length: 8 }, (_, i) => uniqueId(`c${i}`));
    const topic = uniqueId("crowd");
    await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: users });
    const tokens = new Map(await Promise.all(users.map(async (u) => [u, await service.token(u)] as const)));
    // Every user starts with a few notifications, so the storm below acts on real ids.
    for (let i = 0; i < 3; i++) expect((await service.trigger({ type: "comment", to: { topic }, actor: { id: "a", name: "A" } })).status).toBe(202);
    const known = new Map<string, string[]>();
    for (const user of users) {
      const ids = await eventually(async () => {
        const page = await userClient(webs[0]!, tokens.get(user)!).list("?limit=100");
        return page.body.notifications.length === 3 ? page.body.notifications.map((n) => n.id) : undefined;
      });
      known.set(user, ids);
    }
    // Each user also has a device connected, which learns of new notifications as they arrive.
    const devices = await Promise.all(users.map((u, i) => connectDevice(webs[i % webs.length]!, tokens.get(u)!)));
    for (const [i, d] of devices.entries()) d.socket.on("notification:new", (n: { id: string }) => known.get(users[i]!)!.push(n.id));

    const triggerIds: string[] = [];
    const operations: Promise<unknown>[] = [];
    let changed = 0;
    const expectOk = (reply: { status: number; body: { count?: number } }) => {
      expect(reply.status).toBe(200);
      changed += reply.body.count ?? 1;
    };
    for (let i = 0; i < 360; i++) {
      const user = pick(users);
      const token = tokens.get(user)!;
      const web = pick(webs);
      const inbox = userClient(web, token);
      const mine = known.get(user)!;
      const ids = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(mine));
      const roll = rand();
      if (roll < 0.25) {
        const to = rand() < 0.3 ? { topic } : Array.from(new Set(Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(users))));
        operations.push(
          service.trigger({ type: pick(["comment", "like", "follow", "mention"]), to, actor: { id: "a", name: "A" } }).then((r) => {
            expect(r.status).toBe(202);
            triggerIds.push(r.body.id);
          }),
        );
      } else if (roll < 0.45) operations.push(inbox.post("/api/notifications/read", { ids }).then(expectOk));
      else if (roll < 0.55) operations.push(inbox.post("/api/notifications/unread", { ids }).then(expectOk));
      else if (roll < 0.65) operations.push(inbox.post("/api/notifications/archive", { ids }).then(expectOk));
      else if (roll < 0.72) operations.push(inbox.post("/api/notifications/unarchive", { ids }).then(expectOk));
      else if (roll < 0.8) operations.push(inbox.post("/api/notifications/seen", { ids }).then(expectOk));
      else if (roll < 0.86) operations.push(inbox.post("/api/notifications/read-all").then(expectOk));
      else if (roll < 0.92) operations.push(inbox.post(`/api/notifications/${ids[0]}/click`).then(expectOk));
      else {
        operations.push(
          devices[users.indexOf(user)]!.socket.timeout(20_000)
            .emitWithAck("notifications:read", { ids })
            .then((ack: { ok: boolean; count?: number }) => {
              expect(ack.ok).toBe(true);
              changed += ack.count ?? 0;
            }),
        );
      }
      if (i % 40 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    const settled = await Promise.allSettled(operations);
    expect(settled.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason)), `seed ${seed}`).toEqual([]);
    // The storm really changed state (not only no-ops on unknown ids).
    expect(changed, `seed ${seed}`).toBeGreaterThan(50);
    await eventually(
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM triggers WHERE id = ANY($1::uuid[]) AND status <> 'completed'", [triggerIds]);
        return rows[0].n === 0 ? true : undefined;
      },
      30_000,
      "every trigger fanned out",
    );

    for (const user of users) {
      const { rows } = await db.query(
        `SELECT count(*) FILTER (WHERE read_at IS NULL AND archived_at IS NULL)::int AS unread,
                count(*) FILTER (WHERE seen_at IS NULL AND archived_at IS NULL)::int AS unseen,
                (SELECT unread_count FROM users WHERE id = $1) AS stored_unread,
                (SELECT unseen_count FROM users WHERE id = $1) AS stored_unseen
           FROM notifications WHERE user_id = $1`,
        [user],
      );
      const truth = rows[0];
      expect(truth.stored_unread, `seed ${seed} ${user}`).toBe(truth.unread);
      expect(truth.stored_unseen, `seed ${seed} ${user}`).toBe(truth.unseen);
      for (const web of webs) {
        const count = await userClient(web, tokens.get(user)!).count();
        expect(count.body, `seed ${seed} ${user}`).toMatchObject({ count: truth.unread, unseen: truth.unseen });
      }
      const seqs = await db.query(
        "SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct_n, min(seq)::int AS min, max(seq)::int AS max, (SELECT last_seq::int FROM users WHERE id = $1) AS last FROM notification_changes WHERE user_id = $1",
        [user],
      );
      const s = seqs.rows[0];
      expect({ n: s.n, distinct: s.distinct_n, min: s.min, max: s.max }, `seed ${seed} ${user}`).toEqual({ n: s.last, distinct: s.last, min: 1, max: s.last });
      const dupes = await db.query("SELECT trigger_id FROM notifications WHERE user_id = $1 GROUP BY trigger_id HAVING count(*) > 1", [user]);
      expect(dupes.rows).toEqual([]);
    }
    const expected = await db.query(
      "SELECT coalesce(sum(CASE WHEN topic_key IS NULL THEN cardinality(recipient_ids) ELSE recipients END), 0)::int AS n FROM triggers WHERE id = ANY($1::uuid[])",
      [triggerIds],
    );
    const actual = await db.query("SELECT count(*)::int AS n FROM notifications WHERE trigger_id = ANY($1::uuid[])", [triggerIds]);
    expect(actual.rows[0].n).toBe(expected.rows[0].n);
    for (const d of devices) d.close();
  });
});
