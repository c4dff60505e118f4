// Data protection on the running system: GET /api/v1/users/{id}/export returns everything stored
// about a user, and DELETE /api/v1/users/{id} erases it all (rows keyed by the user, copies sent to
// their addresses, their suppression entries, their Redis entries) and closes their sockets, without
// touching anyone else's data.
import { afterAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { Redis } from "ioredis";
import { connectDevice, eventually, pushSubscription, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
const redis = new Redis(system.redisUrl);
afterAll(async () => {
  await db.end();
  redis.disconnect();
});

const TABLES = ["notifications", "notification_changes", "deliveries", "push_subscriptions", "topic_subscriptions", "local_outbox", "users"];

/** Rows about the user in each table (users by id, the rest by user_id; the outbox also by address). */
async function footprint(userId: string, email: string) {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const where = table === "users" ? "id = $1" : table === "local_outbox" ? "(user_id = $1 OR recipient = $2)" : "user_id = $1";
    out[table] = (await db.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, table === "local_outbox" ? [userId, email] : [userId])).rows[0].n;
  }
  out.suppressions = (await db.query("SELECT count(*)::int AS n FROM suppressions WHERE address = $1", [email])).rows[0].n;
  return out;
}

/** A user with a profile, preferences, a device, a topic, two notifications (one read), decisions, a sent copy and a suppression. */
async function populatedUser(prefix: string, topic: string) {
  const userId = uniqueId(prefix);
  const email = `${userId}@example.com`;
  expect((await service.call("PUT", `/api/v1/users/${userId}`, { name: `Name of ${prefix}`, email, phone: "+4915112345678", locale: "de" })).status).toBe(200);
  const token = await service.token(userId);
  expect((await request(`${web1}/api/preferences`, { method: "PUT", token, body: { types: { comment: { push: false } } } })).status).toBe(200);
  expect((await request(`${web1}/api/push-subscriptions`, { method: "POST", token, body: pushSubscription().subscription })).status).toBe(201);
  expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: [userId] })).status).toBe(200);
  for (const n of [1, 2]) {
    const reply = await service.trigger({ type: "comment", to: [userId], actor: { id: "ann", name: "Ann" }, target: { type: "post", id: `p${n}` }, data: { comment: `hello ${n}` } });
    expect(reply.status).toBe(202);
  }
  const me = userClient(web1, token);
  const list = await eventually(async () => {
    const r = await me.list();
    return r.body.notifications.length === 2 ? r.body.notifications : undefined;
  });
  expect((await me.post("/api/notifications/read", { ids: [list[0]!.id] })).status).toBe(200);
  // What a channel worker and a bounce webhook would have stored (no channel worker runs in this suite).
  await db.query("INSERT INTO local_outbox (trigger_id, user_id, channel, recipient, subject, text) SELECT trigger_id, $1, 'email', $2, 'Hi', 'Hello' FROM notifications WHERE user_id = $1 LIMIT 1", [userId, email]);
  await db.query("INSERT INTO suppressions (channel, address, reason) VALUES ('email', $1, 'bounced')", [email]);
  return { userId, email, token };
}

