import { pool } from "@/server/db";
import { env } from "@/server/env";
import { logger } from "@/server/logger";
import { renderTemplate } from "@/server/templates/render-template";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { publishToUser } from "@/server/realtime/publish";
import { filterOnline } from "@/server/realtime/presence";
import type { Notification, Priority } from "@/server/notifications/notifications.schema";

type TriggerRow = {
  id: string;
  type: string;
  recipient_ids: string[];
  topic_key: string | null;
  actor: Notification["actor"];
  target: Notification["target"];
  data: Record<string, unknown>;
  title: string | null;
  body: string | null;
  actions: Notification["actions"];
  priority: string;
  expires_at: Date | null;
  status: string;
  created_at: Date;
  category: string;
  type_title: string | null;
  type_body: string | null;
};

/** What every recipient of one trigger gets (the template is rendered once per trigger for now). */
type Content = Omit<Notification, "id" | "seq" | "read" | "seen" | "archived" | "readAt" | "seenAt" | "archivedAt" | "clickedAt">;

export type FanOutResult = { inserted: number; status: "completed" | "skipped" };

/**
 * Materialises a trigger into one notification per recipient, chunk by chunk (see fanOutNextChunk).
 * Each chunk commits its notifications, seqs, counters and cursor together, so a crash anywhere
 * resumes at the committed cursor without duplicates; the last chunk marks the outbox row done.
 */
export async function fanOutTrigger(triggerId: string, options: { chunkSize?: number } = {}): Promise<FanOutResult> {
  const chunkSize = options.chunkSize ?? env.FANOUT_CHUNK_SIZE;
  const trigger = await loadTrigger(triggerId);
  if (!trigger || trigger.status === "completed" || trigger.status === "cancelled" || trigger.status === "failed") {
    await pool.query("UPDATE outbox SET done_at = coalesce(done_at, now()) WHERE trigger_id = $1", [triggerId]);
    return { inserted: 0, status: "skipped" };
  }
  const content = await renderContent(trigger);
  if (trigger.status === "processing") await recacheLastChunk(trigger, chunkSize);
  let inserted = 0;
  // Publishing a committed chunk overlaps with writing the next one.
  let publishing: Promise<void> = Promise.resolve();
  for (;;) {
    const chunk = await retryOnConflict(() => fanOutNextChunk(trigger, content, chunkSize));
    inserted += chunk.rows.length;
    await publishing;
    publishing = publishChunk(content, chunk.rows);
    if (chunk.isLast) break;
  }
  await publishing;
  logger.info({ triggerId, inserted }, "fan-out completed");
  return { inserted, status: "completed" };
}

/** How one kind of trigger pages its recipients after the cursor, and where the cursor moves to. */
const pagers = {
  // Explicit recipients: the cursor is how many of the stored list are done.
  explicit: {
    page: `SELECT r.id FROM t, unnest(t.recipient_ids[coalesce(t.fanout_cursor::int, 0) + 1 : coalesce(t.fanout_cursor::int, 0) + $2::int]) AS r(id)
            WHERE $16::text IS NULL`,
    cursor: `(coalesce(fanout_cursor::int, 0) + (SELECT count(*) FROM page))::text`,
  },
  // A topic of any size: keyset pagination over its subscriptions by user id.
  topic: {
    // The topic key is a parameter (not joined from t) so the planner walks the (topic_key, user_id)
    // primary key from the cursor on, whatever the other topics hold.
    page: `SELECT s.user_id AS id FROM topic_subscriptions s
            WHERE s.topic_key = $16::text AND s.user_id > coalesce((SELECT fanout_cursor FROM t), '') AND EXISTS (SELECT 1 FROM t)
            ORDER BY s.user_id LIMIT $2::int`,
    cursor: `coalesce((SELECT max(id) FROM page), fanout_cursor)`,
  },
} as const;

type ChunkRow = { id: string | null; user_id: string | null; seq: number | null; unread_count: number | null; unseen_count: number | null; status: string | null };

/**
 * One chunk as ONE statement (its own transaction, one round trip):
 * - lock the trigger row and read its cursor, so two deliveries of one job take turns and each
 *   starts where the other committed;
 * - take the next page of recipients;
 * - upsert their user rows in id order (creating unknown recipients), which locks them, takes one
 *   seq each and bumps the counters;
 * - insert the notifications and their `new` changes;
 * - move the cursor, and when the page was short, complete the trigger and its outbox row.
 * Should a chunk ever be offered twice, the unique key refuses it and the whole statement (seq
 * included) rolls back.
 */
