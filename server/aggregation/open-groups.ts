// The aggregation step of a fan-out chunk: for each inbox recipient, whether the event joins the
// recipient's open group (an unread, unarchived notification whose window has not ended) or starts a
// new one. Runs inside the chunk's transaction and locks what it decides on, so that events of one
// group arriving at once on several workers take turns: each sees what the one before it committed.
import type { Sql } from "@/server/db";
import { mergeActors, type Actor } from "@/server/aggregation/aggregate";

/** The notification an event updates, with its actors after the event joined. */
export type JoinedGroup = {
  notificationId: string;
  createdAt: Date;
  actors: Actor[];
  actorCount: number;
  /** Whether the user had seen it: the update shows it as new activity again (and unseen grows). */
  wasSeen: boolean;
};

/**
 * Locks the groups of `userIds` (in id order, creating the rows the first time: a row is the group's
 * lock), then the notifications of the groups still open at `at`, and records the event's actor.
 * Returns the recipients whose group is open; everyone else starts a new group, which
 * `groupStartSql` points at their new notification in the chunk's statement.
 */
export async function joinOpenGroups(sql: Sql, groupKey: string, userIds: readonly string[], actor: Actor | null, at: Date): Promise<Map<string, JoinedGroup>> {
  const joined = new Map<string, JoinedGroup>();
  if (userIds.length === 0) return joined;
  const sorted = [...userIds].sort();
  // DO UPDATE (of nothing that matters) locks an existing row and returns its latest committed state,
  // also when another transaction created or moved it while this one waited.
  const { rows: groups } = await sql.query<{ user_id: string; notification_id: string | null; notification_at: Date | null; window_ends_at: Date | null }>(
    `INSERT INTO notification_groups AS g (user_id, group_key)
     SELECT u, $2 FROM unnest($1::text[]) AS u ORDER BY u
     ON CONFLICT (user_id, group_key) DO UPDATE SET group_key = excluded.group_key
     RETURNING g.user_id, g.notification_id, g.notification_at, g.window_ends_at`,
    [sorted, groupKey],
  );
  const candidates = groups.filter((g) => g.notification_id !== null && g.window_ends_at !== null && g.window_ends_at > at);
  if (candidates.length > 0) {
    // Users before their notifications, in id order, as every other writer does (marking one read
    // locks the user and then the notification): the other order deadlocks with a read.
    await sql.query("SELECT 1 FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [candidates.map((g) => g.user_id)]);
    const { rows: open } = await sql.query<{ id: string; user_id: string; created_at: Date; actors: Actor[]; actor_count: number; seen: boolean }>(
      `SELECT id, user_id, created_at, actors, actor_count, seen_at IS NOT NULL AS seen FROM notifications
        WHERE (id, created_at) IN (SELECT * FROM unnest($1::uuid[], $2::timestamptz[]))
          AND read_at IS NULL AND archived_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
        ORDER BY user_id FOR UPDATE`,
      [candidates.map((g) => g.notification_id), candidates.map((g) => g.notification_at), at],
    );
    for (const n of open) joined.set(n.user_id, { notificationId: n.id, createdAt: n.created_at, actors: n.actors, actorCount: n.actor_count, wasSeen: n.seen });
  }
  // A new group forgets the actors of the one before it.
  const starting = sorted.filter((id) => !joined.has(id));
  if (starting.length > 0) {
    await sql.query("DELETE FROM notification_group_actors WHERE group_key = $2 AND user_id = ANY($1::text[])", [starting, groupKey]);
  }
  if (actor) {
    const { rows: added } = await sql.query<{ user_id: string }>(
      `INSERT INTO notification_group_actors (user_id, group_key, actor_id)
       SELECT u, $2, $3 FROM unnest($1::text[]) AS u ORDER BY u ON CONFLICT DO NOTHING RETURNING user_id`,
      [sorted, groupKey, actor.id],
    );
    const isNew = new Set(added.map((r) => r.user_id));
    for (const [userId, group] of joined) {
      const merged = mergeActors({ actors: group.actors, actorCount: group.actorCount, seen: isNew.has(userId) ? new Set() : new Set([actor.id]) }, actor);
      joined.set(userId, { ...group, actors: merged.actors, actorCount: merged.actorCount });
    }
  }
  return joined;
}

/** Removes the groups whose window has ended (a later event starts a new group anyway), with their actors. */
export async function pruneEndedGroups(sql: Pick<Sql, "query">, before: Date, limit = 5000): Promise<number> {
  const { rowCount } = await sql.query(
    `WITH ended AS (
       DELETE FROM notification_groups WHERE ctid IN (
         SELECT ctid FROM notification_groups WHERE window_ends_at < $1 ORDER BY window_ends_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING user_id, group_key
     )
     DELETE FROM notification_group_actors a USING ended e WHERE a.user_id = e.user_id AND a.group_key = e.group_key`,
    [before, limit],
  );
  return rowCount ?? 0;
}
