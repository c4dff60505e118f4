// GET /metrics on a web node (served by server.ts, outside Next.js): prom-client's registry with this
// process's metrics and the gauges measured now, followed by the cluster-wide counters and
// histograms every process adds to Redis (metrics.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Queue } from "bullmq";
import { env } from "@/server/env";
import { pool } from "@/server/db";
import { getRedis, redisKey } from "@/server/redis";
import { fastFanoutBacklog, getFanoutQueue, queueNames } from "@/server/queues";
import { getChannelQueue, SENDING_CHANNELS, channelQueueName } from "@/server/channels/channel-queues";
import { clusterMetricsText, flushMetrics } from "@/server/metrics/metrics";
import { logger } from "@/server/logger";

const JOB_STATES = ["waiting", "prioritized", "active", "delayed", "failed"] as const;

export function createMetricsHandler(localSockets: () => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "notify_web_" });
  const queues = (): [string, Queue][] => [
    [queueNames.fanout, getFanoutQueue() as unknown as Queue],
    ...SENDING_CHANNELS.map((c) => [channelQueueName(c), getChannelQueue(c) as unknown as Queue] as [string, Queue]),
  ];
  new Gauge({
    name: "notify_queue_jobs",
    help: "Jobs per queue and state",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [name, queue] of queues()) {
        const counts = await queue.getJobCounts(...JOB_STATES);
        // The fan-out queue's fast path waits beside its jobs.
        if (name === queueNames.fanout) counts.waiting = (counts.waiting ?? 0) + (await fastFanoutBacklog()).waiting;
        for (const state of JOB_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: "notify_queue_oldest_job_age_seconds",
    help: "Age of the oldest job waiting in each queue (0 when none waits)",
    labelNames: ["queue"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [name, queue] of queues()) {
        const oldest = await Promise.all((["waiting", "prioritized"] as const).map(async (state) => (await queue.getJobs([state], 0, 0, true))[0]?.timestamp));
        if (name === queueNames.fanout) oldest.push((await fastFanoutBacklog()).oldestAt ?? undefined);
        const timestamps = oldest.filter((t): t is number => typeof t === "number");
        this.set({ queue: name }, timestamps.length > 0 ? Math.max(0, (Date.now() - Math.min(...timestamps)) / 1000) : 0);
      }
    },
  });
  new Gauge({
    name: "notify_dead_letters",
    help: "Dead letters waiting for an admin (neither replayed nor discarded), by channel",
    labelNames: ["channel"],
    registers: [registry],
    async collect() {
      this.reset();
      const { rows } = await pool.query<{ channel: string; n: number }>(
        "SELECT channel, count(*)::int AS n FROM dead_letters WHERE replayed_at IS NULL AND discarded_at IS NULL GROUP BY channel",
      );
      for (const channel of SENDING_CHANNELS) this.set({ channel }, rows.find((r) => r.channel === channel)?.n ?? 0);
    },
  });
  new Gauge({
    name: "notify_sockets_connected",
    help: "Socket.IO connections on this web node",
    registers: [registry],
    collect() {
      this.set(localSockets());
    },
  });
  new Gauge({
    name: "notify_users_online",
    help: "Users with a socket open on any web node",
    registers: [registry],
    async collect() {
      this.set(await getRedis().zcount(redisKey("online"), Date.now(), "+inf"));
    },
  });

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (env.METRICS_TOKEN && !tokenMatches(req.headers.authorization, env.METRICS_TOKEN)) {
      res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ error: { code: "unauthorized", message: "GET /metrics needs the metrics token (Authorization: Bearer <METRICS_TOKEN>)." } }));
      return;
    }
    try {
      await flushMetrics();
      const [own, cluster] = await Promise.all([registry.metrics(), clusterMetricsText()]);
      res.writeHead(200, { "Content-Type": registry.contentType, "Cache-Control": "no-store" }).end(own + cluster);
    } catch (error) {
      logger.error({ err: error }, "metrics failed");
      res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "5" }).end(JSON.stringify({ error: { code: "unavailable", message: "Metrics are unavailable; try again shortly." } }));
    }
  };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
