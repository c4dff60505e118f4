// The hot cache of each user's latest notifications (server/notifications/hot-cache.ts) on the
// running system: the dropdown's page comes from Redis once read, and after every kind of change —
// made on the other web node, by a fan-out worker, or by an aggregation update — the next page is
// exactly what PostgreSQL holds (never a stale cached one). A cached page is served only for the
// user's current seq.
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
const redis = new Redis(system.redisUrl);
const user = uniqueId("hot");
const key = `${system.redisPrefix}:inbox:{${user}}`;
let token: string;

afterAll(async () => {
  redis.disconnect();
  await db.end();
});

async function notify(body: Record<string, unknown> = {}) {
  const reply = await service.trigger({ type: "comment", to: [user], actor: { id: "ann", name: "Ann" }, ...body });
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  await eventually(async () => ((await service.status(reply.body.id)).body.status === "completed" ? true : undefined));
}

/** What PostgreSQL holds for the first page: ids in order with their read and archived state. */
async function truth() {
  const { rows } = await db.query<{ id: string; read: boolean }>(
    "SELECT id, read_at IS NOT NULL AS read FROM notifications WHERE user_id = $1 AND archived_at IS NULL ORDER BY sort_at DESC, id DESC LIMIT 10",
    [user],
  );
  return rows;
}

async function firstPage(web: string) {
  const reply = await userClient(web, token).list("?limit=10");
  expect(reply.status).toBe(200);
  return reply.body as unknown as { notifications: { id: string; read: boolean; title: string }[]; lastSeq: number };
}

beforeAll(async () => {
  token = await service.token(user);
  for (let i = 0; i < 3; i++) await notify();
});

describe("hot cache", () => {
  it("serves the first page from Redis once read, for the current seq only", async () => {
    const page = await firstPage(web1);
    expect(page.notifications.map((n) => ({ id: n.id, read: n.read }))).toEqual(await truth());
    const [head, ...cached] = await redis.lrange(key, 0, -1);
    expect(head).toBe(`${page.lastSeq}|0`);
    expect(cached.map((n) => JSON.parse(n).id)).toEqual(page.notifications.map((n) => n.id));
    // A cached page for the current seq is what the API answers (here a doctored one, to see it).
    const doctored = [JSON.stringify({ ...JSON.parse(cached[0]!), title: "from the hot cache" }), ...cached.slice(1)];
    const store = async (seq: number) => {
      await redis.del(key);
      await redis.rpush(key, `${seq}|0`, ...doctored);
      await redis.expire(key, 60);
    };
    await store(page.lastSeq);
    expect((await firstPage(web2)).notifications[0]!.title).toBe("from the hot cache");
    // A page shorter than the cache reads only its share, and knows there is more.
    const short = await userClient(web2, token).list("?limit=2");
    expect(short.body.notifications.map((n) => n.id)).toEqual(page.notifications.slice(0, 2).map((n) => n.id));
    expect(short.body.notifications[0]!.title).toBe("from the hot cache");
    expect(short.body.nextCursor).toBeTruthy();
    // One for an older seq is never served, and is replaced.
    await store(page.lastSeq - 1);
    expect((await firstPage(web2)).notifications[0]!.title).not.toBe("from the hot cache");
    expect(await redis.lindex(key, 0)).toBe(`${page.lastSeq}|0`);
    // An entry in the earlier string format (a web node of the previous version) is never served as a
    // page, and is replaced by the list.
    await redis.set(key, `${page.lastSeq - 1}|${JSON.stringify({ notifications: [], more: false })}`, "EX", 60);
    expect((await firstPage(web2)).notifications.map((n) => n.id)).toEqual(page.notifications.map((n) => n.id));
    expect(await redis.type(key)).toBe("list");
  });

  it("after every kind of change the next page is what PostgreSQL holds", async () => {
    const me1 = userClient(web1, token);
    const me2 = userClient(web2, token);
    const check = async (what: string) => {
      for (const web of [web1, web2]) {
        const page = await firstPage(web);
        expect(page.notifications.map((n) => ({ id: n.id, read: n.read })), what).toEqual(await truth());
      }
    };
    await check("warm");
    const [a, b] = (await firstPage(web1)).notifications;
    expect((await me2.post("/api/notifications/read", { ids: [a!.id] })).status).toBe(200);
    await check("read on the other node");
    expect((await me1.post("/api/notifications/unread", { ids: [a!.id] })).status).toBe(200);
    await check("unread");
    expect((await me2.post("/api/notifications/archive", { ids: [b!.id] })).status).toBe(200);
    await check("archived");
    expect((await me1.post("/api/notifications/unarchive", { ids: [b!.id] })).status).toBe(200);
    await check("unarchived");
    await notify();
    await check("a new notification from the fan-out worker");
    expect((await me2.post("/api/notifications/read-all", {})).status).toBe(200);
    await check("read all");
    expect((await me1.post(`/api/notifications/${a!.id}/click`)).status).toBe(200);
    await check("clicked");
    const count = await me1.count();
    const { rows } = await db.query("SELECT unread_count FROM users WHERE id = $1", [user]);
    expect(count.body.count).toBe(rows[0].unread_count);
  });
});
