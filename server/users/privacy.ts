// The data-protection endpoints: erase everything stored about a user (right to erasure), and export
// it (right of access / portability). Both cover every table that holds a user's id, and the copies
// of their addresses (the local outbox, the suppression list).
import { AppError } from "@/server/app-error";
import { pool, withTransaction } from "@/server/db";
import { logger } from "@/server/logger";
import { deleteMany, getRedis, redisKey, type RedisClient } from "@/server/redis";
import { disconnectUser } from "@/server/realtime/publish";
import { countsKey } from "@/server/notifications/unread-counts";
import { hotCacheKey } from "@/server/notifications/hot-cache";
import { syncedKey } from "@/server/broadcasts/broadcasts";
import { rateLimitKey } from "@/server/routing/rate-limits";

/** Tables keyed by the user's id, children first. `users` itself goes last. */
const USER_TABLES = [
  "notifications",
  "notifications_archive",
  "notification_changes",
  "notification_group_actors",
  "notification_groups",
  "device_deliveries",
  "delivery_attempts",
  "deliveries",
  "dead_letters",
  "batch_windows",
  "local_outbox",
  "push_subscriptions",
  "topic_subscriptions",
  "sign_in_links",
] as const;

/** Longer than any read of the inbox takes. */
const ERASED_CACHE_RECHECK_MS = 5_000;

export type Erased = Record<(typeof USER_TABLES)[number] | "suppressions" | "users", number>;

/**
 * Erases the user in one transaction: every row keyed by their id, outbox copies sent to their
 * addresses under any id, and the suppression entries of their addresses; then their Redis entries
 * (cached counts, presence, limits, broadcast marker) and their open sockets. Answers how many rows
 * went from each table. A fan-out already running may still add a notification for the id after
 * this; a later trigger to the same id starts a new, empty user (the calling service decides that).
 */
export async function eraseUser(userId: string): Promise<Erased> {
  const erased = await withTransaction(async (sql) => {
    // Locking the row first makes writers of this user (state changes, fan-out chunks) wait for us.
    const { rows } = await sql.query<{ email: string | null; phone: string | null }>("SELECT email, phone FROM users WHERE id = $1 FOR UPDATE", [userId]);
    if (!rows[0]) throw new AppError("not_found", `No user '${userId}'.`);
    const addresses = [rows[0].email, rows[0].phone].filter((a): a is string => Boolean(a));
    const counts = {} as Erased;
    for (const table of USER_TABLES) {
      const extra = table === "local_outbox" ? " OR recipient = ANY($2::text[])" : "";
      const { rowCount } = await sql.query(`DELETE FROM ${table} WHERE user_id = $1${extra}`, table === "local_outbox" ? [userId, addresses] : [userId]);
      counts[table] = rowCount ?? 0;
    }
    // Not while another user still has the address: the suppression protects them too.
    const { rowCount: suppressed } = await sql.query(
      `DELETE FROM suppressions s WHERE s.address = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id <> $2 AND (lower(u.email) = s.address OR u.phone = s.address))`,
      [addresses.map((a) => a.toLowerCase()).concat(addresses), userId],
    );
    counts.suppressions = suppressed ?? 0;
    const { rowCount: users } = await sql.query("DELETE FROM users WHERE id = $1", [userId]);
    counts.users = users ?? 0;
    return counts;
  });
  await pool
    .query<{ key: string }>("SELECT key FROM notification_types")
    .then(({ rows }) => forgetInRedis(userId, rows.map((r) => r.key)))
    .catch((error: unknown) => logger.warn({ err: error, userId }, "erased user's Redis entries not all removed; they expire on their own"));
  // A read that began before the erasure may still cache the user's page and counts from its
  // snapshot after those keys went: they are dropped once more when any such read is long over.
  setTimeout(() => void deleteMany(getRedis(), [countsKey(userId), hotCacheKey(userId)]).catch(() => undefined), ERASED_CACHE_RECHECK_MS).unref();
  disconnectUser(userId);
  return erased;
}

/**
 * Removes the user's Redis entries: cached counts and hot cache, broadcast marker, the limit windows
 * of every type, and presence. One transaction on a single Redis; on a Redis Cluster, where a
 * transaction holds keys of one slot only, one DEL per slot and the ZREM.
 */
export async function forgetInRedis(userId: string, typeKeys: readonly string[], redis: RedisClient = getRedis()): Promise<void> {
  const keys = [countsKey(userId), hotCacheKey(userId), syncedKey(userId), ...typeKeys.map((type) => rateLimitKey(type, userId))];
  if (redis.isCluster) {
    await Promise.all([deleteMany(redis, keys), redis.zrem(redisKey("online"), userId)]);
    return;
  }
  await redis
    .multi()
    .del(...keys)
    .zrem(redisKey("online"), userId)
    .exec();
}

