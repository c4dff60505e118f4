// The service API against the running system: auth, triggers, bad input, idempotency, topics, status.
import { execFileSync } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });

afterAll(() => db.end());

/** Runs the service-keys CLI against the test database. */
const runKeys = (...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", "scripts/service-keys.ts", ...args], {
    env: { ...process.env, DATABASE_URL: system.databaseUrl, LOG_LEVEL: "warn" },
    encoding: "utf8",
  });

async function countRows(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, params);
  return rows[0]!.n;
}

describe("authentication", () => {
  it("refuses a missing or wrong service key with 401 and the error body", async () => {
    for (const token of [undefined, "wrong-key-wrong-key"]) {
      const reply = await request(`${web1}/api/v1/notifications`, { method: "POST", token, body: { type: "comment", to: ["x"] } });
      expect(reply.status).toBe(401);
      expect(reply.body.error.code).toBe("unauthorized");
      expect(typeof reply.body.error.message).toBe("string");
    }
  });

  it("refuses a user token on the service API", async () => {
    const token = await service.token(uniqueId("u"));
    const reply = await request(`${web1}/api/v1/notifications`, { method: "POST", token, body: { type: "comment", to: ["x"] } });
    expect(reply.status).toBe(401);
  });

  it("refuses the end-user API without a token, with a tampered token and with a service key", async () => {
    const token = await service.token(uniqueId("u"));
    const tampered = `${token.slice(0, -3)}${token.endsWith("a") ? "b" : "a"}xx`;
    for (const t of [undefined, tampered, system.serviceKey]) {
      const reply = await request(`${web1}/api/notifications`, { token: t });
      expect(reply.status).toBe(401);
      expect(reply.body.error.code).toBe("unauthorized");
    }
  });
});

