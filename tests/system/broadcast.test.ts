// Fan-out on read on the running system: a topic trigger above its broadcast threshold is stored
// once, reaches the subscribers who are online at once, and is merged into everyone else's inbox
// when they read it, with the same counts, seq, read state and pagination as any notification;
// preferences still apply, a later subscriber does not get it, and a recall takes it back.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectDevice, eventually, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 4 });
afterAll(() => db.end());

let type: string;
beforeAll(async () => {
  type = uniqueId("announce");
  const reply = await request(`${web1}/api/v1/admin/types/${type}`, {
    method: "PUT",
    token: system.serviceKey,
    body: {
      name: "Announcement",
      category: "engagement",
      channels: ["in_app", "email"],
      templates: { in_app: { title: "{{ actor.name }} posted: {{ data.headline }}", body: "" }, email: { subject: "{{ data.headline }}", html: "<p>{{ data.headline }}</p>" } },
      locales: { de: { in_app: { title: "{{ actor.name }} hat gepostet: {{ data.headline }}", body: "" } } },
    },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
});

async function topicWith(n: number) {
  const topic = uniqueId("celebrity");
  const users = Array.from({ length: n }, (_, i) => uniqueId(`f${i}`));
  expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: users })).status).toBeLessThan(300);
  return { topic, users };
}

async function completed(triggerId: string) {
  return eventually(async () => {
    const s = await service.status(triggerId);
    return s.body.status === "completed" ? s.body : undefined;
  });
}

const copies = async (triggerId: string) => Number((await db.query("SELECT count(*) FROM notifications WHERE trigger_id = $1", [triggerId])).rows[0].count);