/** The sections of an export, each the rows of one table (timestamps as ISO strings). */
const EXPORT_SECTIONS: { name: string; sql: string }[] = [
  { name: "topics", sql: "SELECT topic_key AS topic, created_at FROM topic_subscriptions WHERE user_id = $1 ORDER BY topic_key" },
  {
    name: "devices",
    sql: "SELECT id, device_id, endpoint, p256dh, auth, user_agent, created_at, last_active_at FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at",
  },
  {
    name: "notifications",
    sql: `SELECT id, trigger_id, type, category, priority, title, body, actor, actors, actor_count, target, actions, data, seq,
                 read_at, seen_at, archived_at, clicked_at, delivered_at, expires_at, created_at, sort_at, updated_at
            FROM notifications WHERE user_id = $1
           UNION ALL
          SELECT id, trigger_id, type, category, priority, title, body, actor, actors, actor_count, target, actions, data, seq,
                 read_at, seen_at, archived_at, clicked_at, delivered_at, expires_at, created_at, sort_at, updated_at
            FROM notifications_archive WHERE user_id = $1 ORDER BY created_at, id`,
  },
  {
    name: "deliveries",
    sql: `SELECT trigger_id, channel, status, reason, deliver_at, attempts, last_error, provider_id, sent_at, created_at, updated_at
            FROM deliveries WHERE user_id = $1 ORDER BY created_at, trigger_id, channel`,
  },
  { name: "deliveryAttempts", sql: "SELECT trigger_id, channel, device_id, outcome, error, at FROM delivery_attempts WHERE user_id = $1 ORDER BY at, id" },
  {
    name: "sentCopies",
    sql: "SELECT id, trigger_id, channel, recipient, subject, html, text, created_at FROM local_outbox WHERE user_id = $1 ORDER BY created_at, id",
  },
  { name: "deadLetters", sql: "SELECT id, trigger_id, channel, error, attempts, payload, created_at FROM dead_letters WHERE user_id = $1 ORDER BY created_at, id" },
  { name: "deviceDeliveries", sql: `SELECT trigger_id, subscription_id, status, attempts, last_error, "primary", updated_at FROM device_deliveries WHERE user_id = $1 ORDER BY updated_at` },
  { name: "groups", sql: "SELECT group_key, notification_id, notification_at, window_ends_at FROM notification_groups WHERE user_id = $1 ORDER BY group_key" },
  { name: "batchWindows", sql: "SELECT id, type, channel, ends_at, size, closed_at FROM batch_windows WHERE user_id = $1 ORDER BY id" },
  {
    name: "suppressions",
    sql: `SELECT channel, address, reason, created_at FROM suppressions
           WHERE address IN (SELECT lower(email) FROM users WHERE id = $1 UNION SELECT phone FROM users WHERE id = $1) ORDER BY created_at`,
  },
];

/** Exports at once per web node (each holds a database connection while it streams). */
const MAX_CONCURRENT_EXPORTS = 2;
let runningExports = 0;

/**
 * Everything stored about the user, as one JSON document streamed from one consistent snapshot
 * (a user with a long history is never held in memory whole): the profile with preferences and
 * counters, then each section of EXPORT_SECTIONS, rows fetched a page at a time through a cursor.
 * Throws not_found before anything is sent when there is no such user.
 */
export async function exportUser(userId: string): Promise<ReadableStream<Uint8Array>> {
  if (runningExports >= MAX_CONCURRENT_EXPORTS) throw new AppError("rate_limited", "Too many exports are running; try again shortly.", { headers: { "Retry-After": "5" } });
  runningExports++;
  const client = await pool.connect().catch((error: unknown) => {
    runningExports--;
    throw error;
  });
  let released = false;
  const release = (error?: unknown) => {
    if (released) return;
    released = true;
    runningExports--;
    client.query(error ? "ROLLBACK" : "COMMIT").catch(() => undefined).finally(() => client.release());
  };
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // A reader that stops reading does not hold the connection for ever.
    await client.query("SET LOCAL idle_in_transaction_session_timeout = '120s'");
    const { rows } = await client.query(
      `SELECT id, name, email, phone, avatar_url, timezone, locale, role, preferences, last_seq, unread_count, unseen_count,
              created_at, updated_at, last_digest_at FROM users WHERE id = $1`,
      [userId],
    );
    if (!rows[0]) throw new AppError("not_found", `No user '${userId}'.`);
    const encoder = new TextEncoder();
    const sections = [...EXPORT_SECTIONS];
    let section: (typeof sections)[number] | undefined;
    let first = true;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(`{"exportedAt":${JSON.stringify(new Date().toISOString())},"user":${JSON.stringify(camelRow(rows[0]))}`));
      },
      async pull(controller) {
        try {
          if (released) return;
          if (!section) {
            section = sections.shift();
            if (!section) {
              controller.enqueue(encoder.encode("}"));
              controller.close();
              release();
              return;
            }
            await client.query(`DECLARE export_rows NO SCROLL CURSOR FOR ${section.sql}`.replaceAll("$1", () => client.escapeLiteral(userId)));
            controller.enqueue(encoder.encode(`,${JSON.stringify(section.name)}:[`));
            first = true;
          }
          const { rows: page } = await client.query("FETCH 500 FROM export_rows");
          // Cancelled while fetching: the connection went back to the pool; use it no more.
          if (released) return;
          if (page.length > 0) {
            controller.enqueue(encoder.encode((first ? "" : ",") + page.map((r) => JSON.stringify(camelRow(r))).join(",")));
            first = false;
          }
          if (page.length < 500) {
            await client.query("CLOSE export_rows");
            controller.enqueue(encoder.encode("]"));
            section = undefined;
          }
        } catch (error) {
          release(error);
          controller.error(error);
        }
      },
      cancel() {
        release(new Error("cancelled"));
      },
    });
  } catch (error) {
    release(error);
    throw error;
  }
}

function camelRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = value instanceof Date ? value.toISOString() : value;
  return out;
}