async function fanOutNextChunk(trigger: TriggerRow, content: Content, chunkSize: number): Promise<{ rows: InsertedRow[]; isLast: boolean }> {
  const pager = trigger.topic_key === null ? pagers.explicit : pagers.topic;
  const { rows } = await pool.query<ChunkRow>(
    `WITH t AS (
       SELECT fanout_cursor, topic_key, recipient_ids FROM triggers
        WHERE id = $1::uuid AND status IN ('accepted', 'processing') FOR UPDATE
     ), page AS (
       ${pager.page}
     ), bumped AS (
       INSERT INTO users AS u (id, last_seq, unread_count, unseen_count)
       SELECT id, 1, 1, 1 FROM page ORDER BY id
       ON CONFLICT (id) DO UPDATE SET last_seq = u.last_seq + 1, unread_count = u.unread_count + 1, unseen_count = u.unseen_count + 1
       RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count
     ), inserted AS (
       INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count,
                                  target, actions, data, seq, expires_at, created_at, sort_at, updated_at)
       SELECT uuid_generate_v7(), b.id, $1::uuid, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12::jsonb, $13::jsonb, $14::jsonb,
              b.last_seq, $15::timestamptz, $3::timestamptz, $3::timestamptz, $3::timestamptz
         FROM bumped b
       RETURNING id, user_id, seq
     ), changes AS (
       INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
       SELECT user_id, seq, 'new', id, $3::timestamptz, $3::timestamptz FROM inserted
     ), progress AS (
       UPDATE triggers SET fanout_cursor = ${pager.cursor},
              fanout_count = fanout_count + (SELECT count(*) FROM page),
              status = CASE WHEN (SELECT count(*) FROM page) < $2::int THEN 'completed' ELSE 'processing' END,
              completed_at = CASE WHEN (SELECT count(*) FROM page) < $2::int THEN now() END
        WHERE id = $1::uuid AND EXISTS (SELECT 1 FROM t)
       RETURNING status
     ), done AS (
       UPDATE outbox SET done_at = now()
        WHERE trigger_id = $1::uuid AND done_at IS NULL AND (NOT EXISTS (SELECT 1 FROM t) OR EXISTS (SELECT 1 FROM progress WHERE status = 'completed'))
     )
     SELECT i.id, i.user_id, i.seq, b.unread_count, b.unseen_count, NULL AS status FROM inserted i JOIN bumped b ON b.id = i.user_id
     UNION ALL
     SELECT NULL, NULL, NULL, NULL, NULL, status FROM progress`,
    [
      trigger.id,
      chunkSize,
      trigger.created_at,
      content.type,
      content.category,
      content.priority,
      content.title,
      content.body,
      content.actor ? JSON.stringify(content.actor) : null,
      JSON.stringify(content.actors),
      content.actorCount,
      content.target ? JSON.stringify(content.target) : null,
      JSON.stringify(content.actions),
      JSON.stringify(content.data),
      content.expiresAt,
      trigger.topic_key,
    ],
  );
  const status = rows.find((r) => r.status !== null)?.status;
  const inserted = rows.filter((r): r is InsertedRow & ChunkRow => r.id !== null);
  return { rows: inserted, isLast: status !== "processing" };
}

/**
 * A concurrent delivery of the same chunk (unique violation) or a lock cycle (deadlock) rolls the
 * chunk back; running it again sees the other transaction's rows and skips them.
 */
async function retryOnConflict<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || (code !== "23505" && code !== "40P01")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}

/**
 * A resumed fan-out (the previous run died) may have committed its last chunk without caching those
 * users' new counts, leaving older cached counts behind. Cache them again from PostgreSQL.
 */
async function recacheLastChunk(trigger: TriggerRow, chunkSize: number): Promise<void> {
  const { rows } = await pool.query<{ id: string; last_seq: number; unread_count: number; unseen_count: number }>(
    `SELECT id, last_seq, unread_count, unseen_count FROM users WHERE id IN (
       SELECT user_id FROM notifications WHERE trigger_id = $1 AND created_at = $2 ORDER BY id DESC LIMIT $3)`,
    [trigger.id, trigger.created_at, chunkSize],
  );
  await cacheCounts(rows.map((r) => ({ userId: r.id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.last_seq } })));
}

async function loadTrigger(triggerId: string): Promise<TriggerRow | null> {
  const { rows } = await pool.query<TriggerRow>(
    `SELECT t.id, t.type, t.recipient_ids, t.topic_key, t.actor, t.target, t.data, t.title, t.body, t.actions, t.priority,
            t.expires_at, t.status, t.created_at,
            coalesce(nt.category, 'system') AS category, nt.title AS type_title, nt.body AS type_body
       FROM triggers t LEFT JOIN notification_types nt ON nt.key = t.type
      WHERE t.id = $1::uuid`,
    [triggerId],
  );
  return rows[0] ?? null;
}

async function renderContent(trigger: TriggerRow): Promise<Content> {
  const context = { actor: trigger.actor, actors: trigger.actor ? [trigger.actor] : [], actorCount: trigger.actor ? 1 : 0, target: trigger.target, data: trigger.data };
  // The trigger's own title and body win over the type's default template.
  const title = trigger.title ?? (trigger.type_title ? await renderTemplate(trigger.type_title, context) : trigger.type);
  const body = trigger.body ?? (trigger.type_body ? await renderTemplate(trigger.type_body, context) : "");
  const createdAt = trigger.created_at.toISOString();
  return {
    type: trigger.type,
    category: trigger.category,
    priority: trigger.priority as Priority,
    title: title.slice(0, 500),
    body: body.slice(0, 5000),
    actor: trigger.actor,
    actors: context.actors,
    actorCount: context.actorCount,
    target: trigger.target,
    actions: trigger.actions,
    data: trigger.data,
    createdAt,
    sortAt: createdAt,
    expiresAt: trigger.expires_at?.toISOString() ?? null,
  };
}

type InsertedRow = { id: string; user_id: string; seq: number; unread_count: number; unseen_count: number };

/** After commit: cache the new counts, and publish to the devices of the recipients who are online. */
async function publishChunk(content: Content, rows: InsertedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await cacheCounts(rows.map((r) => ({ userId: r.user_id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.seq } })));
  const online = new Set(await filterOnline(rows.map((r) => r.user_id)));
  for (const row of rows) {
    if (!online.has(row.user_id)) continue;
    const notification: Notification = {
      ...content,
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
    publishToUser(row.user_id, "unread_count", { count: row.unread_count, unseen: row.unseen_count, seq: Number(row.seq) });
  }
}
