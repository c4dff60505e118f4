// npm run bench:read [-- --users 2000 --per-user 150 --requests 4000 --concurrency 4 --profile DIR]
// The dropdown's two reads — the first page of the inbox (20) and the unread count — with and
// without the hot cache (server/notifications/hot-cache.ts), on the real system: a fresh database
// with N users × M notifications each (this month and last), one web node with the cache
// (HOT_CACHE_SIZE 100) and one without (HOT_CACHE_SIZE 0), and:
//  - over HTTP, as a browser asks (token check, route handler, JSON), p50/p99 on each node;
//  - in this process, the data layer alone: the page from Redis against its PostgreSQL statement,
//    the count from the counts cache against its PostgreSQL statement.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";
import pg from "pg";
import { Redis } from "ioredis";
import { signTestToken } from "../tests/system/client";
import { startSystem, useSystemInProcess } from "../tests/system/start-system";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "2000" },
    "per-user": { type: "string", default: "150" },
    requests: { type: "string", default: "4000" },
    concurrency: { type: "string", default: "4" },
    /** Write a V8 CPU profile of each web node into this directory. */
    profile: { type: "string" },
  },
});
const USERS = Number(values.users);
const PER_USER = Number(values["per-user"]);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);

if (!existsSync(".next/BUILD_ID")) execFileSync("npm", ["run", "build"], { stdio: "inherit" });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
const line = (label: string, samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  console.log(`${label.padEnd(52)} p50 ${percentile(sorted, 50).toFixed(2).padStart(6)} ms   p99 ${percentile(sorted, 99).toFixed(2).padStart(6)} ms   (n=${sorted.length})`);
};
const userId = (i: number) => `r${i}`;
const pick = () => Math.floor(Math.random() * USERS);

// node:http with kept-alive connections, as bench:load asks: fetch (undici) costs several times the
// CPU per request in this process, which would be measured as the server's time.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function get(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

const profileArgs = values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [];
const system = await startSystem({ webNodes: 1, relays: 1, fanoutWorkers: 1, env: { LOG_LEVEL: "error", HOT_CACHE_SIZE: "100" }, nodeArgs: { web: profileArgs } });
const uncached = await system.startPart("web", { HOT_CACHE_SIZE: "0" });
const cachedUrl = system.webUrls[0]!;
const uncachedUrl = `http://127.0.0.1:${uncached.port}`;
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 4 });
try {
  const t = performance.now();
  const now = new Date();
  await db.query("SELECT notify_create_notifications_partition($1)", [new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1))]);
  await db.query("INSERT INTO users (id) SELECT 'r' || g FROM generate_series(0, $1 - 1) g", [USERS]);
  // Spread over the last 40 days; a third unread.
  await db.query(
    `INSERT INTO notifications (user_id, trigger_id, type, category, priority, title, body, actor, target, data, seq, read_at, seen_at, created_at, sort_at)
     SELECT 'r' || u, gen_random_uuid(), 'comment', 'social', 'normal', 'Ann commented on your post ' || i,
            'Nice work on the release notes, see you tomorrow at the review (' || i || ')',
            '{"id":"ann","name":"Ann"}', '{"type":"post","id":"p1"}', '{"postId":"p1"}', i,
            CASE WHEN i % 3 = 0 THEN NULL ELSE t END, CASE WHEN i % 3 = 0 THEN NULL ELSE t END, t, t
       FROM generate_series(0, $1 - 1) u, generate_series(1, $2) i,
            LATERAL (SELECT now() - ($2 - i) * (interval '40 days' / $2) - u * interval '1 millisecond' AS t) x`,
    [USERS, PER_USER],
  );
  await db.query(
    `UPDATE users u SET last_seq = s.seq, unread_count = s.unread, unseen_count = s.unread
       FROM (SELECT user_id, max(seq) AS seq, count(*) FILTER (WHERE read_at IS NULL)::int AS unread FROM notifications GROUP BY user_id) s WHERE u.id = s.user_id`,
  );
  await db.query("VACUUM ANALYZE notifications");
  await db.query("VACUUM ANALYZE users");
  console.log(`== bench:read: ${USERS.toLocaleString("en")} users × ${PER_USER} notifications (${(USERS * PER_USER).toLocaleString("en")}) loaded in ${((performance.now() - t) / 1000).toFixed(1)} s ==`);
  const tokens = Array.from({ length: USERS }, (_, i) => signTestToken(system.authSecret, userId(i), Date.now() + 3_600_000));

  async function run(url: string, path: string, n: number, order: () => number): Promise<number[]> {
    const samples: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          next++;
          const i = order();
          const start = performance.now();
          const status = await get(`${url}${path}`, tokens[i]!);
          samples.push(performance.now() - start);
          if (status !== 200) throw new Error(`${path}: ${status}`);
        }
      }),
    );
    return samples;
  }

  // Warm both nodes (connections, JIT); on the cached node this first read of each user is a miss.
  let k = 0;
  await run(uncachedUrl, "/api/notifications?limit=20", USERS, () => k++ % USERS);
  k = 0;
  const misses = await run(cachedUrl, "/api/notifications?limit=20", USERS, () => k++ % USERS);
  console.log(`\nover HTTP (${CONCURRENCY} at a time, random users; page = GET /api/notifications?limit=20):`);
  line("page, with the hot cache (hits)", await run(cachedUrl, "/api/notifications?limit=20", REQUESTS, pick));
  line("page, with the hot cache, first read (miss: reads 100)", misses);
  line("page, without (PostgreSQL)", await run(uncachedUrl, "/api/notifications?limit=20", REQUESTS, pick));
  line("unread count (counts cache)", await run(cachedUrl, "/api/notifications/unread-count", REQUESTS, pick));

  // The data layer alone, in this process.
  const closeServerModules = useSystemInProcess(system);
  const { readHotCache } = await import("../server/notifications/hot-cache");
  const { listStatement, unreadCountStatement } = await import("../server/notifications/inbox-statements");
  const { countsKey } = await import("../server/notifications/unread-counts");
  const { pool } = await import("../server/db");
  const { getRedis } = await import("../server/redis");
  const redis = getRedis();
  const timeEach = async (n: number, fn: (user: string) => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const user = userId(pick());
      const start = performance.now();
      await fn(user);
      samples.push(performance.now() - start);
    }
    return samples;
  };
  await timeEach(200, (u) => pool.query(listStatement(u, { limit: 20, filter: "all" }, new Date())));
  let hits = 0;
  console.log("\nthe data layer alone (one at a time):");
  line("page from the hot cache (Redis GET + LRANGE, parse)", await timeEach(REQUESTS, async (u) => ((await readHotCache(u, 20)) ? hits++ : 0)));
  line("page from PostgreSQL (the list statement)", await timeEach(REQUESTS, (u) => pool.query(listStatement(u, { limit: 20, filter: "all" }, new Date()))));
  line("unread count from the counts cache (Redis GET)", await timeEach(REQUESTS, (u) => redis.get(countsKey(u))));
  line("unread count from PostgreSQL (the users row)", await timeEach(REQUESTS, (u) => pool.query(unreadCountStatement(u))));
  console.log(`hot cache hits in that run: ${hits} of ${REQUESTS}`);
  const memory = await new Redis(system.redisUrl).memory("USAGE", `${system.redisPrefix}:inbox:{${userId(0)}}`);
  console.log(`Redis memory of one user's cached 100: ${((memory ?? 0) / 1024).toFixed(1)} KiB`);
  await closeServerModules();
} finally {
  await db.end();
  await system.stop();
}
process.exit(0);
