// Cluster-wide metrics. Every process (web nodes, fan-out and channel workers) counts what it does
// into a small in-memory buffer that is added to Redis every FLUSH_MS (HINCRBY on one hash), so one
// `GET /metrics` on any web node reports the whole system however many processes run, and a process
// that restarts loses at most its last unflushed seconds. The web node renders those sums in the
// Prometheus text format next to prom-client's own registry (its process metrics and the gauges
// measured at scrape time: queue depth, oldest job, dead letters, sockets). prom-client aggregates
// only within one process (or a `cluster`), hence the Redis step.
import { getRedis, redisKey, type RedisClient } from "@/server/redis";

/** Counters: name → help. */
export const COUNTERS = {
  notify_triggers_total: "Triggers accepted, by priority",
  notify_notifications_created_total: "Inbox notifications stored by fan-outs (aggregation updates not included)",
  notify_notifications_updated_total: "Inbox notifications updated by aggregation",
  notify_deliveries_total: "Push, email and SMS attempts by channel and outcome (sent, failed, gone)",
} as const;

/** Histograms (seconds): name → help. */
export const HISTOGRAMS = {
  notify_trigger_to_stored_seconds: "From a trigger's acceptance until its notification is stored (each notification; a scheduled trigger includes its wait)",
  notify_trigger_to_socket_seconds: "From a trigger's acceptance until its notification is published to an online recipient's devices",
  notify_trigger_to_provider_seconds: "From a trigger's acceptance until the provider accepted a push, email or SMS, by channel (deferred, batched and digest deliveries include their wait)",
} as const;

export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type Labels = Record<string, string>;
const FLUSH_MS = 2000;
const pending = new Map<string, number>();
let timer: NodeJS.Timeout | null = null;

function seriesKey(name: string, labels: Labels): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]!] as const);
  return `${name}|${JSON.stringify(sorted)}`;
}

function add(field: string, n: number): void {
  pending.set(field, (pending.get(field) ?? 0) + n);
  if (!timer) {
    timer = setTimeout(() => void flushMetrics(), FLUSH_MS);
    timer.unref();
  }
}

export function countMetric(name: keyof typeof COUNTERS, labels: Labels = {}, n = 1): void {
  if (n > 0) add(seriesKey(name, labels), n);
}

/** `times` observations of the same value (a fan-out chunk stores many notifications at one moment). */
export function observeMetric(name: keyof typeof HISTOGRAMS, labels: Labels, seconds: number, times = 1): void {
  if (times <= 0 || !Number.isFinite(seconds)) return;
  const value = Math.max(0, seconds);
  const base = seriesKey(name, labels);
  for (const le of BUCKETS) if (value <= le) add(`${base}|le=${le}`, times);
  add(`${base}|count`, times);
  // Sums in microseconds, so the hash holds integers only.
  add(`${base}|sum_us`, Math.round(value * 1e6 * times));
}

function metricsKey(): string {
  return redisKey("metrics");
}

/** Adds what this process counted to the shared sums. Best effort: on failure the counts are kept for the next try. */
export async function flushMetrics(redis: RedisClient = getRedis()): Promise<void> {
  timer = null;
  if (pending.size === 0) return;
  const entries = [...pending];
  pending.clear();
  const pipeline = redis.pipeline();
  for (const [field, n] of entries) pipeline.hincrby(metricsKey(), field, n);
  try {
    const results = await pipeline.exec();
    // Only what did not land is kept for the next try (re-adding the rest would count it twice).
    results?.forEach(([error], i) => {
      if (error) add(entries[i]![0], entries[i]![1]);
    });
  } catch {
    for (const [field, n] of entries) add(field, n);
  }
}

/** The shared sums in the Prometheus text exposition format (counters and histograms with HELP and TYPE). */
export async function clusterMetricsText(redis: RedisClient = getRedis()): Promise<string> {
  const all = await redis.hgetall(metricsKey());
  const series = new Map<string, { name: string; labels: [string, string][]; values: Map<string, number> }>();
  for (const [field, raw] of Object.entries(all)) {
    const [name, labelsJson, part] = field.split("|") as [string, string, string | undefined];
    const key = `${name}|${labelsJson}`;
    let entry = series.get(key);
    if (!entry) {
      entry = { name, labels: JSON.parse(labelsJson) as [string, string][], values: new Map() };
      series.set(key, entry);
    }
    entry.values.set(part ?? "value", Number(raw));
  }
  const lines: string[] = [];
  const render = (labels: [string, string][]) => (labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`);
  for (const [name, help] of Object.entries(COUNTERS)) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const s of series.values()) if (s.name === name) lines.push(`${name}${render(s.labels)} ${s.values.get("value") ?? 0}`);
  }
  for (const [name, help] of Object.entries(HISTOGRAMS)) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const s of series.values()) {
      if (s.name !== name) continue;
      for (const le of BUCKETS) lines.push(`${name}_bucket${render([...s.labels, ["le", String(le)]])} ${s.values.get(`le=${le}`) ?? 0}`);
      const count = s.values.get("count") ?? 0;
      lines.push(`${name}_bucket${render([...s.labels, ["le", "+Inf"]])} ${count}`);
      lines.push(`${name}_sum${render(s.labels)} ${(s.values.get("sum_us") ?? 0) / 1e6}`);
      lines.push(`${name}_count${render(s.labels)} ${count}`);
    }
  }
  return lines.join("\n") + "\n";
}