describe("triggers", () => {
  it("accepts a trigger with 202, stores it durably and delivers it to every recipient", async () => {
    const alice = uniqueId("alice");
    const bob = uniqueId("bob");
    const reply = await service.trigger({
      type: "comment",
      to: [alice, bob, alice],
      actor: { id: "john", name: "John" },
      target: { type: "post", id: "post-1", url: "/posts/1" },
      data: { excerpt: "Looks great" },
      actions: [{ id: "open", label: "Open", kind: "navigate", url: "/posts/1" }],
    });
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({ id: expect.any(String), status: "accepted", recipients: 2 });
    expect(reply.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await countRows("SELECT 1 FROM triggers WHERE id = $1", [reply.body.id])).toBe(1);

    const inbox = userClient(web2, await service.token(alice));
    const page = await eventually(async () => {
      const r = await inbox.list();
      return r.body.notifications.length > 0 ? r.body : undefined;
    });
    expect(page.notifications).toHaveLength(1);
    const n = page.notifications[0];
    expect(n).toMatchObject({
      type: "comment",
      category: "engagement",
      priority: "normal",
      title: "John commented on your post",
      body: "Looks great",
      read: false,
      seen: false,
      archived: false,
      seq: 1,
      actorCount: 1,
      target: { type: "post", id: "post-1", url: "/posts/1" },
    });
    // createdAt is the trigger's acceptance time, for every recipient.
    const { rows } = await db.query("SELECT DISTINCT created_at FROM notifications WHERE trigger_id = $1", [reply.body.id]);
    expect(rows).toHaveLength(1);
    const status = await eventually(async () => {
      const r = await service.status(reply.body.id);
      return r.body.status === "completed" ? r.body : undefined;
    });
    expect(status.recipients).toBe(2);
    expect(status.channels.in_app.sent).toBe(2);
    type Outcome = { userId: string; channel: string; status: string; reason?: string };
    const byChannel = (channel: string) => (status.outcomes as Outcome[]).filter((o) => o.channel === channel);
    expect(byChannel("in_app").map((o) => o.userId).sort()).toEqual([alice, bob].sort());
    // `comment` also names push and email: neither user has a push device or an email address.
    expect(status.channels.push).toMatchObject({ suppressed: 2, queued: 0 });
    expect(status.channels.email).toMatchObject({ suppressed: 2, queued: 0 });
    expect(byChannel("email").map((o) => [o.status, o.reason])).toEqual([
      ["suppressed", "no_address"],
      ["suppressed", "no_address"],
    ]);
  });

  it("creates unknown recipients on the fly", async () => {
    const newcomer = uniqueId("new");
    const reply = await service.trigger({ type: "system", to: [newcomer], title: "Welcome", body: "Hello" });
    expect(reply.status).toBe(202);
    await eventually(async () => ((await countRows("SELECT 1 FROM notifications WHERE user_id = $1", [newcomer])) === 1 ? true : undefined));
    expect(await countRows("SELECT 1 FROM users WHERE id = $1", [newcomer])).toBe(1);
  });

  it("delivers a topic trigger to every subscriber, and reports the topic size", async () => {
    const topic = uniqueId("followers");
    const users = Array.from({ length: 25 }, (_, i) => uniqueId(`f${i}`));
    const sub = await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: users });
    expect(sub.status).toBe(200);
    expect(sub.body).toEqual({ added: 25 });
    const again = await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: users.slice(0, 5) });
    expect(again.body).toEqual({ added: 0 });
    const removed = await service.call("DELETE", `/api/v1/topics/${topic}/subscribers`, { userIds: [users[0]] });
    expect(removed.body).toEqual({ removed: 1 });
    const reply = await service.trigger({ type: "follow", to: { topic }, actor: { id: "star", name: "Star" } });
    expect(reply.status).toBe(202);
    expect(reply.body.recipients).toBe(24);
    await eventually(async () => ((await countRows("SELECT 1 FROM notifications WHERE trigger_id = $1", [reply.body.id])) === 24 ? true : undefined));
    expect(await countRows("SELECT 1 FROM notifications WHERE user_id = $1", [users[0]])).toBe(0);
  });

  it("subscribes overlapping sets in opposite orders at once without a deadlock", async () => {
    const topic = uniqueId("race");
    const users = Array.from({ length: 200 }, (_, i) => uniqueId(`r${i}`));
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) => service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: i % 2 ? [...users].reverse() : users })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(replies.reduce((sum, r) => sum + r.body.added, 0)).toBe(200);
    const removals = await Promise.all(
      Array.from({ length: 4 }, (_, i) => service.call("DELETE", `/api/v1/topics/${topic}/subscribers`, { userIds: i % 2 ? [...users].reverse() : users })),
    );
    expect(removals.map((r) => r.status)).toEqual(Array(4).fill(200));
    expect(removals.reduce((sum, r) => sum + r.body.removed, 0)).toBe(200);
  });

  it("upserts users with validation", async () => {
    const id = uniqueId("profile");
    const created = await service.call("PUT", `/api/v1/users/${id}`, { name: "Pat", email: "pat@example.com", timezone: "Europe/Berlin", role: "admin" });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ id, name: "Pat", email: "pat@example.com", timezone: "Europe/Berlin", role: "admin" });
    const updated = await service.call("PUT", `/api/v1/users/${id}`, { name: null, locale: "de-DE" });
    expect(updated.body).toMatchObject({ name: null, email: "pat@example.com", locale: "de-DE" });
    const bad = await service.call("PUT", `/api/v1/users/${id}`, { email: "not-an-email", timezone: "Mars/Olympus", phone: "123" });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(["email", "phone", "timezone"]);
    const badId = await service.call("PUT", `/api/v1/users/${encodeURIComponent("bad id!")}`, { name: "x" });
    expect(badId.status).toBe(422);
    // Ids may hold @ : . - _ ; encoded or not in the path, they arrive decoded.
    const special = `${uniqueId("mail")}@example.com:team_1.x`;
    for (const path of [encodeURIComponent(special), special]) {
      const reply = await service.call("PUT", `/api/v1/users/${path}`, { name: "Special" });
      expect(reply.status).toBe(200);
      expect(reply.body.id).toBe(special);
    }
    const token = await service.token(special);
    expect((await userClient(web2, token).count()).status).toBe(200);
  });
});

