// The multi-key Redis work on a real Redis Cluster (three masters started here, no replicas): counts
// cache, per-recipient limits, ingestion limits, the hot cache and erasure's cleanup give exactly the
// results they give on a single Redis. On a cluster a script, MULTI or multi-key command may only touch
// keys of one hash slot (else CROSSSLOT), so each of them either splits its keys by slot or keeps its
// keys in one slot with a hash tag; the first test shows that this cluster does refuse the rest.
import { randomBytes } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDevice, eventually, serviceClient, uniqueId, userClient } from "./client";
import { startPrivateRedis, startSystem } from "./start-system";
import { startRedisCluster, type RedisClusterNodes } from "./redis-cluster-nodes";
import { startProviderStandIns } from "./provider-stand-ins";

// The server modules read their settings once, at import: a private prefix, and ingestion buckets so
// small and slow to refill that a test's few calls find them exactly as the previous call left them.
process.env.REDIS_PREFIX = `cluster_test_${randomBytes(4).toString("hex")}`;
process.env.INGEST_REQUESTS_PER_SECOND = "0.01";
process.env.INGEST_RECIPIENTS_PER_SECOND = "0.1";
process.env.INGEST_BURST_SECONDS = "300"; // buckets of 3 requests and 30 recipients
const { cacheCounts, countsKey } = await import("@/server/notifications/unread-counts");
const { decodeCounts } = await import("@/server/notifications/counts-format");
const { takeRateLimits, rateLimitKey } = await import("@/server/routing/rate-limits");
const { takeIngestion, chargeRecipients, ingestionKeys } = await import("@/server/notifications/ingestion-limits");
const { readHotCache, writeHotCache, hotCacheKey } = await import("@/server/notifications/hot-cache");
const { forgetInRedis } = await import("@/server/users/privacy");
const { syncedKey } = await import("@/server/broadcasts/broadcasts");
const { getMany, redisKey } = await import("@/server/redis");

let redisCluster: RedisClusterNodes;
let ports: number[];
let cluster: Cluster;
let single: Redis;
let stopSingle: () => Promise<void>;

beforeAll(async () => {
  redisCluster = await startRedisCluster();
  ports = redisCluster.ports;
  cluster = new Cluster(
    ports.map((port) => ({ host: "127.0.0.1", port })),
    { redisOptions: { maxRetriesPerRequest: 1 } },
  );
  await new Promise<void>((resolve, reject) => {
    cluster.once("ready", resolve);
    cluster.once("error", reject);
  });
  const started = await startPrivateRedis();
  single = new Redis(started.url);
  stopSingle = started.stop;
});

afterAll(async () => {
  cluster?.disconnect();
  single?.disconnect();
  await stopSingle?.();
  redisCluster?.stop();
});

const users = Array.from({ length: 300 }, (_, i) => `cluster-user-${i}`);

/** Each key's value on a client, one GET per key (works on both). */
async function values(redis: Redis | Cluster, keys: string[]): Promise<(string | null)[]> {
  return Promise.all(keys.map((key) => redis.get(key)));
}