describe("privacy", () => {
  it("exports everything stored about a user as one JSON document", async () => {
    const topic = uniqueId("privacy-topic");
    const { userId, email } = await populatedUser("export", topic);
    const reply = await request(`${web1}/api/v1/users/${userId}/export`, { token: system.serviceKey });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toContain("application/json");
    const doc = reply.body;
    expect(doc.user).toMatchObject({ id: userId, name: "Name of export", email, phone: "+4915112345678", locale: "de", unreadCount: 1, lastSeq: 3 });
    expect(doc.user.preferences.types).toEqual({ comment: { push: false } });
    expect(doc.topics.map((t: { topic: string }) => t.topic)).toEqual([topic]);
    expect(doc.devices).toHaveLength(1);
    expect(doc.devices[0].endpoint).toMatch(/^https:\/\//);
    expect(doc.notifications).toHaveLength(2);
    expect(doc.notifications.filter((n: { readAt: string | null }) => n.readAt !== null)).toHaveLength(1);
    expect(doc.notifications.map((n: { data: { comment: string } }) => n.data.comment).sort()).toEqual(["hello 1", "hello 2"]);
    // Every channel decision of both triggers (in-app is in the notifications; push, email, SMS here).
    expect(doc.deliveries.length).toBeGreaterThanOrEqual(4);
    expect(doc.sentCopies).toEqual([expect.objectContaining({ recipient: email, subject: "Hi" })]);
    expect(doc.deliveryAttempts).toEqual([]);
    expect(doc.deadLetters).toEqual([]);
    expect(doc.suppressions).toEqual([expect.objectContaining({ channel: "email", address: email, reason: "bounced" })]);
    expect(doc.groups).toEqual([]);
    // Another user's data is not in it.
    expect(JSON.stringify(doc)).not.toContain("Name of erase");
  });

  it("erases a user everywhere, closes their sockets, and leaves everyone else as they were", async () => {
    const topic = uniqueId("privacy-topic");
    const gone = await populatedUser("erase", topic);
    const kept = await populatedUser("keep", topic);
    const keptBefore = await footprint(kept.userId, kept.email);
    expect(Object.values(await footprint(gone.userId, gone.email)).every((n) => n > 0)).toBe(true);
    // Cached counts exist for them.
    await userClient(web1, gone.token).count();
    expect(await redis.exists(`${system.redisPrefix}:unread:{${gone.userId}}`)).toBe(1);
    const device = await connectDevice(web2, gone.token);
    const closed = new Promise<string>((resolve) => device.socket.once("disconnect", (reason) => resolve(reason)));

    const reply = await service.call("DELETE", `/api/v1/users/${gone.userId}`);
    expect(reply.status).toBe(200);
    expect(reply.body.id).toBe(gone.userId);
    expect(reply.body.erased).toMatchObject({ users: 1, notifications: 2, push_subscriptions: 1, topic_subscriptions: 1, local_outbox: 1, suppressions: 1 });
    expect(await closed).toBe("io server disconnect");

    expect(await footprint(gone.userId, gone.email)).toEqual(Object.fromEntries([...TABLES, "suppressions"].map((t) => [t, 0])));
    expect(await redis.exists(`${system.redisPrefix}:unread:{${gone.userId}}`)).toBe(0);
    expect(await footprint(kept.userId, kept.email)).toEqual(keptBefore);
    expect((await userClient(web1, kept.token).count()).body.count).toBe(1);

    // Gone means gone: a second erase and an export answer 404 in the API's error format.
    const again = await service.call("DELETE", `/api/v1/users/${gone.userId}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("not_found");
    const exported = await request(`${web1}/api/v1/users/${gone.userId}/export`, { token: system.serviceKey });
    expect(exported.status).toBe(404);
    expect(exported.body.error.code).toBe("not_found");
  });

  it("drops the page and counts a read that raced the erasure cached back from its older snapshot", async () => {
    const gone = await populatedUser("raced", uniqueId("privacy-topic"));
    const counts = `${system.redisPrefix}:unread:{${gone.userId}}`;
    const page = `${system.redisPrefix}:inbox:{${gone.userId}}`;
    expect((await service.call("DELETE", `/api/v1/users/${gone.userId}`)).status).toBe(200);
    // What such a read writes after the erasure's own cleanup: the erased page, at the old seq.
    await redis.set(counts, "7:2:2", "EX", 300);
    await redis.rpush(page, "7|0", JSON.stringify({ id: "x", title: "erased" }));
    await redis.expire(page, 300);
    await eventually(async () => ((await redis.exists(counts, page)) === 0 ? true : undefined), 15_000, "the raced cache entries dropped");
  });

  it("needs a service key with the notify scope, and a valid id", async () => {
    const userId = uniqueId("guarded");
    expect((await service.call("PUT", `/api/v1/users/${userId}`, { name: "Guarded" })).status).toBe(200);
    expect((await request(`${web1}/api/v1/users/${userId}`, { method: "DELETE" })).status).toBe(401);
    expect((await request(`${web1}/api/v1/users/${userId}/export`)).status).toBe(401);
    expect((await request(`${web1}/api/v1/users/${userId}`, { method: "DELETE", token: await service.token(userId) })).status).toBe(401);
    const bad = await request(`${web1}/api/v1/users/${"x".repeat(300)}`, { method: "DELETE", token: system.serviceKey });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    expect(bad.body.error.code).toBeDefined();
    expect((await db.query("SELECT count(*)::int AS n FROM users WHERE id = $1", [userId])).rows[0].n).toBe(1);
  });
});