describe("bad input is refused and nothing is stored", () => {
  // A key of its own, so triggers from tests running in parallel do not count.
  let key: { id: string; key: string };
  beforeAll(() => {
    key = JSON.parse(runKeys("create", "--name", "bad-input", "--scopes", "notify")) as { id: string; key: string };
  });
  const triggersCount = () => countRows("SELECT 1 FROM triggers WHERE service_key_id = $1", [key.id]);

  const cases: [string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, string][] = [
    ["malformed JSON", { raw: '{"type": "comment", "to": [' }, 400, "invalid_json"],
    ["an empty body", { raw: "" }, 400, "invalid_json"],
    ["a body that is not an object", { body: [1, 2] }, 422, "validation_failed"],
    ["a missing type", { body: { to: ["u1"] } }, 422, "validation_failed"],
    ["missing recipients", { body: { type: "comment" } }, 422, "validation_failed"],
    ["wrong types", { body: { type: "comment", to: "u1", priority: "asap", data: [] } }, 422, "validation_failed"],
    ["an unknown type", { body: { type: "no-such-type", to: ["u1"] } }, 422, "unknown_type"],
    ["a bad recipient id", { body: { type: "comment", to: ["good", "bad id with spaces"] } }, 422, "validation_failed"],
    ["a javascript: url", { body: { type: "comment", to: ["u1"], target: { type: "post", id: "1", url: "javascript:alert(1)" } } }, 422, "validation_failed"],
    ["a data: action url", { body: { type: "comment", to: ["u1"], actions: [{ id: "a", label: "A", kind: "navigate", url: "data:text/html,hi" }] } }, 422, "validation_failed"],
    ["an http: url", { body: { type: "comment", to: ["u1"], target: { type: "post", id: "1", url: "http://evil.example/x" } } }, 422, "validation_failed"],
    ["a protocol-relative url", { body: { type: "comment", to: ["u1"], target: { type: "post", id: "1", url: "//evil.example/x" } } }, 422, "validation_failed"],
    ["an unknown field", { body: { type: "comment", to: ["u1"], colour: "red" } }, 422, "validation_failed"],
    ["a system trigger without a title", { body: { type: "system", to: ["u1"] } }, 422, "validation_failed"],
    ["expiresAt in the past", { body: { type: "comment", to: ["u1"], expiresAt: "2001-01-01T00:00:00Z" } }, 422, "validation_failed"],
    ["more than 10,000 recipients", { body: { type: "comment", to: Array.from({ length: 10_001 }, (_, i) => `u${i}`) } }, 422, "validation_failed"],
    ["a body over 256 KiB", { body: { type: "comment", to: ["u1"], data: { blob: "x".repeat(270 * 1024) } } }, 413, "payload_too_large"],
    ["a non-JSON content type", { raw: "type=comment", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "unsupported_media_type"],
  ];

  it.each(cases)("%s", async (_name, input, status, code) => {
    const before = await triggersCount();
    const reply = await request(`${web1}/api/v1/notifications`, {
      method: "POST",
      token: key.key,
      body: input.body,
      rawBody: input.raw,
      headers: { ...(input.raw !== undefined ? { "content-type": "application/json" } : {}), ...input.headers },
    });
    expect(reply.status).toBe(status);
    expect(reply.body.error.code).toBe(code);
    expect(reply.body.error.message).toEqual(expect.any(String));
    if (status === 422 && code === "validation_failed") expect(reply.body.error.details.length).toBeGreaterThan(0);
    expect(JSON.stringify(reply.body)).not.toMatch(/at .*\.js:\d+/);
    expect(await triggersCount()).toBe(before);
  });

  it("names each bad field in details", async () => {
    const reply = await service.trigger({ type: "comment", to: ["ok", "not ok"], priority: "asap", channels: ["pigeon"] });
    expect(reply.status).toBe(422);
    const fields = reply.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(["to.1", "priority", "channels.0"]));
  });

  it("accepts exactly 10,000 recipients", async () => {
    const to = Array.from({ length: 10_000 }, (_, i) => uniqueId(`bulk${i}`));
    const reply = await service.trigger({ type: "like", to });
    expect(reply.status).toBe(202);
    expect(reply.body.recipients).toBe(10_000);
    // Several chunks of explicit recipients, every one created on the fly and notified once.
    await eventually(async () => ((await countRows("SELECT 1 FROM notifications WHERE trigger_id = $1", [reply.body.id])) === 10_000 ? true : undefined), 30_000);
    expect(await countRows("SELECT 1 FROM users WHERE id = ANY($1::text[]) AND last_seq = 1 AND unread_count = 1", [to])).toBe(10_000);
    // The status lists outcomes 1,000 at a time.
    const page1 = await eventually(async () => {
      const r = await service.status(reply.body.id);
      return r.body.status === "completed" ? r.body : undefined;
    });
    expect(page1.channels.in_app).toMatchObject({ sent: 10_000, queued: 0 });
    expect(page1.outcomes).toHaveLength(1000);
    const page2 = await service.call("GET", `/api/v1/notifications/${reply.body.id}?cursor=${encodeURIComponent(page1.nextCursor)}`);
    expect(page2.body.outcomes).toHaveLength(1000);
    // Ordered by (user, channel): the second page starts after the first one ends.
    const key = (o: { userId: string; channel: string }) => `${o.userId}\u0000${o.channel}`;
    expect(key(page2.body.outcomes[0]) > key(page1.outcomes[999])).toBe(true);
    // `like` also names push: every recipient has a push decision (none has a device).
    expect(page1.channels.push).toMatchObject({ suppressed: 10_000 });
  });
});

