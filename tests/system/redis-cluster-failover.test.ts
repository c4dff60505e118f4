// The system on a Redis Cluster with replicas (three masters, one replica each, started here) when the
// master holding the fan-out queue dies: its replica takes over, and a trigger accepted after the
// failover (the API may answer 503 while it runs) still reaches the recipient exactly once: in the
// inbox, on the device's socket, with the right counts. A trigger accepted just before may lose its
// queued job with the master (replication is asynchronous); the outbox relay queues it again.
import calculateSlot from "cluster-key-slot";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDevice, eventually, serviceClient, uniqueId, userClient } from "./client";
import { startPrivateRedis, startSystem, type System } from "./start-system";
import { startRedisCluster, type RedisClusterNodes } from "./redis-cluster-nodes";

let redisCluster: RedisClusterNodes;
let ports: number[];
let system: System;
let stopSingle: () => Promise<void>;

/** Each node's view: port → role and slot ranges ("master" with ranges, or "slave"). */
async function topology(alive: number[]): Promise<Map<number, { master: boolean; slots: [number, number][] }>> {
  const client = new Redis(alive[0]!, "127.0.0.1");
  try {
    const text = (await client.cluster("NODES")) as string;
    const view = new Map<number, { master: boolean; slots: [number, number][] }>();
    for (const line of text.trim().split("\n")) {
      const [, address, flags, , , , , state, ...slots] = line.split(" ");
      const port = Number(address!.split(":")[1]!.split("@")[0]);
      if (state !== "connected" || flags!.includes("fail")) continue;
      view.set(port, {
        master: flags!.includes("master"),
        slots: slots.filter((s) => !s.startsWith("[")).map((s) => (s.includes("-") ? (s.split("-").map(Number) as [number, number]) : [Number(s), Number(s)])),
      });
    }
    return view;
  } finally {
    client.disconnect();
  }
}

const ownerOf = (view: Awaited<ReturnType<typeof topology>>, slot: number) =>
  [...view].find(([, node]) => node.master && node.slots.some(([a, b]) => slot >= a && slot <= b))?.[0];

beforeAll(async () => {
  // A dead master is noticed after a second, and its replica promoted.
  redisCluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  ports = redisCluster.ports;
  await eventually(async () => {
    const view = await topology(ports);
    return [...view.values()].filter((n) => n.master).length === 3 && view.size === 6 ? true : undefined;
  }, 30_000, "three masters and three replicas");
  const single = await startPrivateRedis();
  stopSingle = single.stop;
  system = await startSystem({
    webNodes: 1,
    relays: 1,
    fanoutWorkers: 1,
    redisUrl: single.url,
    env: { REDIS_CLUSTER_NODES: redisCluster.nodesEnv, OUTBOX_GRACE_MS: "2000", OUTBOX_REDELIVER_MS: "3000" },
  });
}, 120_000);

afterAll(async () => {
  await system?.stop();
  await stopSingle?.();
  redisCluster?.stop();
});

describe("a Redis Cluster master fails over", () => {
  it("the fan-out queue's master dies: its replica takes over and every trigger reaches the user exactly once", async () => {
    const service = serviceClient(system.webUrls[0]!, system.serviceKey);
    const user = uniqueId("failover");
    const token = await service.token(user);
    const device = await connectDevice(system.webUrls[0]!, token);
    const accept = async (title: string) => {
      // While the cluster fails over, the API may refuse (503); a service tries again.
      return eventually(async () => {
        const reply = await service.trigger({ type: "comment", to: [user], title, actor: { id: "ann", name: "Ann" } });
        return reply.status === 202 ? (reply.body.id as string) : undefined;
      }, 30_000, `${title} accepted`);
    };
    try {
      const before = await accept("before the failover");
      await device.waitFor("notification:new", (n) => n.title === "before the failover");
      await eventually(async () => ((await service.status(before)).body.status === "completed" ? true : undefined));

      const queueSlot = calculateSlot("fanout");
      const view = await topology(ports);
      const victim = ownerOf(view, queueSlot)!;
      expect(victim).toBeDefined();
      redisCluster.kill(victim);
      const alive = ports.filter((p) => p !== victim);
      const during = await accept("during the failover");
      // A replica now serves the queue's slot.
      await eventually(async () => {
        const now = await topology(alive).catch(() => null);
        const owner = now && ownerOf(now, queueSlot);
        return owner && owner !== victim ? owner : undefined;
      }, 30_000, "a replica promoted");
      const after = await accept("after the failover");

      for (const id of [during, after]) await eventually(async () => ((await service.status(id)).body.status === "completed" ? true : undefined), 30_000, `trigger ${id} completed`);
      const page = await userClient(system.webUrls[0]!, token).list("?limit=10");
      expect(page.status).toBe(200);
      expect(page.body.notifications.map((n) => n.title).sort()).toEqual(["after the failover", "before the failover", "during the failover"]);
      expect((await userClient(system.webUrls[0]!, token).count()).body).toMatchObject({ count: 3 });
      // The device saw it live: the Socket.IO adapter's pub/sub moved to the surviving nodes too.
      await device.waitFor("notification:new", (n) => n.title === "after the failover", 30_000);
    } finally {
      device.close();
    }
  });
});
