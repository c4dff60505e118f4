// Fan-out on read for huge audiences. A topic trigger to more recipients than the threshold is
// stored once as a broadcast; each subscriber gets it as an ordinary notification row only when it
// matters: at once for the subscribers who are online, and for everyone else the next time they
// read their inbox (list, counts, changes, read-all). Once merged it is a normal notification, so
// read/seen/archived state, unread counts, seq and cursor pagination are exactly those of any other;
// subscribers who never come back cost nothing.
//
// Which broadcasts a user still has to merge: those of the topics they follow, published after they
// subscribed and after their last sync (`users.broadcasts_synced_at`, kept a little behind the sync
// so that one committing during a sync is seen by the next). A Redis marker per user against the
// newest broadcast's time skips even that query when nothing new was published.
import { pool } from "@/server/db";
import { getMany, getRedis, redisKey } from "@/server/redis";
import { now } from "@/server/clock";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { publishToUser } from "@/server/realtime/publish";
import { filterOnline, onlineUsers } from "@/server/realtime/presence";
import { resolvePreferences } from "@/server/preferences/preferences.schema";
import { decideDelivery, type RoutingType } from "@/server/routing/decide-delivery";
import type { Notification, Priority } from "@/server/notifications/notifications.schema";

export type InboxText = { title: string; body: string; actions: Notification["actions"] };

export type Broadcast = {
  trigger_id: string;
  topic_key: string;
  type: string;
  category: string;
  priority: Priority;
  routing: RoutingType;
  texts: Record<string, InboxText>;
  actor: Notification["actor"];
  target: Notification["target"];
  data: Record<string, unknown>;
  recipients: number;
  created_at: Date;
  published_at: Date;
  expires_at: Date | null;
};

/** How far behind a sync its watermark stays: longer than any broadcast's insert takes to commit. */
const SYNC_LAG_MS = 10_000;
const MERGE_CHUNK = 1000;
const latestKey = () => redisKey("broadcast-latest");
export const syncedKey = (userId: string) => redisKey("broadcast-synced", userId);

/**
 * Stores the broadcast (once: a resumed fan-out finds it) and merges it into the inboxes of the
 * topic's subscribers who are online now, who see it live. Answers how many were merged.
 */
export async function publishBroadcast(input: Omit<Broadcast, "published_at">): Promise<number> {
  await pool.query(
    `INSERT INTO broadcasts (trigger_id, topic_key, type, category, priority, routing, texts, actor, target, data, recipients, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (trigger_id) DO NOTHING`,
    [
      input.trigger_id,
      input.topic_key,
      input.type,
      input.category,
      input.priority,
      JSON.stringify(input.routing),
      JSON.stringify(input.texts),
      input.actor ? JSON.stringify(input.actor) : null,
      input.target ? JSON.stringify(input.target) : null,
      JSON.stringify(input.data),
      input.recipients,
      input.created_at,
      input.expires_at,
    ],
  );
  const broadcast = await loadBroadcast(input.trigger_id);
  if (!broadcast) return 0;
  await markPublished(broadcast.published_at);
  // The online subscribers: everyone online, looked up in the topic a slice at a time.
  const online = await onlineUsers();
  let merged = 0;
  for (let i = 0; i < online.length; i += 10_000) {
    const { rows } = await pool.query<{ user_id: string }>(
      "SELECT user_id FROM topic_subscriptions WHERE topic_key = $1 AND user_id = ANY($2::text[]) AND created_at <= $3",
      [broadcast.topic_key, online.slice(i, i + 10_000), broadcast.published_at],
    );
    const ids = rows.map((r) => r.user_id);
    for (let j = 0; j < ids.length; j += MERGE_CHUNK) merged += await mergeBroadcast(broadcast, ids.slice(j, j + MERGE_CHUNK));
  }
  return merged;
}

async function loadBroadcast(triggerId: string): Promise<Broadcast | null> {
  const { rows } = await pool.query<Broadcast>("SELECT * FROM broadcasts WHERE trigger_id = $1", [triggerId]);
  return rows[0] ?? null;
}

/**
 * Remembers the newest publication time, which tells every user's next read to look. Throws when
 * Redis cannot take it: the fan-out job then fails and is retried (publishing again is harmless),
 * rather than leave readers believing nothing was published.
 */