describe("idempotency", () => {
  const body = () => ({ type: "system", to: [uniqueId("idem")], title: "Once", body: "Only once" });

  it("replays the first response for the same key and body, and creates nothing new", async () => {
    const key = uniqueId("key");
    const payload = body();
    const first = await service.trigger(payload, { "idempotency-key": key });
    // Same body with keys in another order: compared as canonical JSON.
    const reordered = Object.fromEntries(Object.entries(payload).reverse());
    const second = await request(`${web2}/api/v1/notifications`, { method: "POST", token: system.serviceKey, body: reordered, headers: { "idempotency-key": key } });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(await countRows("SELECT 1 FROM triggers WHERE recipient_ids = $1", [payload.to])).toBe(1);
  });

  it("answers 409 for the same key with another body", async () => {
    const key = uniqueId("key");
    const first = await service.trigger(body(), { "idempotency-key": key });
    const second = await service.trigger(body(), { "idempotency-key": key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("conflict");
  });

  it("creates one trigger when identical requests arrive at once on two nodes", async () => {
    const key = uniqueId("key");
    const payload = body();
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(`${i % 2 ? web2 : web1}/api/v1/notifications`, { method: "POST", token: system.serviceKey, body: payload, headers: { "idempotency-key": key } }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(202));
    expect(new Set(replies.map((r) => r.body.id)).size).toBe(1);
    expect(await countRows("SELECT 1 FROM triggers WHERE recipient_ids = $1", [payload.to])).toBe(1);
  });

  it("answers a replay from the stored response before validating, and 409 for another body even if invalid", async () => {
    const key = uniqueId("key");
    const payload = { ...body(), expiresAt: new Date(Date.now() + 4000).toISOString() };
    const first = await service.trigger(payload, { "idempotency-key": key });
    expect(first.status).toBe(202);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(payload.expiresAt) - Date.now() + 200)));
    // expiresAt is in the past now: a fresh request would be 422, the replay is the first answer.
    const replay = await service.trigger(payload, { "idempotency-key": key });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    const other = await service.trigger({ type: "nope" }, { "idempotency-key": key });
    expect(other.status).toBe(409);
  });

  it("refuses an over-long key", async () => {
    const reply = await service.trigger(body(), { "idempotency-key": "k".repeat(256) });
    expect(reply.status).toBe(422);
  });

  it("does not keep the key of a refused request", async () => {
    const key = uniqueId("key");
    const bad = await service.trigger({ type: "no-such-type", to: ["x"] }, { "idempotency-key": key });
    expect(bad.status).toBe(422);
    const good = await service.trigger(body(), { "idempotency-key": key });
    expect(good.status).toBe(202);
  });
});

describe("trigger status", () => {
  it("is 404 for an unknown or malformed id", async () => {
    expect((await service.status("01a200bd-9600-738b-a229-a400bdcf77ad")).status).toBe(404);
    expect((await service.status("nope")).status).toBe(404);
  });
});

