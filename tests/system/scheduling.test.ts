// Time on the running system, with a controllable clock (TEST_CLOCK: every process reads an offset
// from Redis): sendAt survives a restart and fires on time, deferred deliveries are released when
// their window ends, expired notifications leave the inbox, a deleted trigger is cancelled and
// recalled, and an urgent trigger jumps a backlog. Its own system, so moving the clock disturbs no
// other test.
import pg from "pg";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connectDevice, eventually, request, serviceClient, uniqueId, userClient } from "./client";
import { startSystem, type System } from "./start-system";

let system: System;
let db: pg.Pool;
let redis: Redis;
let service: ReturnType<typeof serviceClient>;
let web: string;

beforeAll(async () => {
  system = await startSystem({ webNodes: 1, relays: 2, fanoutWorkers: 1, env: { TEST_CLOCK: "1", OUTBOX_POLL_MS: "200" } });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
  redis = new Redis(system.redisUrl);
  web = system.webUrls[0]!;
  service = serviceClient(web, system.serviceKey);
});

afterAll(async () => {
  await db?.end();
  redis?.disconnect();
  await system?.stop();
});

/** Moves every process's clock to real time + `ms` (processes pick it up within 100 ms). */
async function setClock(ms: number): Promise<void> {
  await redis.set(`${system.redisPrefix}:test-clock-offset-ms`, String(ms));
  await new Promise((r) => setTimeout(r, 300));
}

beforeEach(() => setClock(0));

async function completed(triggerId: string) {
  return eventually(async () => {
    const r = await service.status(triggerId);
    return r.body.status === "completed" ? r.body : undefined;
  }, 20_000);
}

