// The end-user API against the running system: listing, counts, state changes, changes, isolation.
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { eventually, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
afterAll(() => db.end());

/** A user with `n` notifications (one trigger each, so each has its own sortAt), newest first. */
async function userWithNotifications(n: number, type = "comment") {
  const userId = uniqueId("inbox");
  for (let i = 0; i < n; i++) {
    const reply = await service.trigger({ type, to: [userId], actor: { id: `a${i}`, name: `Actor ${i}` }, data: { excerpt: `message ${i}` } });
    expect(reply.status).toBe(202);
  }
  const token = await service.token(userId);
  const inbox = userClient(web1, token);
  await eventually(async () => ((await inbox.count()).body.count === n ? true : undefined), 15_000, `${n} notifications`);
  const all = (await inbox.list("?limit=100")).body.notifications;
  return { userId, token, inbox, ids: all.map((x) => x.id as string), all };
}

describe("listing", () => {
  it("orders by (sortAt desc, id desc) and pages with a cursor without gaps or repeats", async () => {
    const { inbox, ids } = await userWithNotifications(7);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const reply = await inbox.list(`?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(reply.status).toBe(200);
      seen.push(...reply.body.notifications.map((x) => x.id));
      cursor = reply.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(new Set(seen).size).toBe(7);
    const sortAts = (await inbox.list("?limit=100")).body.notifications.map((x) => x.sortAt);
    expect([...sortAts].sort().reverse()).toEqual(sortAts);
  });

  it("filters unread, archived, by type, by category and by search", async () => {
    const { inbox, ids, all } = await userWithNotifications(4);
    await inbox.post("/api/notifications/read", { ids: [ids[0]] });
    await inbox.post("/api/notifications/archive", { ids: [ids[1]] });
    const unread = (await inbox.list("?filter=unread")).body.notifications.map((x) => x.id);
    expect(unread).toEqual([ids[2], ids[3]]);
    const archived = (await inbox.list("?filter=archived")).body.notifications.map((x) => x.id);
    expect(archived).toEqual([ids[1]]);
    const allFilter = (await inbox.list("?filter=all")).body.notifications.map((x) => x.id);
    expect(allFilter).toEqual([ids[0], ids[2], ids[3]]);
    expect((await inbox.list("?type=comment")).body.notifications).toHaveLength(3);
    expect((await inbox.list("?type=like")).body.notifications).toHaveLength(0);
    expect((await inbox.list("?category=engagement")).body.notifications).toHaveLength(3);
    const searched = (await inbox.list(`?q=${encodeURIComponent(all[2]!.body)}`)).body.notifications.map((x) => x.id);
    expect(searched).toEqual([ids[2]]);
    expect((await inbox.list("?q=%25")).body.notifications).toHaveLength(0);
  });

  it("refuses bad query parameters with 422", async () => {
    const { inbox } = await userWithNotifications(1);
    for (const q of ["?limit=0", "?limit=101", "?filter=deleted", "?cursor=garbage", "?type=bad%20type"]) {
      const reply = await inbox.list(q);
      expect(reply.status, q).toBe(422);
      expect(reply.body.error?.code).toBe("validation_failed");
    }
  });
});

describe("state changes and counts", () => {
  it("moves unread and unseen counts by exactly what changed, never below zero", async () => {
    const { userId, inbox, ids } = await userWithNotifications(5);
    // The counts say which seq they reflect: 5 notifications, then one change.
    expect((await inbox.count()).body).toEqual({ count: 5, unseen: 5, seq: 5 });
    expect((await inbox.post("/api/notifications/seen", { ids: [ids[0], ids[1]] })).body).toEqual({ count: 2 });
    expect((await inbox.count()).body).toEqual({ count: 5, unseen: 3, seq: 6 });
    expect((await inbox.post("/api/notifications/read", { ids: [ids[0], ids[2]] })).body).toEqual({ count: 2 });
    expect((await inbox.count()).body).toMatchObject({ count: 3, unseen: 2 });
    // Reading again changes nothing.
    expect((await inbox.post("/api/notifications/read", { ids: [ids[0], ids[2]] })).body).toEqual({ count: 0 });
    expect((await inbox.post("/api/notifications/unread", { ids: [ids[0]] })).body).toEqual({ count: 1 });
    expect((await inbox.count()).body).toMatchObject({ count: 4, unseen: 2 });
    expect((await inbox.post("/api/notifications/archive", { ids: [ids[0], ids[3]] })).body).toEqual({ count: 2 });
    expect((await inbox.count()).body).toMatchObject({ count: 2, unseen: 1 });
    expect((await inbox.post("/api/notifications/unarchive", { ids: [ids[3]] })).body).toEqual({ count: 1 });
    expect((await inbox.count()).body).toMatchObject({ count: 3, unseen: 2 });
    // read-all reads the inbox: the archived unread one (ids[0]) stays unread in the archive.
    expect((await inbox.post("/api/notifications/read-all")).body).toEqual({ count: 3 });
    expect((await inbox.count()).body).toMatchObject({ count: 0, unseen: 0 });
    expect((await inbox.post("/api/notifications/read-all")).body).toEqual({ count: 0 });
    const { rows } = await db.query(
      `SELECT count(*) FILTER (WHERE read_at IS NULL AND archived_at IS NULL)::int AS unread,
              count(*) FILTER (WHERE seen_at IS NULL AND archived_at IS NULL)::int AS unseen FROM notifications WHERE user_id = $1`,
      [userId],
    );
    expect(rows[0]).toEqual({ unread: 0, unseen: 0 });
  });

  it("serves the count from PostgreSQL when the Redis entry is missing", async () => {
    const { userId, inbox, ids } = await userWithNotifications(3);
    await inbox.post("/api/notifications/read", { ids: [ids[0]] });
    const { Redis } = await import("ioredis");
    const redis = new Redis(system.redisUrl);
    expect(await redis.del(`${system.redisPrefix}:unread:{${userId}}`)).toBe(1);
    redis.disconnect();
    expect((await inbox.count()).body).toMatchObject({ count: 2, unseen: 2 });
  });

  it("records a click as clicked and read; another user's id is 404", async () => {
    const { inbox, ids } = await userWithNotifications(2);
    const clicked = await inbox.post(`/api/notifications/${ids[1]}/click`);
    expect(clicked.status).toBe(200);
    expect(clicked.body).toMatchObject({ id: ids[1], read: true, seen: true, clickedAt: expect.any(String) });
    expect((await inbox.count()).body).toMatchObject({ count: 1, unseen: 1 });
    const other = await userWithNotifications(1);
    const foreign = await inbox.post(`/api/notifications/${other.ids[0]}/click`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe("not_found");
    expect((await inbox.post("/api/notifications/not-a-uuid/click")).status).toBe(404);
  });

  it("refuses bad ids bodies with 422 and malformed JSON with 400", async () => {
    const { inbox } = await userWithNotifications(1);
    for (const op of ["read", "unread", "seen", "archive", "unarchive"]) {
      for (const body of [{}, { ids: [] }, { ids: ["nope"] }, { ids: "x" }, { ids: Array(1001).fill("01a200bd-9600-738b-a229-a400bdcf77ad") }]) {
        const reply = await inbox.post(`/api/notifications/${op}`, body);
        expect(reply.status, `${op} ${JSON.stringify(body).slice(0, 40)}`).toBe(422);
      }
    }
    const token = (await service.token(uniqueId("u")));
    const malformed = await request(`${web1}/api/notifications/read`, { method: "POST", token, rawBody: "{", headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
  });
});

describe("user tokens", () => {
  it("expire: an expired token is refused on REST and on the socket", async () => {
    const { SignJWT } = await import("jose");
    const user = uniqueId("expired");
    const minted = await service.call("POST", `/api/v1/users/${user}/token`, { ttlSeconds: 120 });
    expect(minted.status).toBe(200);
    const ttl = Date.parse(minted.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    const expired = await new SignJWT({ kind: "user" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(user)
      .setIssuer("notify")
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(system.authSecret));
    expect((await request(`${web1}/api/notifications`, { token: expired })).status).toBe(401);
    const { connectDevice } = await import("./client");
    await expect(connectDevice(web1, expired)).rejects.toThrow("unauthorized");
  });
});

describe("isolation", () => {
  it("never lets a user read or change another user's notifications", async () => {
    const owner = await userWithNotifications(3);
    const intruder = await userWithNotifications(1);
    for (const op of ["read", "unread", "seen", "archive", "unarchive"]) {
      const reply = await intruder.inbox.post(`/api/notifications/${op}`, { ids: owner.ids });
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ count: 0 });
    }
    // Mixed: only the caller's own id counts.
    expect((await intruder.inbox.post("/api/notifications/read", { ids: [...owner.ids, intruder.ids[0]] })).body).toEqual({ count: 1 });
    expect((await owner.inbox.count()).body).toMatchObject({ count: 3, unseen: 3 });
    const list = (await intruder.inbox.list("?limit=100")).body.notifications.map((x) => x.id);
    expect(list).toEqual(intruder.ids);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL", [owner.userId]);
    expect(rows[0].n).toBe(3);
  });
});

describe("changes", () => {
  it("replays every change after a seq, contiguously, and 410 when out of range", async () => {
    const { inbox, ids } = await userWithNotifications(3);
    await inbox.post("/api/notifications/read", { ids: [ids[0]] });
    await inbox.post("/api/notifications/archive", { ids: [ids[1]] });
    await inbox.post("/api/notifications/read-all");
    const all = await inbox.changes(0);
    expect(all.status).toBe(200);
    expect(all.body.lastSeq).toBe(6);
    expect(all.body.changes.map((c: { seq: number }) => c.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all.body.changes.map((c: { kind: string }) => c.kind)).toEqual(["new", "new", "new", "read", "archived", "read_all"]);
    // Two fan-out workers may store the three in either order: each has one `new` change.
    expect(all.body.changes.slice(0, 3).map((c: { notification: { id: string } }) => c.notification.id).sort()).toEqual([...ids].sort());
    expect(all.body.changes[3].ids).toEqual([ids[0]]);
    const tail = await inbox.changes(4);
    expect(tail.body.changes.map((c: { seq: number }) => c.seq)).toEqual([5, 6]);
    expect((await inbox.changes(6)).body).toEqual({ changes: [], lastSeq: 6, hasMore: false });
    const ahead = await inbox.changes(99);
    expect(ahead.status).toBe(410);
    expect(ahead.body.error.code).toBe("resync_required");
    expect((await request(`${web2}/api/notifications/changes?afterSeq=-1`, { token: await service.token(uniqueId("x")) })).status).toBe(422);
  });

  it("pages long change logs with hasMore", async () => {
    const { inbox } = await userWithNotifications(5);
    const first = await inbox.get("/api/notifications/changes?afterSeq=0&limit=2");
    expect(first.body).toMatchObject({ lastSeq: 2, hasMore: true });
    const second = await inbox.get("/api/notifications/changes?afterSeq=2&limit=2");
    expect(second.body.changes.map((c: { seq: number }) => c.seq)).toEqual([3, 4]);
    const last = await inbox.get("/api/notifications/changes?afterSeq=4&limit=2");
    expect(last.body).toMatchObject({ lastSeq: 5, hasMore: false });
  });

  it("answers 410 when the log no longer reaches back (pruned)", async () => {
    const { userId, inbox } = await userWithNotifications(3);
    await db.query("DELETE FROM notification_changes WHERE user_id = $1 AND seq <= 1", [userId]);
    expect((await inbox.changes(0)).status).toBe(410);
    expect((await inbox.changes(1)).status).toBe(200);
  });
});

describe("browser session", () => {
  it("exchanges a token for an httpOnly cookie, redirects only on-site, and enforces same-origin writes", async () => {
    const { token, ids } = await userWithNotifications(1);
    const form = (next: string) => new URLSearchParams({ token, next }).toString();
    const reply = await fetch(`${web1}/auth/session`, { method: "POST", body: form("/notifications"), headers: { "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    expect(reply.status).toBe(303);
    expect(reply.headers.get("location")).toBe("/notifications");
    const cookie = reply.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const evil = await fetch(`${web1}/auth/session`, { method: "POST", body: form("//evil.example"), headers: { "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    expect(evil.headers.get("location")).toBe("/");
    const bad = await fetch(`${web1}/auth/session`, { method: "POST", body: new URLSearchParams({ token: "forged" }).toString(), headers: { "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    expect(bad.status).toBe(401);

    const sessionCookie = cookie.split(";")[0]!;
    const list = await request(`${web1}/api/notifications`, { headers: { cookie: sessionCookie } });
    expect(list.status).toBe(200);
    expect(list.body.notifications).toHaveLength(1);
    const crossSite = await request(`${web1}/api/notifications/read`, { method: "POST", body: { ids }, headers: { cookie: sessionCookie, origin: "https://evil.example" } });
    expect(crossSite.status).toBe(403);
    const noOrigin = await request(`${web1}/api/notifications/read`, { method: "POST", body: { ids }, headers: { cookie: sessionCookie } });
    expect(noOrigin.status).toBe(403);
    const sameSite = await request(`${web1}/api/notifications/read`, { method: "POST", body: { ids }, headers: { cookie: sessionCookie, origin: web1 } });
    expect(sameSite.status).toBe(200);
    expect(sameSite.body).toEqual({ count: 1 });
    // The session cookie is not a bearer token.
    expect((await request(`${web1}/api/notifications`, { token: sessionCookie.split("=")[1] })).status).toBe(401);
  });

  it("refuses a cross-site sign-in and an oversized form", async () => {
    const { token } = await userWithNotifications(1);
    const crossSite = await fetch(`${web1}/auth/session`, {
      method: "POST",
      body: new URLSearchParams({ token }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      redirect: "manual",
    });
    expect(crossSite.status).toBe(403);
    const huge = await fetch(`${web1}/auth/session`, {
      method: "POST",
      body: new URLSearchParams({ token, pad: "x".repeat(300 * 1024) }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    expect(huge.status).toBe(413);
    const weird = await fetch(`${web1}/auth/session`, {
      method: "POST",
      body: new URLSearchParams({ token, next: "/ünïcode" }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    expect(weird.status).toBe(303);
    expect(weird.headers.get("location")).toBe("/");
  });
});

describe("demo mode off", () => {
  it("offers no demo sign-in and no event panel", async () => {
    const signIn = await fetch(`${web1}/auth/demo`, { method: "POST", body: new URLSearchParams({ userId: "alice" }).toString(), headers: { "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    expect(signIn.status).toBe(404);
    const { token } = await userWithNotifications(0);
    const events = await request(`${web1}/api/demo/events`, { method: "POST", token, body: { type: "like", to: "alice" } });
    expect(events.status).toBe(404);
    const landing = await (await fetch(`${web1}/`)).text();
    expect(landing).not.toContain("Sign in as");
  });
});