async function markPublished(at: Date): Promise<void> {
  await getRedis().eval(
    "local v = redis.call('GET', KEYS[1]); if not v or tonumber(v) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end",
    1,
    latestKey(),
    String(at.getTime()),
  );
}

/** The inbox texts for a locale: its own, else its language's, else the default. */
function textFor(texts: Record<string, InboxText>, locale: string | null): InboxText {
  if (locale && texts[locale]) return texts[locale];
  const language = locale?.split("-")[0];
  if (language && texts[language]) return texts[language];
  return texts[""]!;
}

/**
 * Merges one broadcast into the inboxes of `userIds` who do not have it yet and whose preferences
 * let it in: each takes one seq, its counters move and its devices hear `notification:new`. Locks
 * the users in id order (like a fan-out chunk), so merges and fan-outs never deadlock and a user
 * merging the same broadcast twice at once gets it once.
 */
export async function mergeBroadcast(broadcast: Broadcast, userIds: readonly string[]): Promise<number> {
  if (userIds.length === 0) return 0;
  const client = await pool.connect();
  let rows: { id: string; user_id: string; seq: number; unread_count: number; unseen_count: number; idx: number }[] = [];
  const texts: InboxText[] = [];
  try {
    await client.query("BEGIN");
    // Not recalled (a recall waits for this merge, then removes what it merged).
    const { rows: live } = await client.query("SELECT 1 FROM broadcasts WHERE trigger_id = $1 AND removed_at IS NULL FOR SHARE", [broadcast.trigger_id]);
    if (live.length === 0) {
      await client.query("COMMIT");
      return 0;
    }
    const { rows: users } = await client.query<{ id: string; locale: string | null; preferences: unknown }>(
      "SELECT id, locale, preferences FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
      [userIds],
    );
    const { rows: have } = await client.query<{ user_id: string }>(
      "SELECT user_id FROM notifications WHERE trigger_id = $1 AND created_at = $2 AND user_id = ANY($3::text[])",
      [broadcast.trigger_id, broadcast.created_at, userIds],
    );
    const merged = new Set(have.map((r) => r.user_id));
    const at = now();
    const eligible = users.filter(
      (u) =>
        !merged.has(u.id) &&
        decideDelivery({
          channel: "in_app",
          type: broadcast.routing,
          priority: broadcast.priority,
          preferences: resolvePreferences(u.preferences),
          timeZone: null,
          hasAddress: true,
          rateLimited: false,
          expiresAt: broadcast.expires_at,
          now: at,
        }).action === "send",
    );
    const index = new Map<InboxText, number>();
    const textIndex = eligible.map((u) => {
      const text = textFor(broadcast.texts, u.locale);
      let i = index.get(text);
      if (i === undefined) {
        i = texts.push(text);
        index.set(text, i);
      }
      return i;
    });
    if (eligible.length > 0) {
      ({ rows } = await client.query(
        `WITH page AS (
           SELECT * FROM unnest($2::text[], $3::int[]) AS p(id, idx)
         ), bumped AS (
           UPDATE users u SET last_seq = u.last_seq + 1, unread_count = u.unread_count + 1, unseen_count = u.unseen_count + 1
             FROM page WHERE u.id = page.id
           RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count, page.idx
         ), inserted AS (
           INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count,
                                      target, actions, data, seq, expires_at, created_at, sort_at, updated_at)
           SELECT uuid_generate_v7(), b.id, $1::uuid, $4, $5, $6, ($7::text[])[b.idx], ($8::text[])[b.idx], $9::jsonb,
                  CASE WHEN $9::jsonb IS NULL THEN '[]'::jsonb ELSE jsonb_build_array($9::jsonb) END, CASE WHEN $9::jsonb IS NULL THEN 0 ELSE 1 END,
                  $10::jsonb, ($11::jsonb[])[b.idx], $12::jsonb, b.last_seq, $13::timestamptz, $14::timestamptz, $14::timestamptz, $14::timestamptz
             FROM bumped b
           RETURNING id, user_id, seq
         ), changes AS (
           INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
           SELECT user_id, seq, 'new', id, $14::timestamptz, now() FROM inserted
         )
         SELECT i.id, i.user_id, i.seq, b.unread_count, b.unseen_count, b.idx FROM inserted i JOIN bumped b ON b.id = i.user_id`,
        [
          broadcast.trigger_id,
          eligible.map((u) => u.id),
          textIndex,
          broadcast.type,
          broadcast.category,
          broadcast.priority,
          texts.map((t) => t.title),
          texts.map((t) => t.body),
          broadcast.actor ? JSON.stringify(broadcast.actor) : null,
          broadcast.target ? JSON.stringify(broadcast.target) : null,
          texts.map((t) => JSON.stringify(t.actions)),
          JSON.stringify(broadcast.data),
          broadcast.expires_at,
          broadcast.created_at,
        ],
      ));
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  if (rows.length === 0) return 0;
  await cacheCounts(rows.map((r) => ({ userId: r.user_id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.seq } })));
  const online = new Set(await filterOnline(rows.map((r) => r.user_id)));
  const createdAt = broadcast.created_at.toISOString();
  for (const row of rows) {
    if (!online.has(row.user_id)) continue;
    const notification: Notification = {
      type: broadcast.type,
      category: broadcast.category,
      priority: broadcast.priority,
      actor: broadcast.actor,
      actors: broadcast.actor ? [broadcast.actor] : [],
      actorCount: broadcast.actor ? 1 : 0,
      target: broadcast.target,
      data: broadcast.data,
      createdAt,
      sortAt: createdAt,
      expiresAt: broadcast.expires_at?.toISOString() ?? null,
      ...texts[row.idx - 1]!,
      id: row.id,
      seq: row.seq,
      read: false,
      seen: false,
      archived: false,
      readAt: null,
      seenAt: null,
      archivedAt: null,
      clickedAt: null,
    };
    publishToUser(row.user_id, "notification:new", notification);
    publishToUser(row.user_id, "unread_count", { count: row.unread_count, unseen: row.unseen_count, seq: row.seq });
  }
  return rows.length;
}

/**
 * Merges whatever broadcasts the user has not merged yet. Called before the inbox is read; costs two
 * Redis reads when nothing new was published since the user's last sync.
 */
export async function syncBroadcasts(userId: string): Promise<number> {
  const redis = getRedis();
  let latest: string | null = null;
  let synced: string | null = null;
  try {
    // (Two slots on a Redis Cluster: the marker is global, the sync per user.)
    const values = await getMany(redis, [latestKey(), syncedKey(userId)]);
    latest = values[0] ?? null;
    synced = values[1] ?? null;
    if (latest === null) {
      // Redis lost the marker (or nothing was ever published): PostgreSQL knows. "0" remembers that
      // there is none, so a deployment without broadcasts never asks again.
      const { rows } = await pool.query<{ at: Date | null }>("SELECT max(published_at) AS at FROM broadcasts");
      if (!rows[0]?.at) {
        // (Briefly: should a publication's marker ever go missing, PostgreSQL is asked again soon.)
        await redis.set(latestKey(), "0", "EX", 60, "NX");
        return 0;
      }
      latest = String(rows[0].at.getTime());
      await markPublished(rows[0].at).catch(() => undefined);
    }
    if (latest === "0") return 0;
    if (synced !== null && Number(synced) > Number(latest)) return 0;
  } catch {
    // Without Redis, ask PostgreSQL every time.
  }
  // The watermark on the database's clock, which also stamps published_at.
  const { rows: clock } = await pool.query<{ at: Date }>("SELECT now() AS at");
  const startedAt = clock[0]!.at.getTime();
  const { rows: pending } = await pool.query<Broadcast>(
    `SELECT b.* FROM users u
       JOIN topic_subscriptions s ON s.user_id = u.id
       JOIN broadcasts b ON b.topic_key = s.topic_key AND b.published_at >= s.created_at
                        AND b.published_at > coalesce(u.broadcasts_synced_at, '-infinity'::timestamptz)
      WHERE u.id = $1 AND b.removed_at IS NULL AND (b.expires_at IS NULL OR b.expires_at > now())
      ORDER BY b.published_at, b.trigger_id`,
    [userId],
  );
  let merged = 0;
  for (const broadcast of pending) merged += await mergeBroadcast(broadcast, [userId]);
  const watermark = new Date(startedAt - SYNC_LAG_MS);
  await pool.query("UPDATE users SET broadcasts_synced_at = greatest(broadcasts_synced_at, $2) WHERE id = $1", [userId, watermark]);
  await redis.set(syncedKey(userId), String(watermark.getTime()), "EX", 86_400).catch(() => undefined);
  return merged;
}

