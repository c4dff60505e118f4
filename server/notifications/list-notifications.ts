import { pool } from "@/server/db";
import { now } from "@/server/clock";
import { env } from "@/server/env";
import { listStatement } from "@/server/notifications/inbox-statements";
import { toNotification, type NotificationRow } from "@/server/notifications/notification-row";
import { pageOf, readHotCache, servedByHotCache, writeHotCache, type InboxPage } from "@/server/notifications/hot-cache";
import { cacheCounts } from "@/server/notifications/unread-counts";
import type { ListQuery } from "@/server/notifications/notifications.schema";

type Row = NotificationRow & { user_last_seq: number; user_unread: number; user_unseen: number };

/**
 * A page of the user's inbox in `(sortAt desc, id desc)` order, with the cursor of the next page and
 * `lastSeq`, the user's seq in the same snapshot: a client that applies live events after it knows
 * exactly which ones the page already reflects. The dropdown's page comes from the hot cache
 * (hot-cache.ts) when it holds the user's current seq; otherwise the latest HOT_CACHE_SIZE are read
 * once and cached, with the counts of the same snapshot.
 */
export async function listNotifications(userId: string, query: ListQuery, at: Date = now()): Promise<InboxPage> {
  if (!servedByHotCache(query)) return (await readPage(userId, query, at)).page;
  const hit = await readHotCache(userId, query.limit);
  if (hit) return hit;
  const { page, rows, more, counts } = await readPage(userId, { ...query, limit: env.HOT_CACHE_SIZE }, at);
  await Promise.all([
    writeHotCache(userId, page.lastSeq, { notifications: rows, more }),
    cacheCounts([{ userId, counts: { count: counts.unread, unseen: counts.unseen, seq: page.lastSeq } }]),
  ]);
  return pageOf({ notifications: rows, more }, query.limit, page.lastSeq);
}

async function readPage(userId: string, query: ListQuery, at: Date) {
  const { rows: joined } = await pool.query<Row>(listStatement(userId, query, at));
  const first = joined[0];
  const lastSeq = Number(first?.user_last_seq ?? 0);
  const found = joined.filter((r) => r.id !== null);
  const rows = found.slice(0, query.limit).map(toNotification);
  const more = found.length > query.limit;
  return {
    page: pageOf({ notifications: rows, more }, query.limit, lastSeq),
    rows,
    more,
    counts: { unread: Number(first?.user_unread ?? 0), unseen: Number(first?.user_unseen ?? 0) },
  };
}
