// Aggregation on the running system: events of one group update the user's unread notification
// ("Ann, Mary and John liked your post") instead of adding another, on every device and in the
// changes log; a read notification is never reopened; and 100 likes at once, fanned out by two
// worker processes, end as one notification with actorCount 100.
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { connectDevice, eventually, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
afterAll(() => db.end());

const LIKE_TEMPLATES = {
  in_app: { title: "{{ actors | actor_names: actorCount }} liked your {{ target.type }}", body: "{{ actorCount }} {% if actorCount == 1 %}person{% else %}people{% endif %}" },
};

async function likeType(aggregate: Record<string, unknown>): Promise<string> {
  const key = uniqueId("like");
  const reply = await request(`${web1}/api/v1/admin/types/${key}`, {
    method: "PUT",
    token: system.serviceKey,
    body: { name: "Like", category: "engagement", channels: ["in_app"], aggregate, templates: LIKE_TEMPLATES },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return key;
}

async function completed(triggerId: string) {
  return eventually(async () => {
    const s = await service.status(triggerId);
    return s.body.status === "completed" ? s.body : undefined;
  });
}

async function like(type: string, to: string[], actor: { id: string; name: string }, target = { type: "post", id: "p1" }) {
  const reply = await service.trigger({ type, to, actor, target });
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  return completed(reply.body.id);
}

describe("aggregation", () => {
  it("updates the unread notification of the group: actors newest first, count, title, top of the list, one seq each", async () => {
    const type = await likeType({ window: "1h" });
    const userId = uniqueId("liked");
    const token = await service.token(userId);
    const me = userClient(web1, token);
    const phone = await connectDevice(web1, token);
    const laptop = await connectDevice(web2, token);
    try {
      await like(type, [userId], { id: "john", name: "John" });
      const first = await phone.waitFor("notification:new");
      expect(first).toMatchObject({ title: "John liked your post", actorCount: 1, actors: [{ id: "john" }] });
      // Something else in between, so "moved to the top" means something.
      const other = await service.trigger({ type: "comment", to: [userId], actor: { id: "x", name: "X" } });
      await completed(other.body.id);
      const before = (await me.list()).body.notifications;
      expect(before.map((n) => n.type)).toEqual(["comment", type]);

      const second = await like(type, [userId], { id: "mary", name: "Mary" });
      await like(type, [userId], { id: "ann", name: "Ann" });
      for (const device of [phone, laptop]) {
        const updated = await device.waitFor("notification:updated", (n) => n.actorCount === 3);
        expect(updated).toMatchObject({ id: first.id, title: "Ann, Mary and John liked your post", body: "3 people", actors: [{ id: "ann" }, { id: "mary" }, { id: "john" }] });
        expect(device.events.filter((e) => e.event === "notification:new" && e.payload.type === type)).toHaveLength(1);
      }
      // The same actor again: first among the actors, counted once.
      await like(type, [userId], { id: "john", name: "John" });
      const again = await phone.waitFor("notification:updated", (n) => n.actors[0].id === "john");
      expect(again).toMatchObject({ actorCount: 3, title: "John, Ann and Mary liked your post" });

      const list = (await me.list()).body.notifications;
      expect(list).toHaveLength(2);
      expect(list[0]).toMatchObject({ id: first.id, type, actorCount: 3, read: false, createdAt: first.createdAt });
      expect(Date.parse(list[0]!.sortAt)).toBeGreaterThan(Date.parse(list[1]!.sortAt));
      // The unread count counts the group once.
      expect((await me.count()).body).toMatchObject({ count: 2 });
      // Every update took one seq; the changes log replays them as updates of the same notification.
      const changes = (await me.changes(first.seq - 1)).body.changes as { seq: number; kind: string; notification?: { id: string } }[];
      expect(changes.map((c) => c.kind)).toEqual(["new", "new", "updated", "updated", "updated"]);
      expect(changes.map((c) => c.seq)).toEqual([0, 1, 2, 3, 4].map((i) => first.seq + i));
      expect(changes.filter((c) => c.kind === "updated").every((c) => c.notification?.id === first.id)).toBe(true);
      // The merged trigger's status: stored in-app, as part of a group.
      expect(second.outcomes).toEqual([expect.objectContaining({ userId, channel: "in_app", status: "sent", reason: "aggregated" })]);
      expect(second.channels.in_app.sent).toBe(1);
    } finally {
      phone.close();
      laptop.close();
    }
  });

  it("never reopens a read notification, keeps groups apart by key, and starts a new group after the window", async () => {
    const type = await likeType({ window: "2s" });
    const userId = uniqueId("reader");
    const me = userClient(web1, await service.token(userId));
    await like(type, [userId], { id: "a1", name: "A1" });
    await like(type, [userId], { id: "a2", name: "A2" });
    let list = (await me.list()).body.notifications;
    expect(list).toHaveLength(1);
    expect((await me.post("/api/notifications/read", { ids: [list[0]!.id] })).status).toBe(200);
    await like(type, [userId], { id: "a3", name: "A3" });
    list = (await me.list()).body.notifications;
    expect(list.map((n) => [n.actorCount, n.read])).toEqual([[1, false], [2, true]]);
    expect(list[0]!.title).toBe("A3 liked your post");
    // Another target is another group.
    await like(type, [userId], { id: "a4", name: "A4" }, { type: "post", id: "p2" });
    expect((await me.list()).body.notifications).toHaveLength(3);
    // Once the window that the group's first event started has ended, the next event starts a new one.
    await new Promise((r) => setTimeout(r, 2100));
    await like(type, [userId], { id: "a5", name: "A5" });
    list = (await me.list()).body.notifications;
    expect(list).toHaveLength(4);
    expect(list[0]).toMatchObject({ actorCount: 1, title: "A5 liked your post" });
    expect((await me.count()).body.count).toBe(3);
  });

  it("groups by a custom key, and refuses a key with unknown parts", async () => {
    const type = await likeType({ window: "1h", key: "type:actorId" });
    const userId = uniqueId("bykey");
    const me = userClient(web1, await service.token(userId));
    await like(type, [userId], { id: "same", name: "Same" }, { type: "post", id: "x1" });
    await like(type, [userId], { id: "same", name: "Same" }, { type: "post", id: "x2" });
    await like(type, [userId], { id: "else", name: "Else" }, { type: "post", id: "x1" });
    expect((await me.list()).body.notifications.map((n) => n.actorCount)).toEqual([1, 1]);
    // Two types whose keys read alike keep their own groups.
    const [likeKey, shareKey] = [await likeType({ window: "1h", key: "targetType:targetId" }), await likeType({ window: "1h", key: "targetType:targetId" })];
    const other = uniqueId("twotypes");
    const otherMe = userClient(web1, await service.token(other));
    await like(likeKey, [other], { id: "a", name: "A" }, { type: "post", id: "same" });
    await like(shareKey, [other], { id: "b", name: "B" }, { type: "post", id: "same" });
    expect((await otherMe.list()).body.notifications.map((n) => [n.type, n.actorCount])).toEqual([
      [shareKey, 1],
      [likeKey, 1],
    ]);
    const bad = await request(`${web1}/api/v1/admin/types/${uniqueId("bad")}`, {
      method: "PUT",
      token: system.serviceKey,
      body: { name: "Bad", category: "engagement", channels: ["in_app"], aggregate: { window: "1h", key: "type:recipient.email" }, templates: LIKE_TEMPLATES },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toContain("aggregate.key");
  });

  it("a group's window ends with the month it started in, so its notification stays in its month's partition", async () => {
    const type = await likeType({ window: "40d" });
    const userId = uniqueId("monthly");
    const done = await like(type, [userId], { id: "john", name: "John" });
    const { rows } = await db.query<{ window_ends_at: Date; notification_at: Date; partition: string }>(
      `SELECT g.window_ends_at, g.notification_at, n.tableoid::regclass::text AS partition
         FROM notification_groups g JOIN notifications n ON n.id = g.notification_id AND n.created_at = g.notification_at
        WHERE g.user_id = $1`,
      [userId],
    );
    expect(rows).toHaveLength(1);
    const started = rows[0]!.notification_at;
    const nextMonth = new Date(Date.UTC(started.getUTCFullYear(), started.getUTCMonth() + 1, 1));
    // 40 days would reach into the next month; the window stops at its start.
    expect(rows[0]!.window_ends_at.toISOString()).toBe(nextMonth.toISOString());
    expect(rows[0]!.partition).toBe(`notifications_y${started.getUTCFullYear()}m${String(started.getUTCMonth() + 1).padStart(2, "0")}`);
    expect(done.status).toBe("completed");
  });

  it("the admin preview renders a group and a batching window's summary", async () => {
    const type = await likeType({ window: "1h" });
    const preview = (body: Record<string, unknown>) => request(`${web1}/api/v1/admin/types/${type}/preview`, { method: "POST", token: system.serviceKey, body });
    const group = await preview({ channel: "in_app", actors: [{ id: "a", name: "Ann" }, { id: "b", name: "Ben" }, { id: "c", name: "Cy" }], actorCount: 7 });
    expect(group.status).toBe(200);
    expect(group.body.content).toMatchObject({ title: "Ann, Ben and 5 others liked your post", body: "7 people" });
    const summary = await preview({
      channel: "push",
      batchCount: 4,
      templates: { ...LIKE_TEMPLATES, push: { title: "{{ batchCount }} new likes, the last: {{ batch[0].title }}", body: "" } },
    });
    expect(summary.status, JSON.stringify(summary.body)).toBe(200);
    expect(summary.body.content.title).toBe("4 new likes, the last: Sample event 4");
    expect((await preview({ channel: "in_app", batchCount: 0 })).status).toBe(422);
  });

  it("likes arriving while the user keeps reading: no request fails, every like counted once, seq contiguous", async () => {
    const type = await likeType({ window: "1h" });
    const userId = uniqueId("busy");
    const token = await service.token(userId);
    const me = userClient(web1, token);
    const likes = Promise.all(
      Array.from({ length: 40 }, (_, i) => service.trigger({ type, to: [userId], actor: { id: `l${i}`, name: `L${i}` }, target: { type: "post", id: "busy" } })),
    );
    // Meanwhile: mark everything read, again and again, on both web nodes.
    const reads: number[] = [];
    for (let i = 0; i < 15; i++) {
      const reply = await request(`${i % 2 ? web1 : web2}/api/notifications/read-all`, { method: "POST", token, body: {} });
      reads.push(reply.status);
      await new Promise((r) => setTimeout(r, 20));
    }
    const replies = await likes;
    await Promise.all(replies.map((r) => completed(r.body.id)));
    expect(reads.every((s) => s === 200)).toBe(true);
    const list = (await me.list("?limit=100")).body.notifications;
    // Each like is in exactly one notification (a read one is never reopened: later likes start another).
    expect(list.reduce((n, x) => n + x.actorCount, 0)).toBe(40);
    expect(list.filter((n) => !n.read).length).toBeLessThanOrEqual(1);
    const { rows } = await db.query<{ seqs: number[]; last_seq: number }>(
      "SELECT array_agg(seq ORDER BY seq) AS seqs, (SELECT last_seq FROM users WHERE id = $1)::int AS last_seq FROM notification_changes WHERE user_id = $1",
      [userId],
    );
    expect(rows[0]!.seqs.map(Number)).toEqual(Array.from({ length: rows[0]!.last_seq }, (_, i) => i + 1));
  }, 60_000);

  it("likes on two posts of the same users at once, with an email batching window too: all complete, each like counted once", async () => {
    const key = uniqueId("likebatch");
    const reply = await request(`${web1}/api/v1/admin/types/${key}`, {
      method: "PUT",
      token: system.serviceKey,
      body: {
        name: "Like",
        category: "engagement",
        channels: ["in_app", "email"],
        aggregate: { window: "1h" },
        batch: { email: "1h" },
        templates: { ...LIKE_TEMPLATES, email: { subject: "{{ actors | actor_names: actorCount }} liked it", html: "<p>liked</p>" } },
      },
    });
    expect(reply.status).toBe(200);
    const users = Array.from({ length: 4 }, (_, i) => uniqueId(`two${i}`));
    for (const u of users) expect((await service.call("PUT", `/api/v1/users/${u}`, { email: `${u}@example.com` })).status).toBe(200);
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        service.trigger({ type: key, to: [...users].sort(() => Math.random() - 0.5), actor: { id: `p${i}`, name: `P${i}` }, target: { type: "post", id: i % 2 ? "odd" : "even" } }),
      ),
    );
    const statuses = await Promise.all(replies.map((r) => completed(r.body.id)));
    expect(statuses.every((s) => s.status === "completed")).toBe(true);
    for (const u of users) {
      const list = (await userClient(web1, await service.token(u)).list()).body.notifications;
      expect(list.map((n) => n.actorCount).sort()).toEqual([30, 30]);
      const { rows } = await db.query("SELECT count(DISTINCT batch_id)::int AS windows, count(*)::int AS n FROM deliveries d JOIN triggers t ON t.id = d.trigger_id WHERE d.user_id = $1 AND d.channel = 'email' AND t.type = $2", [u, key]);
      expect(rows[0]).toEqual({ windows: 1, n: 60 });
    }
  }, 90_000);

  it("100 likes at once, on two fan-out workers, end as one notification per recipient with actorCount 100", async () => {
    const type = await likeType({ window: "1h" });
    const users = Array.from({ length: 5 }, (_, i) => uniqueId(`fan${i}`));
    const tokens = await Promise.all(users.map((u) => service.token(u)));
    const device = await connectDevice(web2, tokens[0]!);
    try {
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => service.trigger({ type, to: [...users].sort(() => Math.random() - 0.5), actor: { id: `liker${i}`, name: `Liker ${i}` }, target: { type: "post", id: "viral" } })),
      );
      expect(replies.every((r) => r.status === 202)).toBe(true);
      await Promise.all(replies.map((r) => completed(r.body.id)));
      for (const [i, userId] of users.entries()) {
        const me = userClient(web1, tokens[i]!);
        const list = (await me.list()).body.notifications;
        expect(list).toHaveLength(1);
        expect(list[0]).toMatchObject({ actorCount: 100, read: false });
        expect(list[0]!.actors).toHaveLength(10);
        expect(new Set(list[0]!.actors.map((a) => a.id)).size).toBe(10);
        expect(list[0]!.title).toBe(`${list[0]!.actors[0]!.name}, ${list[0]!.actors[1]!.name} and 98 others liked your post`);
        expect((await me.count()).body.count).toBe(1);
        // One seq per event, none lost or repeated.
        const { rows } = await db.query<{ seqs: string[]; last_seq: number }>(
          "SELECT array_agg(kind ORDER BY seq) AS seqs, max(u.last_seq)::int AS last_seq FROM notification_changes c JOIN users u ON u.id = c.user_id WHERE c.user_id = $1",
          [userId],
        );
        expect(rows[0]!.seqs).toEqual(["new", ...Array(99).fill("updated")]);
        expect(rows[0]!.last_seq).toBe(100);
      }
      // The device saw one new and then only updates of it, ending at 100.
      const last = await device.waitFor("notification:updated", (n) => n.actorCount === 100);
      expect(device.events.filter((e) => e.event === "notification:new")).toHaveLength(1);
      expect(last.id).toBe(device.events.find((e) => e.event === "notification:new")!.payload.id);
    } finally {
      device.close();
    }
  }, 120_000);
});