describe("multi-key Redis work on a Redis Cluster", () => {
  it("runs on a cluster that refuses keys of several slots in one command", async () => {
    const slots = new Set(users.map((u) => calculateSlot(countsKey(u))));
    expect(slots.size).toBeGreaterThan(250);
    const [a, b] = [users[0]!, users.find((u) => calculateSlot(countsKey(u)) !== calculateSlot(countsKey(users[0]!)))!];
    await expect(cluster.mget(countsKey(a), countsKey(b))).rejects.toThrow(/CROSSSLOT/);
    await expect(cluster.eval("return redis.call('GET', KEYS[2])", 2, countsKey(a), countsKey(b))).rejects.toThrow(/CROSSSLOT/);
    // The keys of this test's users live on all three masters, not just one.
    const owners = new Set(users.map((u) => cluster.slots[calculateSlot(countsKey(u))]![0]));
    expect(owners.size).toBe(3);
  });

  it("caches counts for users of many slots, newer seqs only, as on a single Redis", async () => {
    const first = users.map((userId, i) => ({ userId, counts: { seq: 10 + i, count: i, unseen: i % 7 } }));
    // Then half of them newer, half older (which must not land).
    const second = users.map((userId, i) => ({ userId, counts: { seq: i % 2 === 0 ? 100 + i : 1, count: 1000 + i, unseen: 0 } }));
    for (const redis of [single, cluster]) {
      await cacheCounts(first, redis);
      await cacheCounts(second, redis);
    }
    const keys = users.map(countsKey);
    const onCluster = await values(cluster, keys);
    expect(onCluster).toEqual(await values(single, keys));
    expect(onCluster.map((v) => decodeCounts(v))).toEqual(
      users.map((_, i) => (i % 2 === 0 ? { seq: 100 + i, count: 1000 + i, unseen: 0 } : { seq: 10 + i, count: i, unseen: i % 7 })),
    );
  });

  it("counts per-recipient limits per slot, with the same answers as on a single Redis", async () => {
    const now = new Date();
    const answers: Record<string, boolean[][]> = {};
    for (const [name, redis] of [
      ["single", single],
      ["cluster", cluster],
    ] as const) {
      answers[name] = [];
      // Two triggers pass the limit of 2 an hour, the third does not, the first again counts once.
      for (const trigger of ["t1", "t2", "t3", "t1"]) {
        const allowed = await takeRateLimits("comment", trigger, users, { perHour: 2 }, now, redis);
        expect([...allowed.keys()]).toEqual(users);
        answers[name].push([...allowed.values()]);
      }
    }
    expect(answers.cluster).toEqual(answers.single);
    expect(answers.cluster!.map((round) => new Set(round))).toEqual([new Set([true]), new Set([true]), new Set([false]), new Set([true])]);
    const keys = users.map((u) => rateLimitKey("comment", u));
    expect(await Promise.all(keys.map((k) => cluster.zcard(k)))).toEqual(await Promise.all(keys.map((k) => single.zcard(k))));
  });

  it("takes and charges ingestion buckets of one service key in one slot, as on a single Redis", async () => {
    const [requests, recipients] = ingestionKeys("key-1");
    expect(calculateSlot(requests)).toBe(calculateSlot(recipients));
    const outcomes: Record<string, string[]> = {};
    for (const [name, redis] of [
      ["single", single],
      ["cluster", cluster],
    ] as const) {
      const seen: string[] = [];
      const take = async (n: number) => {
        try {
          await takeIngestion("key-1", { requestsPerSecond: null, recipientsPerSecond: null }, n, redis);
          seen.push("ok");
        } catch (error) {
          seen.push(`${(error as { code?: string }).code} ${(error as { headers?: Record<string, string> }).headers?.["Retry-After"]}`);
        }
      };
      await take(10);
      await take(25); // over the 20 recipients left
      await chargeRecipients("key-1", { requestsPerSecond: null, recipientsPerSecond: null }, 15, redis); // a topic's size: the bucket goes to 5
      await take(5);
      await take(1); // no recipients left
      await take(0); // the third request: fine without recipients
      await take(0); // no requests left
      outcomes[name] = seen;
    }
    // (Retry-After is left out of the comparison: it may be a second shorter for the later run.)
    expect(outcomes.cluster!.map((o) => o.split(" ")[0])).toEqual(outcomes.single!.map((o) => o.split(" ")[0]));
    expect(outcomes.cluster!.map((o) => o.replace(/ \d+$/, " n"))).toEqual(["ok", "rate_limited n", "ok", "rate_limited n", "ok", "rate_limited n"]);
  });

  it("reads and writes the hot cache beside the counts in one slot, as on a single Redis", async () => {
    const userId = "cluster-hot-user";
    expect(calculateSlot(countsKey(userId))).toBe(calculateSlot(hotCacheKey(userId)));
    const cached = { notifications: [], more: false };
    const pages: Record<string, unknown[]> = {};
    for (const [name, redis] of [
      ["single", single],
      ["cluster", cluster],
    ] as const) {
      const seen: unknown[] = [];
      await cacheCounts([{ userId, counts: { seq: 5, count: 1, unseen: 1 } }], redis);
      await writeHotCache(userId, 5, cached, redis);
      seen.push(await readHotCache(userId, 10, redis)); // the page of seq 5
      await cacheCounts([{ userId, counts: { seq: 6, count: 2, unseen: 2 } }], redis);
      seen.push(await readHotCache(userId, 10, redis)); // none: the user moved on to seq 6
      await writeHotCache(userId, 4, cached, redis); // never over a newer page
      expect(await redis.lindex(hotCacheKey(userId), 0)).toBe("5|0");
      pages[name] = seen;
    }
    expect(pages.cluster).toEqual(pages.single);
    expect(pages.cluster).toEqual([{ notifications: [], nextCursor: null, lastSeq: 5 }, null]);
  });

  it("reads keys of several slots in one call (the broadcast markers)", async () => {
    const keys = [redisKey("broadcast-latest"), ...users.slice(0, 50).map(syncedKey)];
    for (const redis of [single, cluster]) {
      await redis.set(keys[0]!, "123");
      await redis.set(keys[7]!, "456");
    }
    const onCluster = await getMany(cluster, keys);
    expect(onCluster).toEqual(await getMany(single, keys));
    expect(onCluster).toEqual(keys.map((_, i) => (i === 0 ? "123" : i === 7 ? "456" : null)));
  });

  it("erases a user's entries of every slot and no one else's, as on a single Redis", async () => {
    const [gone, kept] = ["cluster-gone", "cluster-kept"];
    const types = ["comment", "mention", "digest"];
    const keysOf = (userId: string) => [countsKey(userId), hotCacheKey(userId), syncedKey(userId), ...types.map((t) => rateLimitKey(t, userId))];
    expect(new Set(keysOf(gone).map((k) => calculateSlot(k))).size).toBeGreaterThan(1);
    const left: Record<string, unknown> = {};
    for (const [name, redis] of [
      ["single", single],
      ["cluster", cluster],
    ] as const) {
      for (const key of [...keysOf(gone), ...keysOf(kept)]) await redis.set(key, "x");
      await redis.zadd(redisKey("online"), Date.now() + 60_000, gone, Date.now() + 60_000, kept);
      await forgetInRedis(gone, types, redis);
      left[name] = {
        gone: await values(redis, keysOf(gone)),
        kept: await values(redis, keysOf(kept)),
        online: await redis.zrange(redisKey("online"), 0, -1),
      };
    }
    expect(left.cluster).toEqual(left.single);
    expect(left.cluster).toEqual({ gone: keysOf(gone).map(() => null), kept: keysOf(kept).map(() => "x"), online: [kept] });
  });
});

