// The admin overview (GET /api/v1/admin/overview): sent and failed per channel in time buckets, the
// depth of every queue now, and the in-app funnel sent → delivered → opened → clicked, for one window.
//
// Cost: two PostgreSQL statements, each a scan of the window's rows only, found by a BRIN index
// (notifications.created_at, delivery_attempts.at; both tables are appended in about time order, so
// a BRIN index finds the window's pages for almost no write cost), plus one BullMQ count per queue.
// The work grows with the traffic of the window, not with the tables; windows are at most 24 h, and
// one answer per window is shared by every request to this node for SHARE_MS, however many admins
// have the page open. A request that names the activity it was told about (`since`, see
// `admin:activity`) shares only an answer that began reading after it, so a live page never gets
// numbers older than the event that made it ask.
import type { Queue } from "bullmq";
import { pool } from "@/server/db";
import { now } from "@/server/clock";
import { logger } from "@/server/logger";
import { fastFanoutBacklog, getFanoutQueue } from "@/server/queues";
import { getChannelQueue, SENDING_CHANNELS } from "@/server/channels/channel-queues";
import { OVERVIEW_CHANNELS, OVERVIEW_QUEUES, OVERVIEW_WINDOWS, type Overview, type OverviewChannel, type OverviewQuery } from "@/server/metrics/overview.schema";

const SHARE_MS = 2_000;
const shared = new Map<string, { at: number; answer: Promise<Overview> }>();

/** The overview of the last `window`, computed at most once per SHARE_MS per window on this node. */
export function getOverview(query: OverviewQuery): Promise<Overview> {
  const hit = shared.get(query.window);
  // A `since` ahead of this node's clock (another host's clock runs ahead) is taken as now: an
  // answer begun from now on is fresh enough, and the event cannot be later than that.
  const since = query.since === undefined ? 0 : Math.min(Date.parse(query.since), Date.now());
  const fresh = hit && Date.now() - hit.at < SHARE_MS && hit.at >= since;
  if (hit && fresh) return hit.answer;
  const answer = computeOverview(query);
  shared.set(query.window, { at: Date.now(), answer });
  // A failure is not shared: the next request tries again.
  answer.catch(() => shared.delete(query.window));
  return answer;
}

type SentFailed = { sent: number; failed: number };
const emptyChannels = (): Record<OverviewChannel, SentFailed> => ({ in_app: { sent: 0, failed: 0 }, push: { sent: 0, failed: 0 }, email: { sent: 0, failed: 0 }, sms: { sent: 0, failed: 0 } });

async function computeOverview({ window }: OverviewQuery): Promise<Overview> {
  const { seconds, bucketSeconds } = OVERVIEW_WINDOWS[window];
  const to = now();
  // Buckets aligned to whole bucket sizes since the epoch, the last one holding `to`.
  const lastStart = Math.floor(to.getTime() / 1000 / bucketSeconds) * bucketSeconds;
  const bucketCount = seconds / bucketSeconds;
  const firstStart = lastStart - (bucketCount - 1) * bucketSeconds;
  const from = new Date(firstStart * 1000);

  const [inApp, attempts, queues] = await Promise.all([
    // One scan for both the in-app throughput and the funnel. A notification's created_at is its
    // trigger's acceptance time (so a scheduled trigger counts from when it was accepted).
    pool.query<{ bucket: string; sent: number; delivered: number; opened: number; clicked: number }>(
      `SELECT floor(extract(epoch FROM created_at) / $3)::bigint * $3 AS bucket, count(*)::int AS sent,
              count(delivered_at)::int AS delivered, count(seen_at)::int AS opened, count(clicked_at)::int AS clicked
         FROM notifications WHERE created_at >= $1 AND created_at <= $2 GROUP BY 1`,
      [from, to, bucketSeconds],
    ),
    pool.query<{ bucket: string; channel: string; sent: number; failed: number }>(
      `SELECT floor(extract(epoch FROM at) / $3)::bigint * $3 AS bucket, channel,
              count(*) FILTER (WHERE outcome = 'sent')::int AS sent, count(*) FILTER (WHERE outcome <> 'sent')::int AS failed
         FROM delivery_attempts WHERE at >= $1 AND at <= $2 GROUP BY 1, 2`,
      [from, to, bucketSeconds],
    ),
    queueDepths(),
  ]);

  const buckets = Array.from({ length: bucketCount }, (_, i) => ({ at: new Date((firstStart + i * bucketSeconds) * 1000).toISOString(), channels: emptyChannels() }));
  const totals = emptyChannels();
  const bucketOf = (start: string) => buckets[(Number(start) - firstStart) / bucketSeconds];
  const funnel = { sent: 0, delivered: 0, opened: 0, clicked: 0 };
  for (const row of inApp.rows) {
    const bucket = bucketOf(row.bucket);
    if (bucket) bucket.channels.in_app.sent += row.sent;
    totals.in_app.sent += row.sent;
    funnel.sent += row.sent;
    funnel.delivered += row.delivered;
    funnel.opened += row.opened;
    funnel.clicked += row.clicked;
  }
  for (const row of attempts.rows) {
    if (!(OVERVIEW_CHANNELS as readonly string[]).includes(row.channel)) continue;
    const channel = row.channel as OverviewChannel;
    const bucket = bucketOf(row.bucket);
    if (bucket) {
      bucket.channels[channel].sent += row.sent;
      bucket.channels[channel].failed += row.failed;
    }
    totals[channel].sent += row.sent;
    totals[channel].failed += row.failed;
  }
  return { window, bucketSeconds, from: from.toISOString(), to: to.toISOString(), buckets, totals, queues, funnel };
}

/** Jobs per queue now, as /metrics reports them; null (not an error) when Redis does not answer, so the rest still shows. */
async function queueDepths(): Promise<Overview["queues"]> {
  const queues: [(typeof OVERVIEW_QUEUES)[number], Queue][] = [
    ["fanout", getFanoutQueue() as unknown as Queue],
    ...SENDING_CHANNELS.map((c): [(typeof OVERVIEW_QUEUES)[number], Queue] => [c, getChannelQueue(c) as unknown as Queue]),
  ];
  try {
    return await Promise.all(
      queues.map(async ([queue, q]) => {
        const counts = await q.getJobCounts("waiting", "prioritized", "active", "delayed", "failed");
        // The fan-out queue's fast path waits beside its jobs.
        const fast = queue === "fanout" ? (await fastFanoutBacklog()).waiting : 0;
        return { queue, waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + fast, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
      }),
    );
  } catch (error) {
    logger.warn({ err: error }, "overview: queue depths unavailable");
    return null;
  }
}