beforeAll(async () => {
  const health = await request(`${web1}/api/health`);
  expect(health.body).toEqual({ ok: true, db: "up", redis: "up" });
});

describe("service keys from the database", () => {

  it("stores only a hash, honours scopes, and stops working when revoked", async () => {
    const notifyKey = JSON.parse(runKeys("create", "--name", "billing", "--scopes", "notify")) as { id: string; key: string };
    const adminKey = JSON.parse(runKeys("create", "--name", "ops", "--scopes", "admin")) as { id: string; key: string };
    expect(notifyKey.key).toMatch(/^nsk_/);
    const { rows } = await db.query("SELECT key_hash, prefix FROM service_keys WHERE id = $1", [notifyKey.id]);
    expect(rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(notifyKey.key);

    const trigger = { type: "system", to: [uniqueId("k")], title: "Keyed" };
    const accepted = await request(`${web1}/api/v1/notifications`, { method: "POST", token: notifyKey.key, body: trigger });
    expect(accepted.body).toMatchObject({ status: "accepted" });
    const forbidden = await request(`${web1}/api/v1/notifications`, { method: "POST", token: adminKey.key, body: trigger });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("forbidden");

    expect(runKeys("revoke", notifyKey.id)).toContain("revoked");
    // Nodes cache a looked-up key for up to 10 s; a node that never saw it refuses it at once.
    const refused = await request(`${web2}/api/v1/notifications`, { method: "POST", token: notifyKey.key, body: trigger });
    expect(refused.status).toBe(401);
    expect(runKeys("list")).toMatch(/billing .*revoked/);
  });
});

describe("types without a template", () => {
  it("takes title and body from the trigger; a title alone is enough, a body alone is not", async () => {
    const user = uniqueId("sys");
    expect((await service.trigger({ type: "system", to: [user], title: "Maintenance tonight" })).status).toBe(202);
    const noTitle = await service.trigger({ type: "system", to: [user], body: "no title" });
    expect(noTitle.status).toBe(422);
    expect(noTitle.body.error.details).toEqual([{ field: "title", message: "is required for this type" }]);
    const inbox = userClient(web1, await service.token(user));
    const page = await eventually(async () => {
      const r = await inbox.list();
      return r.body.notifications.length === 1 ? r.body : undefined;
    });
    expect(page.notifications[0]).toMatchObject({ type: "system", category: "system", title: "Maintenance tonight", body: "" });
  });
});

describe("fields stored for the routing release", () => {
  it("validates and stores channels, priority, sendAt and expiresAt, and refuses channels the type does not use", async () => {
    const user = uniqueId("fields");
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    const expiresAt = new Date(Date.now() + 7_200_000).toISOString();
    const reply = await service.trigger({ type: "comment", to: [user], channels: ["in_app", "email"], priority: "urgent", sendAt, expiresAt });
    expect(reply.status).toBe(202);
    const { rows } = await db.query("SELECT channels, priority, send_at, expires_at FROM triggers WHERE id = $1", [reply.body.id]);
    expect(rows[0]).toEqual({ channels: ["in_app", "email"], priority: "urgent", send_at: new Date(sendAt), expires_at: new Date(expiresAt) });
    // sendAt holds it (tests/system/scheduling.test.ts shows it firing); the same without sendAt arrives now.
    expect((await service.status(reply.body.id)).body).toMatchObject({ status: "accepted", sendAt });
    const now = await service.trigger({ type: "comment", to: [user], channels: ["in_app", "email"], priority: "urgent", expiresAt });
    expect(now.status).toBe(202);
    const inbox = userClient(web1, await service.token(user));
    const page = await eventually(async () => {
      const r = await inbox.list();
      return r.body.notifications.length === 1 ? r.body : undefined;
    });
    expect(page.notifications[0]).toMatchObject({ priority: "urgent", expiresAt });
    const defaults = await service.trigger({ type: "like", to: [user] });
    const { rows: d } = await db.query("SELECT channels, priority FROM triggers WHERE id = $1", [defaults.body.id]);
    expect(d[0]).toEqual({ channels: ["in_app", "push"], priority: "low" });
    const sms = await service.trigger({ type: "like", to: [user], channels: ["sms"] });
    expect(sms.status).toBe(422);
    expect(sms.body.error.details[0].field).toBe("channels");
    // Scheduled further ahead than notifications are kept (RETENTION_DELETE_DAYS, 365): refused, nothing stored.
    const far = await service.trigger({ type: "like", to: [user], sendAt: new Date(Date.now() + 400 * 86_400_000).toISOString() });
    expect(far.status).toBe(422);
    expect(far.body.error).toMatchObject({ code: "validation_failed", details: [{ field: "sendAt", message: "must be within 365 days" }] });
    const { rows: stored } = await db.query("SELECT count(*)::int AS n FROM triggers WHERE $1 = ANY(recipient_ids)", [user]);
    expect(stored[0].n).toBe(3);
  });

  it("scopes Idempotency-Key to the service key", async () => {
    const other = JSON.parse(runKeys("create", "--name", "idem-scope", "--scopes", "notify")) as { key: string };
    const key = uniqueId("shared-key");
    const payload = { type: "system", to: [uniqueId("scope")], title: "Scoped" };
    const a = await service.trigger(payload, { "idempotency-key": key });
    const b = await request(`${web1}/api/v1/notifications`, { method: "POST", token: other.key, body: payload, headers: { "idempotency-key": key } });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).not.toBe(a.body.id);
  });
});

