// Events to users travel as batches: what one process publishes in a tick is one message on the
// user-events channel, which every web node emits to its own sockets (server/realtime/publish.ts,
// socket-server.ts). Real web nodes, real Redis, real socket.io clients; the publisher is this process.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectDevice, eventually, serviceClient, uniqueId, type Device } from "./client";
import { useSystemInProcess } from "./start-system";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const closeModules = useSystemInProcess(system);
const { closePublisher, publishToUser, userEventsChannel } = await import("@/server/realtime/publish");

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
