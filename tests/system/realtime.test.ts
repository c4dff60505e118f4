// Real-time delivery and read-state sync with real socket.io clients on two web nodes.
import { describe, expect, inject, it } from "vitest";
import { io } from "socket.io-client";
import { connectDevice, eventually, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);

describe("socket handshake", () => {
  it("refuses a connection without a valid token with connect_error 'unauthorized'", async () => {
    await expect(connectDevice(web1, null)).rejects.toThrow("unauthorized");
    await expect(connectDevice(web1, "forged.token.value")).rejects.toThrow("unauthorized");
    await expect(connectDevice(web1, system.serviceKey)).rejects.toThrow("unauthorized");
  });
});

describe("socket handshake with the session cookie", () => {
  it("accepts the cookie from this origin and refuses it from another", async () => {
    const user = uniqueId("cookie");
    const token = await service.token(user);
    const reply = await fetch(`${web1}/auth/session`, {
      method: "POST",
      body: new URLSearchParams({ token }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    const cookie = reply.headers.get("set-cookie")!.split(";")[0]!;
    const connect = (origin: string) =>
      new Promise<string>((resolve) => {
        const socket = io(web2, { transports: ["websocket"], reconnection: false, forceNew: true, extraHeaders: { cookie, origin } });
        socket.once("connect", () => (socket.close(), resolve("connected")));
        socket.once("connect_error", (error) => (socket.close(), resolve(error.message)));
      });
    expect(await connect(web2)).toBe("connected");
    expect(await connect("https://evil.example")).toBe("unauthorized");
  });
});

describe("two devices of one user on different web nodes, and another user", () => {
  it("delivers new notifications and every state change to every device of the user, and nothing to others", async () => {
    const alice = uniqueId("alice");
    const eve = uniqueId("eve");
    const aliceToken = await service.token(alice);
    const phone = await connectDevice(web1, aliceToken);
    const laptop = await connectDevice(web2, aliceToken);
    const other = await connectDevice(web2, await service.token(eve));
    try {
      const reply = await service.trigger({ type: "mention", to: [alice], actor: { id: "bob", name: "Bob" }, data: { excerpt: "hey @alice" } });
      expect(reply.status).toBe(202);
      const [onPhone, onLaptop] = await Promise.all([phone.waitFor("notification:new"), laptop.waitFor("notification:new")]);
      expect(onPhone).toMatchObject({ title: "Bob mentioned you", body: "hey @alice", seq: 1, read: false });
      expect(onLaptop.id).toBe(onPhone.id);
      await phone.waitFor("unread_count", (c) => c.count === 1);

      // Read on the phone (socket, with acknowledgement): the laptop hears it with the next seq.
      const ack = await phone.socket.timeout(5000).emitWithAck("notifications:read", { ids: [onPhone.id] });
      expect(ack).toEqual({ ok: true, count: 1 });
      const read = await laptop.waitFor("notifications:read");
      expect(read).toEqual({ ids: [onPhone.id], seq: 2, at: expect.any(String) });
      await laptop.waitFor("unread_count", (c) => c.count === 0 && c.unseen === 0);

      // Unread through REST on node 1: both devices hear it.
      const inbox = userClient(web1, aliceToken);
      expect((await inbox.post("/api/notifications/unread", { ids: [onPhone.id] })).body).toEqual({ count: 1 });
      await Promise.all([phone.waitFor("notifications:unread", (e) => e.seq === 3), laptop.waitFor("notifications:unread", (e) => e.seq === 3)]);

      // Archive on the laptop through REST on node 2, read-all by socket, seen by socket.
      await userClient(web2, aliceToken).post("/api/notifications/archive", { ids: [onPhone.id] });
      await phone.waitFor("notifications:archived", (e) => e.seq === 4 && e.ids[0] === onPhone.id);
      await userClient(web2, aliceToken).post("/api/notifications/unarchive", { ids: [onPhone.id] });
      await phone.waitFor("notifications:unarchived", (e) => e.seq === 5);
      expect(await laptop.socket.timeout(5000).emitWithAck("notifications:read_all")).toEqual({ ok: true, count: 1 });
      expect(await phone.waitFor("notifications:read_all")).toEqual({ seq: 6, at: expect.any(String) });

      const second = await service.trigger({ type: "like", to: [alice], actor: { id: "carol", name: "Carol" } });
      const n2 = await laptop.waitFor("notification:new", (n) => n.seq === 7);
      expect(second.status).toBe(202);
      expect(await phone.socket.timeout(5000).emitWithAck("notifications:seen", { ids: [n2.id] })).toEqual({ ok: true, count: 1 });
      await laptop.waitFor("notifications:seen", (e) => e.seq === 8);
      await laptop.waitFor("unread_count", (c) => c.count === 1 && c.unseen === 0);

      // A click on a notification that is already read is an `updated` change on every device.
      const clicked = await userClient(web1, aliceToken).post(`/api/notifications/${onPhone.id}/click`);
      expect(clicked.status).toBe(200);
      const updated = await laptop.waitFor("notification:updated", (n) => n.id === onPhone.id);
      expect(updated).toMatchObject({ read: true, clickedAt: expect.any(String) });
      const changes = await userClient(web2, aliceToken).changes(8);
      expect(changes.body.changes).toEqual([expect.objectContaining({ seq: 9, kind: "updated", notification: expect.objectContaining({ id: onPhone.id }) })]);

      // The other user heard nothing of it.
      await new Promise((r) => setTimeout(r, 1000));
      expect(other.events.filter((e) => e.event !== "unread_count")).toEqual([]);
      expect(other.events).toEqual([]);
    } finally {
      phone.close();
      laptop.close();
      other.close();
    }
  });

  it("validates client payloads and answers through the acknowledgement", async () => {
    const device = await connectDevice(web1, await service.token(uniqueId("v")));
    try {
      const bad = await device.socket.timeout(5000).emitWithAck("notifications:read", { ids: ["not-a-uuid"] });
      expect(bad.ok).toBe(false);
      expect(bad.error.code).toBe("validation_failed");
      const missing = await device.socket.timeout(5000).emitWithAck("notifications:seen", "nonsense");
      expect(missing.ok).toBe(false);
      // Only a callback, no payload: still answered.
      const bare = await (device.socket.timeout(5000) as unknown as { emitWithAck: (event: string) => Promise<{ ok: boolean }> }).emitWithAck("notifications:read");
      expect(bare.ok).toBe(false);
    } finally {
      device.close();
    }
  });

  it("marks a notification delivered when a device acknowledges it, and reports it in the trigger status", async () => {
    const user = uniqueId("acker");
    const device = await connectDevice(web2, await service.token(user));
    try {
      const reply = await service.trigger({ type: "follow", to: [user], actor: { id: "x", name: "X" } });
      const n = await device.waitFor("notification:new");
      expect(await device.socket.timeout(5000).emitWithAck("notification:ack", { id: n.id })).toEqual({ ok: true, delivered: true });
      const status = await eventually(async () => {
        const r = await service.status(reply.body.id);
        return r.body.channels.in_app.delivered === 1 ? r.body : undefined;
      });
      expect(status.outcomes).toEqual([
        { userId: user, channel: "in_app", status: "delivered", at: expect.any(String) },
        { userId: user, channel: "push", status: "suppressed", reason: "no_address", at: expect.any(String) },
      ]);
      // Another user's id is not theirs to acknowledge.
      const stranger = await connectDevice(web1, await service.token(uniqueId("s")));
      expect(await stranger.socket.timeout(5000).emitWithAck("notification:ack", { id: n.id })).toEqual({ ok: true, delivered: false });
      // Nor to read or see: nothing changes for its owner, who hears nothing of it.
      expect(await stranger.socket.timeout(5000).emitWithAck("notifications:read", { ids: [n.id] })).toEqual({ ok: true, count: 0 });
      expect(await stranger.socket.timeout(5000).emitWithAck("notifications:seen", { ids: [n.id] })).toEqual({ ok: true, count: 0 });
      const owner = userClient(web2, await service.token(user));
      expect((await owner.list()).body.notifications.find((x) => x.id === n.id)).toMatchObject({ read: false, seen: false });
      expect((await owner.count()).body.count).toBe(1);
      expect(device.events.filter((e) => e.event === "notifications:read" || e.event === "notifications:seen")).toEqual([]);
      stranger.close();
    } finally {
      device.close();
    }
  });
});