describe("bad input on every service endpoint", () => {
  const topic = "bad-input-topic";
  const cases: [string, string, string, unknown, number][] = [
    ["PUT", "/api/v1/users/u1", "malformed", "{", 400],
    ["PUT", "/api/v1/users/u1", "unknown field", { nickname: "x" }, 422],
    ["PUT", "/api/v1/users/u1", "oversized", { name: "x".repeat(300 * 1024) }, 413],
    ["POST", "/api/v1/users/u1/token", "ttl too short", { ttlSeconds: 1 }, 422],
    ["POST", "/api/v1/users/u1/token", "ttl not a number", { ttlSeconds: "long" }, 422],
    ["POST", "/api/v1/users/bad%20id/token", "bad user id", {}, 422],
    ["PUT", `/api/v1/topics/${topic}/subscribers`, "too many users", { userIds: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, 422],
    ["PUT", `/api/v1/topics/${topic}/subscribers`, "bad user id", { userIds: ["ok", "not ok"] }, 422],
    ["PUT", `/api/v1/topics/${topic}/subscribers`, "no users", { userIds: [] }, 422],
    ["PUT", "/api/v1/topics/bad%20topic/subscribers", "bad topic key", { userIds: ["a"] }, 422],
    ["DELETE", `/api/v1/topics/${topic}/subscribers`, "malformed", "{", 400],
  ];

  it.each(cases)("%s %s: %s → %d", async (method, path, _name, body, status) => {
    const reply = await request(`${web1}${path}`, {
      method,
      token: system.serviceKey,
      ...(typeof body === "string" ? { rawBody: body, headers: { "content-type": "application/json" } } : { body }),
    });
    expect(reply.status).toBe(status);
    expect(reply.body.error.code).toEqual(expect.any(String));
    expect(await countRows("SELECT 1 FROM topic_subscriptions WHERE topic_key = $1", [topic])).toBe(0);
    expect(await countRows("SELECT 1 FROM users WHERE id IN ('u1', 'ok', 'a')", [])).toBe(0);
  });

  it("refuses every service endpoint without the notify scope", async () => {
    const adminOnly = JSON.parse(runKeys("create", "--name", "admin-only", "--scopes", "admin")) as { key: string };
    for (const [method, path, body] of [
      ["PUT", "/api/v1/users/u1", { name: "x" }],
      ["POST", "/api/v1/users/u1/token", {}],
      ["PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: ["a"] }],
      ["GET", "/api/v1/notifications/01a200bd-9600-738b-a229-a400bdcf77ad", undefined],
    ] as const) {
      const reply = await request(`${web1}${path}`, { method, token: adminOnly.key, body });
      expect(reply.status, `${method} ${path}`).toBe(403);
    }
  });
});

