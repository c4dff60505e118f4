import { withTransaction, pool, type Sql } from "@/server/db";
import { env } from "@/server/env";
import { logger } from "@/server/logger";
import { renderTemplate } from "@/server/templates/render-template";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { publishToUser } from "@/server/realtime/publish";
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
  fanout_cursor: string | null;
  created_at: Date;
  category: string;
  type_title: string | null;
  type_body: string | null;
};

/** What every recipient of one trigger gets (the template is rendered once per trigger for now). */
type Content = Omit<Notification, "id" | "seq" | "read" | "seen" | "archived" | "readAt" | "seenAt" | "archivedAt" | "clickedAt">;

export type FanOutResult = { inserted: number; status: "completed" | "skipped" };

/**
 * Materialises a trigger into one notification per recipient, chunk by chunk. Each chunk is one
 * transaction that inserts the notifications, takes one `seq` per recipient, bumps the counters and
 * records the cursor; the unique key (trigger, user, createdAt) makes a redelivered chunk a no-op, so
 * a crash anywhere resumes without duplicates. The last transaction marks the outbox row done.
 */
export async function fanOutTrigger(triggerId: string, options: { chunkSize?: number } = {}): Promise<FanOutResult> {
  const chunkSize = options.chunkSize ?? env.FANOUT_CHUNK_SIZE;
  const trigger = await loadTrigger(triggerId);
  if (!trigger || trigger.status === "completed" || trigger.status === "cancelled") {
    await pool.query("UPDATE outbox SET done_at = coalesce(done_at, now()) WHERE trigger_id = $1", [triggerId]);
    return { inserted: 0, status: "skipped" };
  }
  const content = await renderContent(trigger);
  const log = logger.child({ triggerId });
  let cursor = trigger.fanout_cursor;
  let inserted = 0;
  if (trigger.status === "accepted") await pool.query("UPDATE triggers SET status = 'processing' WHERE id = $1 AND status = 'accepted'", [triggerId]);

  for (;;) {
    const page = await nextRecipients(trigger, cursor, chunkSize);
    const isLast = page.userIds.length < chunkSize;
    const created = await retryOnConflict(() => withTransaction(async (sql) => {
      if (trigger.topic_key === null && page.userIds.length > 0) {
        // Explicit recipients need not exist yet: create them, in a fixed order to avoid deadlocks.
        await sql.query("INSERT INTO users (id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING", [page.userIds]);
      }
      const rows = page.userIds.length > 0 ? await insertChunk(sql, trigger, content, page.userIds) : [];
      await sql.query(
        `UPDATE triggers SET fanout_cursor = $2, fanout_count = fanout_count + $3,
           status = CASE WHEN $4 THEN 'completed' ELSE status END, completed_at = CASE WHEN $4 THEN now() ELSE completed_at END
         WHERE id = $1`,
        [trigger.id, page.nextCursor ?? cursor, rows.length, isLast],
      );
      if (isLast) await sql.query("UPDATE outbox SET done_at = now() WHERE trigger_id = $1 AND done_at IS NULL", [trigger.id]);
      return rows;
    }));
    inserted += created.length;
    cursor = page.nextCursor ?? cursor;
    await publishChunk(content, created);
    if (isLast) break;
  }
  log.info({ inserted }, "fan-out completed");
  return { inserted, status: "completed" };
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

async function loadTrigger(triggerId: string): Promise<TriggerRow | null> {
  const { rows } = await pool.query<TriggerRow>(
    `SELECT t.id, t.type, t.recipient_ids, t.topic_key, t.actor, t.target, t.data, t.title, t.body, t.actions, t.priority,
            t.expires_at, t.status, t.fanout_cursor, t.created_at,
            coalesce(nt.category, 'system') AS category, nt.title AS type_title, nt.body AS type_body
       FROM triggers t LEFT JOIN notification_types nt ON nt.key = t.type
      WHERE t.id = $1`,
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

async function nextRecipients(trigger: TriggerRow, cursor: string | null, limit: number): Promise<{ userIds: string[]; nextCursor: string | null }> {
  if (trigger.topic_key === null) {
    // Explicit recipients: the cursor is the index reached in the stored list.
    const start = cursor === null ? 0 : Number(cursor);
    const userIds = trigger.recipient_ids.slice(start, start + limit);
    return { userIds, nextCursor: userIds.length > 0 ? String(start + userIds.length) : cursor };
  }
  const { rows } = await pool.query<{ user_id: string }>(
    "SELECT user_id FROM topic_subscriptions WHERE topic_key = $1 AND ($2::text IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3",
    [trigger.topic_key, cursor, limit],
  );
  const userIds = rows.map((r) => r.user_id);
  return { userIds, nextCursor: userIds.at(-1) ?? cursor };
}

type InsertedRow = { id: string; user_id: string; seq: number; unread_count: number; unseen_count: number };

/**
 * One statement per chunk: lock the recipients' rows in id order, skip those who already have this
 * trigger's notification, take one seq each, insert the notifications and their `new` changes.
 * A duplicate that slips past the NOT EXISTS (a concurrent delivery of the same chunk) hits the
 * unique key and the caller's retry finds it already done.
 */
async function insertChunk(sql: Sql, trigger: TriggerRow, content: Content, userIds: string[]): Promise<InsertedRow[]> {
  const { rows } = await sql.query<InsertedRow>(
    `WITH locked AS (
       SELECT id FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
     ), fresh AS (
       SELECT l.id FROM locked l
        WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.trigger_id = $2 AND n.user_id = l.id AND n.created_at = $3)
     ), bumped AS (
       UPDATE users u SET last_seq = u.last_seq + 1, unread_count = u.unread_count + 1, unseen_count = u.unseen_count + 1
         FROM fresh f WHERE u.id = f.id
       RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count
     ), inserted AS (
       INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count,
                                  target, actions, data, seq, expires_at, created_at, sort_at, updated_at)
       SELECT uuid_generate_v7(), b.id, $2, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12::jsonb, $13::jsonb, $14::jsonb,
              b.last_seq, $15, $3, $3, $3
         FROM bumped b
       RETURNING id, user_id, seq
     ), changes AS (
       INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
       SELECT user_id, seq, 'new', id, $3, $3 FROM inserted
     )
     SELECT i.id, i.user_id, i.seq, b.unread_count, b.unseen_count FROM inserted i JOIN bumped b ON b.id = i.user_id`,
    [
      userIds,
      trigger.id,
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
    ],
  );
  return rows;
}

/** After commit: cache the new counts and publish to each recipient's devices. */
async function publishChunk(content: Content, rows: InsertedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await cacheCounts(rows.map((r) => ({ userId: r.user_id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.seq } })));
  for (const row of rows) {
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
    publishToUser(row.user_id, "unread_count", { count: row.unread_count, unseen: row.unseen_count });
  }
}
