// The web node's per-trigger Redis writes are grouped when they come together: the ingestion limit's
// scripts (one pipeline, one write) and the fast path's ZADDs (one command of several members); and a
// key far from its ingestion limit does not wait for its script at all. Real Redis; the code under
// test runs in this process against the shared test system.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { useSystemInProcess } from "./start-system";

const system = inject("system");
// A prefix of its own: the system's fan-out workers would pop these triggers from the shared one.
// A long wait for Redis: on a busy machine a late answer must not count as "accepted without limits".
const closeModules = useSystemInProcess(system, { REDIS_PREFIX: `grouping${randomUUID().slice(0, 8)}`, INGEST_REDIS_WAIT_MS: "10000" });
const { env } = await import("@/server/env");
const { ingestionKeys, takeIngestion } = await import("@/server/notifications/ingestion-limits");
const { enqueueFastFanout, fastFanoutKey } = await import("@/server/queues");

afterAll(async () => {
  await closeModules();
});

describe("grouped Redis writes", () => {
  it("ingestion takes that wait for one in flight go as one write, and each gets its own answer", async () => {
    const redis = new Redis(system.redisUrl);
    try {
      await redis.ping();
      const stream = (redis as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
      const write = stream.write.bind(stream);
      let writes = 0;
      stream.write = (...args: unknown[]) => (writes++, write(...args));
      const keyId = `grouping-${randomUUID()}`;
      // One request a second: a burst of INGEST_BURST_SECONDS requests, fewer than 20.
      const limits = { requestsPerSecond: 1, recipientsPerSecond: 0 };
      const burst = env.INGEST_BURST_SECONDS;
      expect(burst).toBeLessThan(20);
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () =>
          takeIngestion(keyId, limits, 1, redis).then(
            () => "accepted",
            (error: { code?: string }) => error.code ?? "error",
          ),
        ),
      );
      // The first alone (its script loaded first), then the 19 that waited in one pipeline.
      expect(writes).toBeGreaterThanOrEqual(2);
      expect(writes).toBeLessThanOrEqual(3);
      expect(outcomes.filter((o) => o === "accepted")).toHaveLength(burst);
      expect(outcomes.filter((o) => o === "rate_limited")).toHaveLength(20 - burst);
      // In order of arrival: the accepted ones are the first.
      expect(outcomes.indexOf("rate_limited")).toBe(burst);
    } finally {
      redis.disconnect();
    }
  });

  it("a key far from its limit is admitted without waiting for Redis and still charged; near it, each request waits and none passes the limit", async () => {
    const redis = new Redis(system.redisUrl);
    try {
      const keyId = `admit-${randomUUID()}`;
      // 10 requests a second: a burst of 10 × INGEST_BURST_SECONDS, refilling by one every 100 ms.
      const limits = { requestsPerSecond: 10, recipientsPerSecond: 0 };
      const capacity = 10 * env.INGEST_BURST_SECONDS;
      const started = performance.now();
      let admittedAtOnce = 0;
      const outcomes: string[] = [];
      for (let i = 0; i < capacity + 20; i++) {
        let settled = false;
        const take = takeIngestion(keyId, limits, 0, redis).then(
          () => "accepted",
          (error: { code?: string }) => error.code ?? "error",
        );
        void take.then(() => (settled = true));
        // Only microtasks run here, no I/O: settled now means Redis was not waited for.
        for (let turn = 0; turn < 10; turn++) await Promise.resolve();
        if (settled) admittedAtOnce++;
        outcomes.push(await take);
      }
      const seconds = (performance.now() - started) / 1000;
      // The first asks (nothing known yet); then all but the last tenth of the burst go at once.
      expect(admittedAtOnce).toBeGreaterThanOrEqual(capacity * 0.8);
      expect(outcomes[0]).toBe("accepted");
      const accepted = outcomes.filter((o) => o === "accepted").length;
      // Never past the burst plus what refilled meanwhile, and every refusal is the limit's.
      expect(accepted).toBeGreaterThanOrEqual(capacity);
      expect(accepted).toBeLessThanOrEqual(capacity + Math.ceil(seconds * 10) + 1);
      expect(outcomes.filter((o) => o !== "accepted").every((o) => o === "rate_limited")).toBe(true);
      // Every admitted request was charged: the bucket holds what the accepted ones left.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const tokens = Number(await redis.hget(ingestionKeys(keyId)[0], "tokens"));
      expect(tokens).toBeLessThan(1);
    } finally {
      redis.disconnect();
    }
  });

  it("fast-path adds that wait for one in flight go as one ZADD, and every trigger is queued", async () => {
    const monitor = new Redis(system.redisUrl, { monitor: true });
    // ioredis can take a monitored line that arrives as it switches to monitor mode for a reply and
    // report a "command queue state" error on this connection; such a line is never one of ours
    // (they are sent 100 ms later), so the error is dropped rather than failing the test.
    monitor.on("error", () => undefined);
    await new Promise((resolve) => monitor.once("monitoring", resolve));
    const zadds: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === "zadd" && args[1] === fastFanoutKey("low")) zadds.push(args);
    });
    const reader = new Redis(system.redisUrl);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const ids = Array.from({ length: 30 }, () => randomUUID());
      await Promise.all(ids.map((id) => enqueueFastFanout(id, "low")));
      const scores = await Promise.all(ids.map((id) => reader.zscore(fastFanoutKey("low"), id)));
      expect(scores.every((s) => s !== null)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const ours = zadds.filter((args) => ids.some((id) => args.includes(id)));
      expect(ours.map((args) => (args.length - 3) / 2)).toEqual([1, 29]);
      await reader.zrem(fastFanoutKey("low"), ...ids);
    } finally {
      monitor.disconnect();
      reader.disconnect();
    }
  });
});
