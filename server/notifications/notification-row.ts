import type { Notification, Priority } from "@/server/notifications/notifications.schema";

/** The columns every read of a notification selects, as `n.*` aliases. */
export const NOTIFICATION_COLUMNS = `n.id, n.type, n.category, n.priority, n.title, n.body, n.actor, n.actors, n.actor_count,
  n.target, n.actions, n.data, n.seq, n.read_at, n.seen_at, n.archived_at, n.clicked_at, n.expires_at, n.created_at, n.sort_at`;

export type NotificationRow = {
  id: string;
  type: string;
  category: string;
  priority: string;
  title: string;
  body: string;
  actor: Notification["actor"];
  actors: Notification["actors"];
  actor_count: number;
  target: Notification["target"];
  actions: Notification["actions"];
  data: Notification["data"];
  seq: number;
  read_at: Date | null;
  seen_at: Date | null;
  archived_at: Date | null;
  clicked_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
  sort_at: Date;
};

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    type: row.type,
    category: row.category,
    priority: row.priority as Priority,
    title: row.title,
    body: row.body,
    actor: row.actor,
    actors: row.actors,
    actorCount: row.actor_count,
    target: row.target,
    actions: row.actions,
    data: row.data,
    seq: row.seq,
    read: row.read_at !== null,
    seen: row.seen_at !== null,
    archived: row.archived_at !== null,
    createdAt: row.created_at.toISOString(),
    sortAt: row.sort_at.toISOString(),
    readAt: iso(row.read_at),
    seenAt: iso(row.seen_at),
    archivedAt: iso(row.archived_at),
    clickedAt: iso(row.clicked_at),
    expiresAt: iso(row.expires_at),
  };
}
