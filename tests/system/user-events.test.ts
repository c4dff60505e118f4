// Events to users travel as batches: what one process publishes in a tick is one message on the
// user-events channel, which every web node emits to its own sockets (server/realtime/publish.ts,
// socket-server.ts); a small fan-out's go with their counts in one script (publish-with-counts.ts). Real web nodes, real Redis, real socket.io clients; the publisher is this process.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectDevice, eventually, serviceClient, uniqueId, type Device } from "./client";
import { useSystemInProcess } from "./start-system";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const closeModules = useSystemInProcess(system);
const { closePublisher, publishToUser, userEventsChannel } = await import("@/server/realtime/publish");
const { cacheCountsAndPublish } = await import("@/server/realtime/publish-with-counts");
const { countsKey } = await import("@/server/notifications/unread-counts");
const { filterOnline } = await import("@/server/realtime/presence");

let listener: Redis;
const messages: unknown[][] = [];

beforeAll(async () => {
  listener = new Redis(system.redisUrl);
  listener.on("message", (channel: string, message: string) => {
    // The junk the second test publishes is not a batch.
    if (channel === userEventsChannel() && message.startsWith("[[")) messages.push(JSON.parse(message) as unknown[]);
  });
  await listener.subscribe(userEventsChannel());
});

afterAll(async () => {
  await listener?.quit();
  await closeModules();
});

const counts = (device: Device) => device.events.filter((e) => e.event === "unread_count").map((e) => (e.payload as { count: number }).count);

describe("events to users", () => {
  it("go out as one message per tick (at most 256 events each), in order, to every node's sockets of that user only", async () => {
    const alice = uniqueId("batch-alice");
    const eve = uniqueId("batch-eve");
    const token = await service.token(alice);
    const [phone, laptop, other] = await Promise.all([connectDevice(web1, token), connectDevice(web2, token), connectDevice(web2, await service.token(eve))]);
    try {
      const before = messages.length;
      for (let count = 1; count <= 300; count++) {
        publishToUser(alice, "unread_count", { count, unseen: count, seq: count });
        if (count === 150) publishToUser(eve, "unread_count", { count: -1, unseen: 0, seq: 1 });
      }
      const sent = [...Array(300).keys()].map((i) => i + 1);
      // Wait for all of them (or fewer if some never come), then compare the order.
      await eventually(async () => (counts(phone).length >= 300 && counts(laptop).length >= 300 && counts(other).length >= 1) || undefined, 10_000, "the events").catch(() => undefined);
      expect(counts(phone)).toEqual(sent);
      expect(counts(laptop)).toEqual(sent);
      expect(counts(other)).toEqual([-1]);
      const ours = messages.slice(before).filter((m) => m.some((e) => (e as string[])[0] === alice));
      expect(ours.map((m) => m.length)).toEqual([256, 45]);
      expect(ours[0]![0]).toEqual([alice, "unread_count", { count: 1, unseen: 1, seq: 1 }]);
      expect(ours[0]![150]).toEqual([eve, "unread_count", { count: -1, unseen: 0, seq: 1 }]);
    } finally {
      for (const device of [phone, laptop, other]) device.socket.close();
    }
  });

  it("a small fan-out's counts and events go as one script: counts cached (seq-guarded) before the events leave, only online recipients' events sent, after what this process gathered before", async () => {
    const online = uniqueId("counted-online");
    const offline = uniqueId("counted-offline");
    const device = await connectDevice(web1, await service.token(online));
    const reader = new Redis(system.redisUrl);
    // A subscriber that reads the counts cache as each message arrives.
    const seen: { message: string; counts: string | null }[] = [];
    const watcher = new Redis(system.redisUrl);
    watcher.on("message", (_channel: string, message: string) => {
      if (message.includes(online)) void reader.get(countsKey(online)).then((counts) => seen.push({ message, counts }));
    });
    await watcher.subscribe(userEventsChannel());
    try {
      await eventually(async () => (await filterOnline([online])).length === 1 || undefined, 10_000, "the device counted as online");
      const before = messages.length;
      publishToUser(online, "unread_count", { count: 0, unseen: 0, seq: 6 });
      const result = await cacheCountsAndPublish([
        { userId: online, counts: { seq: 7, count: 3, unseen: 2 }, events: [["unread_count", { count: 3, unseen: 2, seq: 7 }]] },
        { userId: offline, counts: { seq: 4, count: 1, unseen: 1 }, events: [["unread_count", { count: 1, unseen: 1, seq: 4 }]] },
      ]);
      expect(result).toEqual({ cached: true, published: 1 });
      expect(await reader.get(countsKey(online))).toBe("7:3:2");
      expect(await reader.get(countsKey(offline))).toBe("4:1:1");
      // Older counts never replace newer ones.
      await cacheCountsAndPublish([{ userId: online, counts: { seq: 5, count: 9, unseen: 9 }, events: [] }]);
      expect(await reader.get(countsKey(online))).toBe("7:3:2");

      await eventually(async () => (counts(device).length >= 2 && seen.length >= 2) || undefined, 10_000, "both events");
      // The event gathered before goes first; then the counted one, whose counts were cached when it arrived.
      expect(counts(device)).toEqual([0, 3]);
      expect(seen[1]!.counts).toBe("7:3:2");
      const ours = messages.slice(before).filter((m) => m.some((e) => [online, offline].includes((e as string[])[0]!)));
      expect(ours).toEqual([[[online, "unread_count", { count: 0, unseen: 0, seq: 6 }]], [[online, "unread_count", { count: 3, unseen: 2, seq: 7 }]]]);
    } finally {
      device.socket.close();
      reader.disconnect();
      watcher.disconnect();
    }
  });

  it("a node ignores what on the channel is not a batch of events and goes on delivering", async () => {
    const bob = uniqueId("batch-bob");
    const phone = await connectDevice(web1, await service.token(bob));
    try {
      const publisher = new Redis(system.redisUrl);
      try {
        for (const junk of ["not json", "{}", "[1, 2]", JSON.stringify([[bob], [42, "unread_count", {}], null, [bob, "disconnect", {}], [bob, "unread_count", { count: 6, unseen: 6, seq: 6 }]])]) await publisher.publish(userEventsChannel(), junk);
      } finally {
        await publisher.quit();
      }
      publishToUser(bob, "unread_count", { count: 7, unseen: 7, seq: 7 });
      await eventually(async () => counts(phone).length > 1 || undefined, 10_000, "the events").catch(() => undefined);
      // The valid event after a reserved name in the same message was still emitted.
      expect(counts(phone)).toEqual([6, 7]);
      const health = await fetch(`${web1}/api/health`);
      expect(health.status).toBe(200);
    } finally {
      phone.socket.close();
    }
  });

  it("what was published just before the publisher closes still goes out", async () => {
    const carol = uniqueId("batch-carol");
    const before = messages.length;
    publishToUser(carol, "unread_count", { count: 1, unseen: 1, seq: 1 });
    await closePublisher();
    await eventually(async () => messages.slice(before).some((m) => m.some((e) => (e as string[])[0] === carol)) || undefined, 5_000, "the message").catch(() => undefined);
    expect(messages.slice(before).flat()).toContainEqual([carol, "unread_count", { count: 1, unseen: 1, seq: 1 }]);
  });
});