describe("scheduling", () => {
  it("a sendAt trigger waits, survives a restart of every relay, and fires on time", async () => {
    const user = uniqueId("later");
    const sendAt = new Date(Date.now() + 4000);
    const reply = await service.trigger({ type: "system", to: [user], title: "Your report is ready", sendAt: sendAt.toISOString() });
    expect(reply.status).toBe(202);
    expect((await service.status(reply.body.id)).body).toMatchObject({ status: "accepted", sendAt: sendAt.toISOString() });
    // Every relay dies and comes back; the trigger is only in PostgreSQL.
    for (const relay of system.processes.filter((p) => p.name.startsWith("relay"))) {
      relay.child.kill("SIGKILL");
      await relay.exited;
    }
    await new Promise((r) => setTimeout(r, 1000));
    const inbox = userClient(web, await service.token(user));
    expect((await inbox.list()).body.notifications).toEqual([]);
    await system.startPart("relay");
    // On a loaded machine the new relay may only be up after sendAt: then "on time" counts from then.
    const relayUpAt = Date.now();
    const status = await completed(reply.body.id);
    const { rows } = await db.query("SELECT send_at, completed_at FROM triggers WHERE id = $1", [reply.body.id]);
    const sentAt = rows[0].completed_at.getTime();
    expect(sentAt - rows[0].send_at.getTime(), "never before sendAt").toBeGreaterThanOrEqual(0);
    const due = Math.max(rows[0].send_at.getTime(), relayUpAt);
    expect(sentAt - due, "fired within a poll or two of being due with a relay up").toBeLessThan(2000);
    expect(status.channels.in_app.sent).toBe(1);
    expect((await inbox.list()).body.notifications[0]?.title).toBe("Your report is ready");
  });

  it("a deferred delivery becomes queued when the quiet hours end", async () => {
    const user = uniqueId("sleeper");
    expect((await service.call("PUT", `/api/v1/users/${user}`, { email: `${user}@example.com` })).status).toBe(200);
    const token = await service.token(user);
    const end = new Date(Date.now() + 60 * 60_000);
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const put = await request(`${web}/api/preferences`, { method: "PUT", token, body: { quietHours: { start: hhmm(new Date(Date.now() - 60_000)), end: hhmm(end), timeZone: "UTC" } } });
    expect(put.status).toBe(200);
    const reply = await service.trigger({ type: "mention", to: [user], actor: { id: "a", name: "Ann" } });
    const first = await completed(reply.body.id);
    expect(first.channels.email).toMatchObject({ deferred: 1, queued: 0 });
    // Half an hour later: still deferred.
    await setClock(30 * 60_000);
    await new Promise((r) => setTimeout(r, 600));
    expect((await service.status(reply.body.id)).body.channels.email).toMatchObject({ deferred: 1 });
    // Past the end: released.
    await setClock(61 * 60_000);
    const released = await eventually(async () => {
      const s = (await service.status(reply.body.id)).body;
      return s.channels.email.queued === 1 ? s : undefined;
    }, 5000);
    expect(released.channels.email.deferred).toBe(0);
    // No push device: push was never deferred.
    expect(released.channels.push).toMatchObject({ suppressed: 1, queued: 0 });
  });

  it("an expired notification leaves the inbox and the counts, with a removed change the devices hear", async () => {
    const user = uniqueId("fleeting");
    const token = await service.token(user);
    const me = userClient(web, token);
    const keep = await service.trigger({ type: "system", to: [user], title: "Stays" });
    const flash = await service.trigger({ type: "system", to: [user], title: "Flash sale", expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    await completed(keep.body.id);
    await completed(flash.body.id);
    expect((await me.count()).body.count).toBe(2);
    const lastSeq = ((await me.list()).body as unknown as { lastSeq: number }).lastSeq;
    const device = await connectDevice(web, token);
    try {
      await setClock(2 * 3600_000);
      const removed = await device.waitFor("notifications:removed", () => true, 5000);
      expect(removed.seq).toBe(lastSeq + 1);
      expect((await me.list()).body.notifications.map((n: { title: string }) => n.title)).toEqual(["Stays"]);
      expect((await me.count()).body).toMatchObject({ count: 1, seq: lastSeq + 1 });
      const changes = (await me.changes(lastSeq)).body;
      expect(changes.changes).toEqual([expect.objectContaining({ kind: "removed", ids: removed.ids, seq: lastSeq + 1 })]);
    } finally {
      device.close();
    }
  });
});

describe("limits", () => {
  it("past a type's limit, what is held back waits in a window and an hour later one summary of it is queued", async () => {
    const key = uniqueId("limited");
    const type = { name: "Ping", category: "engagement", channels: ["in_app", "email"], limits: { perHour: 1 }, templates: { in_app: { title: "Ping", body: "" }, email: { subject: "Ping", html: "<p>Ping</p>" } } };
    expect((await request(`${web}/api/v1/admin/types/${key}`, { method: "PUT", token: system.serviceKey, body: type })).status).toBe(200);
    const user = uniqueId("pinged");
    expect((await service.call("PUT", `/api/v1/users/${user}`, { email: `${user}@example.com` })).status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await service.trigger({ type: key, to: [user] });
      await completed(reply.body.id);
      ids.push(reply.body.id);
    }
    const email = async (id: string) =>
      (await db.query("SELECT status, reason, batch_id FROM deliveries WHERE trigger_id = $1 AND channel = 'email'", [id])).rows[0] as { status: string; reason: string | null; batch_id: string | null };
    expect(await email(ids[0]!)).toMatchObject({ status: "queued", batch_id: null });
    const [second, third] = [await email(ids[1]!), await email(ids[2]!)];
    expect(second).toMatchObject({ status: "batched", reason: "rate_limited" });
    expect(third).toMatchObject({ status: "batched", reason: "rate_limited", batch_id: second.batch_id });
    expect(second.batch_id).not.toBeNull();
    // Nothing goes out before the window's hour is over; then the newest carries the summary.
    await setClock(30 * 60_000);
    await new Promise((r) => setTimeout(r, 600));
    expect((await email(ids[2]!)).status).toBe("batched");
    await setClock(61 * 60_000);
    await eventually(async () => ((await email(ids[2]!)).status === "queued" ? true : undefined), 10_000, "summary queued");
    expect(await email(ids[1]!)).toMatchObject({ status: "batched", reason: "in_summary" });
    // The summary's trigger is recalled before it went out: the next newest takes the summary over.
    expect((await service.call("DELETE", `/api/v1/notifications/${ids[2]}`)).status).toBe(200);
    expect(await email(ids[2]!)).toMatchObject({ status: "suppressed", reason: "cancelled" });
    expect(await email(ids[1]!)).toMatchObject({ status: "queued", reason: null });
  });
});

describe("email digests", () => {
  it("a daily digest goes out at the next digest hour with everything since, once", async () => {
    const user = uniqueId("digest");
    expect((await service.call("PUT", `/api/v1/users/${user}`, { name: "Dee", email: `${user}@example.com`, timezone: "UTC" })).status).toBe(200);
    const token = await service.token(user);
    expect((await request(`${web}/api/preferences`, { method: "PUT", token, body: { emailFrequency: "daily" } })).status).toBe(200);
    const first = await service.trigger({ type: "comment", to: [user], actor: { id: "a", name: "Ann" }, data: { excerpt: "one" } });
    const second = await service.trigger({ type: "mention", to: [user], actor: { id: "b", name: "Ben" }, data: { excerpt: "two" } });
    const status = await completed(first.body.id);
    expect(status.outcomes.find((o: { channel: string }) => o.channel === "email")).toMatchObject({ status: "batched", reason: "digest" });
    await completed(second.body.id);
    const digests = async () => (await db.query("SELECT subject, html, text FROM local_outbox WHERE user_id = $1 AND channel = 'digest'", [user])).rows;
    await new Promise((r) => setTimeout(r, 600));
    expect(await digests(), "not before the digest hour").toEqual([]);
    // To one minute past the next 08:00 UTC.
    const next = new Date();
    next.setUTCHours(8, 1, 0, 0);
    if (next.getTime() <= Date.now()) next.setUTCDate(next.getUTCDate() + 1);
    await setClock(next.getTime() - Date.now());
    const sent = await eventually(async () => {
      const rows = await digests();
      return rows.length === 1 ? rows[0] : undefined;
    }, 5000);
    expect(sent.subject).toBe("Your daily digest: 2 new notifications");
    expect(sent.text).toContain("Ann commented on your post: one");
    expect(sent.text).toContain("Ben mentioned you: two");
    const { rows } = await db.query("SELECT status, reason FROM deliveries WHERE user_id = $1 AND channel = 'email'", [user]);
    expect(rows).toEqual([
      { status: "sent", reason: "digest" },
      { status: "sent", reason: "digest" },
    ]);
    // Another event now waits for tomorrow's digest.
    await completed((await service.trigger({ type: "comment", to: [user], actor: { id: "c", name: "Cy" } })).body.id);
    await new Promise((r) => setTimeout(r, 600));
    expect(await digests()).toHaveLength(1);
  });
});

describe("cancelling and recalling", () => {
  it("DELETE recalls a sent trigger from every inbox and cancels what is still pending", async () => {
    const users = [uniqueId("r1"), uniqueId("r2"), uniqueId("r3")];
    for (const u of users) expect((await service.call("PUT", `/api/v1/users/${u}`, { email: `${u}@example.com` })).status).toBe(200);
    const reply = await service.trigger({ type: "comment", to: users, actor: { id: "a", name: "Ann" } });
    await completed(reply.body.id);
    const token = await service.token(users[0]!);
    const device = await connectDevice(web, token);
    try {
      const recalled = await service.call("DELETE", `/api/v1/notifications/${reply.body.id}`);
      expect(recalled.status).toBe(200);
      // 3 emails were still queued (no channel worker runs here); push had no device to go to.
      expect(recalled.body).toEqual({ cancelled: 3, removed: 3 });
      await device.waitFor("notifications:removed", () => true, 5000);
      for (const u of users) {
        const inbox = userClient(web, await service.token(u));
        expect((await inbox.list()).body.notifications).toEqual([]);
        expect((await inbox.count()).body.count).toBe(0);
      }
      const status = (await service.status(reply.body.id)).body;
      expect(status.channels.email).toMatchObject({ suppressed: 3, queued: 0 });
      expect(status.outcomes.find((o: { channel: string }) => o.channel === "email")).toMatchObject({ status: "suppressed", reason: "cancelled" });
      expect((await service.call("DELETE", `/api/v1/notifications/${reply.body.id}`)).body).toEqual({ cancelled: 0, removed: 0 });
    } finally {
      device.close();
    }
    expect((await service.call("DELETE", "/api/v1/notifications/01890000-0000-7000-8000-000000000000")).status).toBe(404);
  });

  it("a scheduled trigger that is deleted never fires", async () => {
    const user = uniqueId("never");
    const reply = await service.trigger({ type: "system", to: [user], title: "Soon", sendAt: new Date(Date.now() + 1500).toISOString() });
    expect((await service.call("DELETE", `/api/v1/notifications/${reply.body.id}`)).body).toEqual({ cancelled: 1, removed: 0 });
    await new Promise((r) => setTimeout(r, 2500));
    expect((await service.status(reply.body.id)).body.status).toBe("cancelled");
    expect((await userClient(web, await service.token(user)).list()).body.notifications).toEqual([]);
  });
});

describe("priority", () => {
  it("an urgent trigger is fanned out before a backlog of low ones", async () => {
    // No fan-out worker while the backlog builds up.
    for (const worker of system.processes.filter((p) => p.name.startsWith("fanout") && p.child.exitCode === null)) {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
    const low: string[] = [];
    for (let i = 0; i < 60; i++) low.push((await service.trigger({ type: "like", to: [uniqueId("fan")], priority: "low" })).body.id as string);
    const urgent = (await service.trigger({ type: "system", to: [uniqueId("oncall")], title: "Server down", priority: "urgent" })).body.id as string;
    await system.startPart("fanout", { FANOUT_CONCURRENCY: "1" });
    await completed(urgent);
    await eventually(async () => ((await db.query("SELECT count(*)::int AS n FROM triggers WHERE id = ANY($1) AND status = 'completed'", [low])).rows[0].n === 60 ? true : undefined), 30_000);
    const { rows } = await db.query("SELECT id, completed_at FROM triggers WHERE id = ANY($1) ORDER BY completed_at", [[...low, urgent]]);
    expect(rows[0].id, "the urgent one went first").toBe(urgent);
  });
});