describe("the system on a Redis Cluster (REDIS_CLUSTER_NODES)", () => {
  it("accepts, fans out, publishes, caches, reads and erases with every process on the cluster", async () => {
    // REDIS_URL points at the private single Redis, which no process uses while REDIS_CLUSTER_NODES is
    // set: the system's keys must all be on the cluster.
    const system = await startSystem({
      webNodes: 2,
      relays: 1,
      fanoutWorkers: 1,
      redisUrl: `redis://127.0.0.1:${single.options.port}`,
      env: { REDIS_CLUSTER_NODES: redisCluster.nodesEnv },
    });
    try {
      const [web1, web2] = system.webUrls as [string, string];
      const service = serviceClient(web1, system.serviceKey);
      const user = uniqueId("on-cluster");
      const token = await service.token(user);
      const device = await connectDevice(web2, token);
      try {
        const reply = await service.trigger({ type: "mention", to: [user], actor: { id: "bob", name: "Bob" }, data: { excerpt: "hi" } });
        expect(reply.status, JSON.stringify(reply.body)).toBe(202);
        const live = await device.waitFor("notification:new");
        expect(live).toMatchObject({ title: "Bob mentioned you", seq: 1 });
        await eventually(async () => ((await service.status(reply.body.id)).body.status === "completed" ? true : undefined));
        // The dropdown's page twice: the second read is served by the hot cache (counts and page in one pipeline).
        const client = userClient(web1, token);
        const first = await client.list("?limit=10");
        expect(first.status).toBe(200);
        expect(await cluster.lindex(`${system.redisPrefix}:inbox:{${user}}`, 0)).toMatch(/^1\|/);
        const second = await client.list("?limit=10");
        expect(second.body).toEqual(first.body);
        expect((await client.count()).body).toMatchObject({ count: 1, seq: 1 });
        expect(await cluster.get(`${system.redisPrefix}:unread:{${user}}`)).toBe("1:1:1");
        // A read on one web node reaches the device on the other (the Socket.IO adapter on the cluster).
        expect((await client.post("/api/notifications/read", { ids: [live.id] })).status).toBe(200);
        await device.waitFor("unread_count", (c) => c.count === 0);
        // Erasure removes the user's entries from the cluster.
        expect((await service.call("DELETE", `/api/v1/users/${user}`)).status).toBe(200);
        expect(await cluster.exists(`${system.redisPrefix}:unread:{${user}}`, `${system.redisPrefix}:inbox:{${user}}`)).toBe(0);
      } finally {
        device.close();
      }
      // Nothing went to the single Redis of REDIS_URL.
      expect(await single.keys(`${system.redisPrefix}:*`)).toEqual([]);
    } finally {
      await system.stop();
    }
  });

  it("the channel queues on the cluster: an email refused with 503, retried and sent exactly once", async () => {
    const providers = await startProviderStandIns({ emailKey: "re_cluster_key", smsSid: "AC123", smsToken: "sms-token" });
    const system = await startSystem({
      webNodes: 1,
      relays: 1,
      fanoutWorkers: 1,
      channelWorkers: 2,
      redisUrl: `redis://127.0.0.1:${single.options.port}`,
      env: {
        REDIS_CLUSTER_NODES: redisCluster.nodesEnv,
        RESEND_API_KEY: "re_cluster_key",
        RESEND_BASE_URL: providers.url,
        EMAIL_FROM: "Notify <notify@example.com>",
        CHANNEL_BACKOFF_MS: "100",
        CHANNEL_BACKOFF_MAX_MS: "500",
        EMAIL_RATE_PER_SECOND: "10",
        PUBLIC_URL: "https://notify.test",
      },
    });
    try {
      const service = serviceClient(system.webUrls[0]!, system.serviceKey);
      const users = [uniqueId("cluster-mail"), uniqueId("cluster-mail")];
      for (const user of users) expect((await service.call("PUT", `/api/v1/users/${user}`, { name: "Robin", email: `${user}@example.com` })).status).toBe(200);
      providers.failWith("email", { status: 503, times: 2 });
      const reply = await service.trigger({ type: "comment", to: users, actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "p1" }, data: { excerpt: "hi" } });
      expect(reply.status, JSON.stringify(reply.body)).toBe(202);
      await eventually(async () => ((await service.status(reply.body.id)).body.channels?.email?.sent === 2 ? true : undefined), 20_000, "both emails sent");
      for (const user of users) expect(providers.sent.email.filter((e) => (e.body.to as string[])[0] === `${user}@example.com`)).toHaveLength(1);
      expect(providers.attempts.email).toBe(4);
      // The queues' keys are on the cluster, none on the single Redis of REDIS_URL.
      expect(await single.keys(`${system.redisPrefix}:*`)).toEqual([]);
      const queueKeys = (await Promise.all(cluster.nodes("master").map((node) => node.keys(`${system.redisPrefix}:*email*`)))).flat();
      expect(queueKeys.length).toBeGreaterThan(0);
    } finally {
      await system.stop();
      await providers.stop();
    }
  });
});
