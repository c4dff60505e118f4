// Preferences and the decision to send, on the running system: the preferences API, and how a
// user's choices, quiet hours, DND and a type's limits show up in the next trigger's outcomes.
import { afterAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { connectDevice, eventually, pushSubscription, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
afterAll(() => db.end());

type Outcome = { userId: string; channel: string; status: string; reason?: string; deliverAt?: string };

async function userWithEmail(prefix: string, profile: Record<string, unknown> = {}) {
  const userId = uniqueId(prefix);
  expect((await service.call("PUT", `/api/v1/users/${userId}`, { email: `${userId}@example.com`, phone: "+4915112345678", ...profile })).status).toBe(200);
  const token = await service.token(userId);
  // A browser with web push (no channel worker runs here: nothing is sent to it).
  expect((await request(`${web1}/api/push-subscriptions`, { method: "POST", token, body: pushSubscription().subscription })).status).toBe(201);
  return { userId, token, me: userClient(web1, token) };
}

const put = (token: string, body: unknown) => request(`${web1}/api/preferences`, { method: "PUT", token, body });

/** Triggers and waits for the fan-out to complete; the outcomes by channel. */
async function outcomesOf(body: Record<string, unknown>): Promise<Record<string, Outcome>> {
  const reply = await service.trigger(body);
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  const status = await eventually(async () => {
    const r = await service.status(reply.body.id);
    return r.body.status === "completed" ? r.body : undefined;
  });
  return Object.fromEntries((status.outcomes as Outcome[]).map((o) => [o.channel, o]));
}

/** HH:MM in UTC, `minutes` from now. */
function utcClock(minutes: number): string {
  return new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16);
}

describe("preferences API", () => {
  it("starts from the defaults, merges partial updates, and returns the whole", async () => {
    const { token } = await userWithEmail("prefs");
    const initial = await request(`${web1}/api/preferences`, { token });
    expect(initial.status).toBe(200);
    expect(initial.body).toEqual({
      channels: { in_app: true, push: true, email: true, sms: false },
      categories: {},
      types: {},
      quietHours: null,
      dndUntil: null,
      emailFrequency: "instant",
    });
    expect((await put(token, { types: { comment: { email: false } } })).body.types).toEqual({ comment: { email: false } });
    const second = await put(token, { channels: { sms: true }, types: { comment: { push: false } }, quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Berlin" } });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ channels: { sms: true, email: true }, types: { comment: { email: false, push: false } }, quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Berlin" } });
    // null puts one setting back to its default; a later GET sees the same.
    const third = await put(token, { types: { comment: { email: null } }, dndUntil: "2030-01-01T10:00:00+02:00", emailFrequency: "daily" });
    expect(third.body).toMatchObject({ types: { comment: { push: false } }, dndUntil: "2030-01-01T08:00:00.000Z", emailFrequency: "daily" });
    expect((await request(`${web1}/api/preferences`, { token })).body).toEqual(third.body);
  });

  it("refuses bad input with every bad field named, and stores nothing", async () => {
    const { token } = await userWithEmail("badprefs");
    const cases: [unknown, string[]][] = [
      [{ quietHours: { start: "25:00", end: "7:00", timeZone: "Mars/Olympus" } }, ["quietHours.start", "quietHours.end", "quietHours.timeZone"]],
      [{ channels: { pigeon: true } }, ["channels"]],
      [{ emailFrequency: "hourly", dndUntil: "tomorrow" }, ["emailFrequency", "dndUntil"]],
      [{ types: { "no such type": { email: false } } }, ["types"]],
      [{ types: { [uniqueId("ghost")]: { email: false } } }, ["types."]],
      [{ types: { system: { email: false } } }, ["types.system.email"]],
      [{ categories: { [uniqueId("nocat")]: { push: false } } }, ["categories."]],
      [{ surprise: 1 }, ["(body)"]],
    ];
    for (const [body, fields] of cases) {
      const reply = await put(token, body);
      expect(reply.status, JSON.stringify(body)).toBe(422);
      const named = reply.body.error.details.map((d: { field: string }) => d.field).join(" ");
      for (const field of fields) expect(named, JSON.stringify(body)).toContain(field);
    }
    expect((await request(`${web1}/api/preferences`, { method: "PUT", token, rawBody: "{", headers: { "content-type": "application/json" } })).status).toBe(400);
    expect((await request(`${web1}/api/preferences`, { token })).body.types).toEqual({});
    expect((await request(`${web1}/api/preferences`)).status).toBe(401);
  });

  it("reaches the user's other devices, and only theirs", async () => {
    const { userId, token } = await userWithEmail("sync");
    const other = await userWithEmail("bystander");
    const phone = await connectDevice(web2, token);
    const stranger = await connectDevice(web2, other.token);
    try {
      expect((await put(token, { emailFrequency: "weekly" })).status).toBe(200);
      const event = await phone.waitFor("preferences:updated", (p) => p.emailFrequency === "weekly");
      expect(event).toMatchObject({ emailFrequency: "weekly", channels: { in_app: true } });
      await new Promise((r) => setTimeout(r, 300));
      expect(stranger.events.filter((e) => e.event === "preferences:updated")).toEqual([]);
      expect(userId).not.toBe(other.userId);
    } finally {
      phone.close();
      stranger.close();
    }
  });
});