describe("broadcasts (fan-out on read)", () => {
  it("stores once, reaches the online subscriber live, and merges into the others' inboxes when they read", async () => {
    const { topic, users } = await topicWith(30);
    const onlineToken = await service.token(users[0]!);
    const device = await connectDevice(web2, onlineToken);
    try {
      const reply = await service.trigger({ type, to: { topic }, actor: { id: "star", name: "Star" }, data: { headline: "Hello" }, channels: ["in_app"], broadcastThreshold: 10 });
      expect(reply.status).toBe(202);
      expect(reply.body.recipients).toBe(30);
      const live = await device.waitFor("notification:new", (n) => n.type === type);
      expect(live).toMatchObject({ title: "Star posted: Hello", read: false });
      const status = await completed(reply.body.id);
      expect(status.broadcast).toEqual({ recipients: 30, merged: 1 });
      expect(status.channels.in_app.sent).toBe(30);
      // One row for the broadcast, one copy for the one who was online, nothing for the other 29.
      expect(Number((await db.query("SELECT count(*) FROM broadcasts WHERE trigger_id = $1", [reply.body.id])).rows[0].count)).toBe(1);
      expect(await copies(reply.body.id)).toBe(1);

      // An offline follower comes back: the count includes it, the list shows it, the seq is theirs.
      const me = userClient(web1, await service.token(users[1]!));
      expect((await me.count()).body).toMatchObject({ count: 1, unseen: 1 });
      const list = (await me.list()).body.notifications;
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ title: "Star posted: Hello", read: false, seq: 1 });
      expect((await me.changes(0)).body.changes.map((c: { kind: string; seq: number }) => [c.kind, c.seq])).toEqual([["new", 1]]);
      // Read state is that user's own.
      expect((await me.post("/api/notifications/read", { ids: [list[0]!.id] })).body.count).toBe(1);
      expect((await me.count()).body.count).toBe(0);
      expect((await me.list("?filter=unread")).body.notifications).toHaveLength(0);
      expect((await me.list()).body.notifications.map((n) => n.read)).toEqual([true]);
      expect((await userClient(web2, onlineToken).count()).body.count).toBe(1);
      expect(await copies(reply.body.id)).toBe(2);
      expect((await service.status(reply.body.id)).body.broadcast).toEqual({ recipients: 30, merged: 2 });
    } finally {
      device.close();
    }
  });

  it("merges once however many reads race, on both web nodes, with seq contiguous", async () => {
    const { topic, users } = await topicWith(15);
    const token = await service.token(users[3]!);
    // Something before, so the user's seq does not start at the broadcast.
    await completed((await service.trigger({ type: "comment", to: [users[3]!], actor: { id: "a", name: "A" } })).body.id);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await service.trigger({ type, to: { topic }, actor: { id: "star", name: "Star" }, data: { headline: `News ${i}` }, channels: ["in_app"], broadcastThreshold: 0 });
      await completed(reply.body.id);
      ids.push(reply.body.id);
    }
    const reads = await Promise.all(Array.from({ length: 12 }, (_, i) => userClient(i % 2 ? web1 : web2, token)[i % 3 === 0 ? "list" : "count"]()));
    expect(reads.every((r) => r.status === 200)).toBe(true);
    const list = (await userClient(web1, token).list()).body.notifications;
    expect(list.map((n) => n.title)).toEqual(["Star posted: News 2", "Star posted: News 1", "Star posted: News 0", expect.any(String)]);
    expect(list.map((n) => n.seq).sort()).toEqual([1, 2, 3, 4]);
    for (const id of ids) expect(Number((await db.query("SELECT count(*) FROM notifications WHERE trigger_id = $1 AND user_id = $2", [id, users[3]])).rows[0].count)).toBe(1);
    expect((await userClient(web2, token).count()).body.count).toBe(4);
    // Pagination walks the merged ones like any others.
    const first = (await userClient(web1, token).list("?limit=2")).body;
    const second = (await userClient(web1, token).list(`?limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`)).body;
    expect([...first.notifications, ...second.notifications].map((n) => n.id)).toEqual(list.map((n) => n.id));
  });

  it("applies preferences and locales when merging, not to later subscribers, and a recall takes it back", async () => {
    const { topic, users } = await topicWith(12);
    const [muted, german, reader, , late] = [users[0]!, users[1]!, users[2]!, users[3]!, uniqueId("late")];
    const mutedToken = await service.token(muted);
    expect((await request(`${web1}/api/preferences`, { method: "PUT", token: mutedToken, body: { types: { [type]: { in_app: false } } } })).status).toBe(200);
    expect((await service.call("PUT", `/api/v1/users/${german}`, { locale: "de-AT", email: `${german}@example.com` })).status).toBe(200);
    const reply = await service.trigger({ type, to: { topic }, actor: { id: "star", name: "Star" }, data: { headline: "Hallo" }, broadcastThreshold: 5 });
    const status = await completed(reply.body.id);
    expect(status.broadcast.recipients).toBe(12);
    // Email still goes per recipient (routed like any trigger); the inbox needs no row per recipient.
    const { rows } = await db.query("SELECT channel, count(*)::int AS n FROM deliveries WHERE trigger_id = $1 GROUP BY channel", [reply.body.id]);
    expect(rows).toEqual([{ channel: "email", n: 12 }]);
    await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: [late] });

    expect((await userClient(web1, mutedToken).count()).body.count).toBe(0);
    expect((await userClient(web1, mutedToken).list()).body.notifications).toHaveLength(0);
    expect((await userClient(web1, await service.token(german)).list()).body.notifications[0]!.title).toBe("Star hat gepostet: Hallo");
    expect((await userClient(web1, await service.token(late)).count()).body.count).toBe(0);

    const readerClient = userClient(web1, await service.token(reader));
    expect((await readerClient.count()).body.count).toBe(1);
    const readerDevice = await connectDevice(web2, await service.token(reader));
    try {
      expect((await service.call("DELETE", `/api/v1/notifications/${reply.body.id}`)).status).toBe(200);
      await readerDevice.waitFor("notifications:removed");
      expect((await readerClient.count()).body.count).toBe(0);
      // Someone who had not read their inbox yet never sees it.
      expect((await userClient(web1, await service.token(users[4]!)).list()).body.notifications).toHaveLength(0);
    } finally {
      readerDevice.close();
    }
  });

  it("below the threshold the same trigger fans out on write", async () => {
    const { topic } = await topicWith(12);
    const reply = await service.trigger({ type, to: { topic }, actor: { id: "star", name: "Star" }, data: { headline: "x" }, channels: ["in_app"], broadcastThreshold: 12 });
    const status = await completed(reply.body.id);
    expect(status.broadcast).toBeUndefined();
    expect(await copies(reply.body.id)).toBe(12);
  });
});
