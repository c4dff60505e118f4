import { existsSync } from "node:fs";
import { z } from "zod";

// Every process (web, socket, workers, scripts) imports this module first, so a bad variable fails at
// start with one clear line. Variables already set in the environment win over `.env`.
if (typeof process.loadEnvFile === "function" && existsSync(".env") && !process.env.NEXT_RUNTIME) {
  process.loadEnvFile(".env");
}

const booleanish = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off", ""])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

const DEV_AUTH_SECRET = "dev-only-secret-change-me-dev-only-secret-change-me";

const envSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** Address the web node listens on (not HOSTNAME: shells and containers set that to the machine name). */
    BIND_ADDRESS: z.string().default("0.0.0.0"),
    /**
     * How long a web node keeps an idle kept-alive HTTP connection open. Longer than a load balancer's
     * own idle timeout (60 s on the common ones), so the balancer, not the node, closes it: a node that
     * closes first can race a request the balancer is sending on it, which then fails with a reset.
     */
    HTTP_KEEP_ALIVE_MS: z.coerce.number().int().min(1000).max(600_000).default(65_000),
    /**
     * How far a web node's V8 old generation may grow past its live heap before a major GC, in
     * percent (V8's --heap-growing-percent; 0 leaves V8's own factor, which settles near 15% here).
     * A node holding many sockets has a large live heap (about 14 MiB per 1,000 sockets) and marks
     * all of it each time, on a second core that the other processes need.
     */
    WEB_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(400).default(100),
    /** The hot inbox and trigger routes served by the web node itself, skipping Next.js's pipeline (server/http/direct-routes.ts). */
    DIRECT_ROUTES: booleanish.default(true),
    PUBLIC_URL: z.url().optional(),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL").default("postgresql://postgres@127.0.0.1:5432/notify"),
    DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    /** Prepare the hot statements once per connection (0 for poolers that cannot keep them, e.g. PgBouncer before 1.21 in transaction mode). */
    DB_PREPARED_STATEMENTS: booleanish.default(true),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// URL").default("redis://127.0.0.1:6379"),
    /**
     * A Redis Cluster instead of one Redis: some of its nodes, "host:port,host:port" (the rest are
     * discovered). REDIS_URL's user, password and TLS (rediss://) then apply to every node.
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .regex(/^[^,\s]+:\d{1,5}(,[^,\s]+:\d{1,5})*$/, 'must be "host:port,host:port"')
      .optional()
      .or(z.literal("").transform(() => undefined)),
    /** Prefix of every Redis key and pub/sub channel, so several deployments can share one Redis. */
    REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9_.:-]{1,64}$/).default("notify"),
    SERVICE_API_KEY: z.string().min(16, "must be at least 16 characters").optional(),
    AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    USER_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(31_536_000).default(86_400),
    SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(31_536_000).default(1_209_600),
    DEMO_MODE: booleanish.default(false),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Ingestion limits per service key (0: none); bursts of INGEST_BURST_SECONDS worth. Past them: 429 with Retry-After. */
    INGEST_REQUESTS_PER_SECOND: z.coerce.number().min(0).max(1_000_000).default(1000),
    INGEST_RECIPIENTS_PER_SECOND: z.coerce.number().min(0).max(100_000_000).default(1_000_000),
    INGEST_BURST_SECONDS: z.coerce.number().min(1).max(3600).default(10),
    /** How long a request waits for Redis's answer on the limits before it is let through without them. */
    INGEST_REDIS_WAIT_MS: z.coerce.number().int().min(1).max(60_000).default(250),
    /** When set, GET /metrics needs "Authorization: Bearer <this>"; unset, it is open (keep it on an internal network). */
    METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    FANOUT_CHUNK_SIZE: z.coerce.number().int().min(1).max(10_000).default(2000),
    /** Fan-out jobs a worker process runs at once (small triggers, one statement each, use any of them). */
    FANOUT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(16),
    /** Of those, how many may work chunk by chunk at once: each may hold two connections of the pool. */
    FANOUT_CHUNKED_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    /** A fresh trigger of up to this many explicit recipients fans out in one statement (0: never). Generic plans: at most 64. */
    FANOUT_ONE_STATEMENT_MAX: z.coerce.number().int().min(0).max(64).default(64),
    /** Small fresh triggers are queued for the fan-out workers in a sorted set rather than as BullMQ jobs (see queues.ts). */
    FANOUT_FAST_PATH: booleanish.default(true),
    /** The fast path's statements in flight per fan-out worker; what waits meanwhile is taken together, up to FANOUT_FAST_BATCH per statement. */
    FANOUT_FAST_STATEMENTS: z.coerce.number().int().min(1).max(64).default(2),
    FANOUT_FAST_BATCH: z.coerce.number().int().min(1).max(256).default(32),
    /** A topic fan-out above this many recipients is cut into slices of this size that every fan-out worker shares. */
    FANOUT_RANGE_SIZE: z.coerce.number().int().min(1).default(25_000),
    /** How many extra jobs help with one sliced fan-out (on any fan-out worker). */
    FANOUT_HELPERS: z.coerce.number().int().min(0).max(64).default(3),
    /** Topic triggers to more recipients than this are broadcasts: the inbox is fanned out on read. */
    BROADCAST_THRESHOLD: z.coerce.number().int().min(0).default(10_000),
    /** How long a fan-out job's lock lasts without renewal: a killed worker's job is retried after it. */
    FANOUT_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
    OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
    /** An outbox row the web node did not manage to queue is queued by the relay after this long. */
    OUTBOX_GRACE_MS: z.coerce.number().int().min(100).max(3_600_000).default(3_000),
    /** An outbox row whose fan-out has not committed this long after it was queued is queued again. */
    OUTBOX_REDELIVER_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(25),
    /** Lifetime of a cached unread count; bounds staleness after a crash between commit and cache write. */
    COUNTS_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    CHANGES_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    /** Each reading user's latest notifications kept in Redis for the dropdown (0: no hot cache). */
    HOT_CACHE_SIZE: z.coerce.number().int().min(0).max(500).default(100),
    HOT_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
    /** Monthly partitions of notifications kept created ahead of the current month (by the relay). */
    NOTIFICATION_PARTITIONS_AHEAD: z.coerce.number().int().min(1).max(24).default(3),
    /** Read and seen notifications older than this many days move to cold storage (0: never). */
    RETENTION_ARCHIVE_DAYS: z.coerce.number().int().min(0).max(36_500).default(90),
    /** Notifications older than this many days are deleted, hot or cold (0: kept for ever). */
    RETENTION_DELETE_DAYS: z.coerce.number().int().min(0).max(36_500).default(365),
    /** The UTC hour at which the relay runs the retention job, once a day. */
    RETENTION_HOUR_UTC: z.coerce.number().int().min(0).max(23).default(3),
    /** Tests only: lets the test suite move this process's clock forward (server/clock.ts). Never in production. */
    TEST_CLOCK: booleanish.default(false),
    // Channel delivery (workers/channels.ts).
    /** Provider rate limits, shared by every channel worker process through Redis. */
    EMAIL_RATE_PER_SECOND: z.coerce.number().int().min(1).max(10_000).default(50),
    SMS_RATE_PER_SECOND: z.coerce.number().int().min(1).max(10_000).default(10),
    /** Sending attempts per delivery before it goes to the dead-letter queue. */
    EMAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    SMS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(6),
    PUSH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(6),
    PUSH_RATE_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(500),
    /** A device not seen for this many days no longer gets pushes (it registers again on its next visit). */
    PUSH_DEVICE_ACTIVE_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
    /** First retry delay; each next one doubles, with jitter, up to CHANNEL_BACKOFF_MAX_MS. */
    CHANNEL_BACKOFF_MS: z.coerce.number().int().min(10).max(600_000).default(2_000),
    CHANNEL_BACKOFF_MAX_MS: z.coerce.number().int().min(100).max(86_400_000).default(600_000),
    CHANNEL_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
    /** A provider call that takes longer is given up (and retried with the same idempotency key). */
    PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    /** Local hour (in each user's time zone) at which daily and weekly (Mondays) email digests go out. */
    DIGEST_LOCAL_HOUR: z.coerce.number().int().min(0).max(23).default(8),
    /** A queued email or SMS whose job is gone is queued again after this long. */
    DELIVERY_REDELIVER_MS: z.coerce.number().int().min(100).max(86_400_000).default(120_000),
    // Providers.
    RESEND_API_KEY: z.string().optional(),
    RESEND_BASE_URL: z.url().optional(),
    /** Signing secret of the Resend webhook (`whsec_...`); without it, /api/webhooks/email refuses everything. */
    RESEND_WEBHOOK_SECRET: z.string().optional(),
    EMAIL_FROM: z.string().optional(),
    VAPID_PUBLIC_KEY: z.string().optional(),
    VAPID_PRIVATE_KEY: z.string().optional(),
    VAPID_SUBJECT: z.string().optional(),
    SMS_BASE_URL: z.url().optional(),
    SMS_ACCOUNT_SID: z.string().optional(),
    SMS_AUTH_TOKEN: z.string().optional(),
    SMS_FROM: z.string().optional(),
  })
  .transform((env, ctx) => {
    const isBuilding = process.env.NEXT_PHASE === "phase-production-build";
    if (!env.AUTH_SECRET && env.NODE_ENV === "production" && !isBuilding) {
      ctx.addIssue({ code: "custom", path: ["AUTH_SECRET"], message: "is required in production (openssl rand -base64 48)" });
    }
    // Each chunked fan-out may hold two connections: more of them than half the pool could all wait
    // for a connection another one holds.
    if (env.FANOUT_CHUNKED_CONCURRENCY * 2 > env.DB_POOL_SIZE) {
      ctx.addIssue({
        code: "custom",
        path: ["FANOUT_CHUNKED_CONCURRENCY"],
        message: `must be at most half of DB_POOL_SIZE (${env.DB_POOL_SIZE}): each chunked fan-out may hold two connections`,
      });
    }
    return { ...env, AUTH_SECRET: env.AUTH_SECRET ?? DEV_AUTH_SECRET };
  });

export type Env = z.infer<typeof envSchema>;

function loadEnv(): Env {
  // Empty strings in .env mean "not set".
  const raw = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== ""));
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    console.error(`Invalid configuration:\n${lines.join("\n")}\nSee .env.example for every variable.`);
    process.exit(1);
  }
  return parsed.data;
}

export const env: Env = loadEnv();