describe("routing", () => {
  it("sends every channel with the defaults (SMS is opt-in), and records each decision", async () => {
    const { userId } = await userWithEmail("plain");
    const outcomes = await outcomesOf({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "hi" } });
    expect(outcomes.in_app).toMatchObject({ status: "sent" });
    expect(outcomes.push).toMatchObject({ status: "queued" });
    expect(outcomes.email).toMatchObject({ status: "queued" });
    expect(outcomes.sms).toBeUndefined(); // comment does not name SMS
  });

  it("applies the user's preferences to the next send", async () => {
    const { userId, token, me } = await userWithEmail("picky");
    expect((await put(token, { types: { comment: { email: false } }, categories: { engagement: { push: false } } })).status).toBe(200);
    const outcomes = await outcomesOf({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" } });
    expect(outcomes.email).toMatchObject({ status: "suppressed", reason: "type_muted" });
    expect(outcomes.push).toMatchObject({ status: "suppressed", reason: "category_muted" });
    expect(outcomes.in_app).toMatchObject({ status: "sent" });

    // Turning the inbox off for a type keeps it out of the inbox and the counts.
    const before = (await me.count()).body.count;
    expect((await put(token, { types: { like: { in_app: false } } })).status).toBe(200);
    const liked = await outcomesOf({ type: "like", to: [userId], actor: { id: "b", name: "Ben" } });
    expect(liked.in_app).toMatchObject({ status: "suppressed", reason: "type_muted" });
    expect((await me.count()).body.count).toBe(before);
    expect((await me.list()).body.notifications.map((n: { type: string }) => n.type)).not.toContain("like");

    // A type that does not allow opting out is sent whatever the switches say.
    expect((await put(token, { channels: { email: false, sms: true, in_app: false } })).status).toBe(200);
    const system = await outcomesOf({ type: "system", to: [userId], title: "Security alert", body: "New sign-in" });
    expect(system.in_app).toMatchObject({ status: "sent" });
    expect(system.email).toMatchObject({ status: "queued" });
    expect(system.sms).toMatchObject({ status: "queued" });
  });

  it("an inbox-only topic trigger (decided in PostgreSQL) applies each subscriber's preferences like any other", async () => {
    // follow is in the "engagement" category.
    const cases = {
      plain: [{}, null],
      channelOff: [{ channels: { in_app: false } }, "channel_disabled"],
      typeOff: [{ types: { follow: { in_app: false } } }, "type_muted"],
      categoryOff: [{ categories: { engagement: { in_app: false } } }, "category_muted"],
      typeOnCategoryOff: [{ types: { follow: { in_app: true } }, categories: { engagement: { in_app: false } } }, null],
      otherTypeOff: [{ types: { comment: { in_app: false } } }, null],
      pushOff: [{ channels: { push: false } }, null],
    } as const;
    const topic = uniqueId("prefs-topic");
    const users: Record<string, { userId: string; token: string }> = {};
    for (const [name, [prefs]] of Object.entries(cases)) {
      users[name] = await userWithEmail(name);
      if (Object.keys(prefs).length > 0) expect((await put(users[name]!.token, prefs)).status).toBe(200);
    }
    expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: Object.values(users).map((u) => u.userId) })).status).toBe(200);
    const reply = await service.trigger({ type: "follow", to: { topic }, actor: { id: "star", name: "Star" }, channels: ["in_app"] });
    expect(reply.status).toBe(202);
    const status = await eventually(async () => {
      const r = await service.status(reply.body.id);
      return r.body.status === "completed" ? r.body : undefined;
    });
    const outcomes = new Map((status.outcomes as Outcome[]).map((o) => [o.userId, o]));
    for (const [name, [, reason]] of Object.entries(cases)) {
      const { userId, token } = users[name]!;
      const outcome = outcomes.get(userId);
      expect(outcome, name).toMatchObject(reason ? { channel: "in_app", status: "suppressed", reason } : { channel: "in_app", status: "sent" });
      const inbox = (await userClient(web1, token).list()).body.notifications.filter((n: { type: string }) => n.type === "follow");
      expect(inbox.length, name).toBe(reason ? 0 : 1);
      expect((await db.query("SELECT unread_count FROM users WHERE id = $1", [userId])).rows[0].unread_count, name).toBe(reason ? 0 : 1);
    }
  });

  it("defers push and email during quiet hours to their end, and never holds back the inbox", async () => {
    const { userId, token } = await userWithEmail("night");
    // A window around now, in UTC wall-clock time.
    const start = utcClock(-60);
    const end = utcClock(60);
    expect((await put(token, { quietHours: { start, end, timeZone: "UTC" } })).status).toBe(200);
    const outcomes = await outcomesOf({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" } });
    expect(outcomes.in_app).toMatchObject({ status: "sent" });
    for (const channel of ["push", "email"]) {
      expect(outcomes[channel]).toMatchObject({ status: "deferred", reason: "quiet_hours" });
      expect(outcomes[channel]!.deliverAt!.slice(11, 16)).toBe(end);
      expect(Date.parse(outcomes[channel]!.deliverAt!)).toBeGreaterThan(Date.now());
    }
    // Urgent goes through.
    const urgent = await outcomesOf({ type: "comment", to: [userId], priority: "urgent", actor: { id: "a", name: "Ann" } });
    expect(urgent.push).toMatchObject({ status: "queued" });
  });

  it("defers until DND ends, and the user's time zone places quiet hours", async () => {
    const { userId, token } = await userWithEmail("dnd", { timezone: "Asia/Tokyo" });
    const until = new Date(Date.now() + 30 * 60_000).toISOString();
    expect((await put(token, { dndUntil: until })).status).toBe(200);
    const outcomes = await outcomesOf({ type: "mention", to: [userId], actor: { id: "a", name: "Ann" } });
    expect(outcomes.push).toMatchObject({ status: "deferred", reason: "dnd", deliverAt: until });

    // Quiet hours without a zone use the user's (Tokyo is UTC+9, no DST).
    const endsAt = new Date(Date.now() + 45 * 60_000);
    const tokyo = (d: Date) => new Date(d.getTime() + 9 * 3600_000).toISOString().slice(11, 16);
    expect((await put(token, { dndUntil: null, quietHours: { start: tokyo(new Date()), end: tokyo(endsAt) } })).status).toBe(200);
    const quiet = await outcomesOf({ type: "mention", to: [userId], actor: { id: "a", name: "Ann" } });
    expect(quiet.email).toMatchObject({ status: "deferred", reason: "quiet_hours" });
    expect(quiet.email!.deliverAt!.slice(11, 16)).toBe(endsAt.toISOString().slice(11, 16));
  });

  it("past a type's per-recipient limit, push is batched (rate_limited), never lost, and the inbox still gets everything", async () => {
    const key = uniqueId("chatty");
    const typeBody = { name: "Chatty", category: "engagement", channels: ["in_app", "push"], limits: { perHour: 2 }, templates: { in_app: { title: "Ping", body: "" }, push: { title: "Ping", body: "" } } };
    expect((await request(`${web1}/api/v1/admin/types/${key}`, { method: "PUT", token: system.serviceKey, body: typeBody })).status).toBe(200);
    const { userId, me } = await userWithEmail("limited");
    const other = await userWithEmail("unlimited");
    const results: Record<string, Outcome>[] = [];
    for (let i = 0; i < 3; i++) results.push(await outcomesOf({ type: key, to: [userId] }));
    expect(results.map((r) => r.push!.status)).toEqual(["queued", "queued", "batched"]);
    expect(results[2]!.push!.reason).toBe("rate_limited");
    expect((await me.count()).body.count).toBe(3);
    // Limits are per recipient.
    expect((await outcomesOf({ type: key, to: [other.userId] })).push!.status).toBe("queued");
    // Urgent is not limited.
    expect((await outcomesOf({ type: key, to: [userId], priority: "urgent" })).push!.status).toBe("queued");
    // The same limit holds across triggers handled by both fan-out workers: 4 more at once, none queued.
    const replies = await Promise.all(Array.from({ length: 4 }, () => service.trigger({ type: key, to: [userId] })));
    const statuses = await Promise.all(
      replies.map((r) =>
        eventually(async () => {
          const s = await service.status(r.body.id);
          return s.body.status === "completed" ? (s.body.outcomes as Outcome[]).find((o) => o.channel === "push")!.status : undefined;
        }),
      ),
    );
    expect(statuses).toEqual(["batched", "batched", "batched", "batched"]);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM deliveries WHERE user_id = $1 AND channel = 'push'", [userId]);
    expect(rows[0].n).toBe(8);
  });
});
