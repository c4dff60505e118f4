import type { UnreadCount } from "@/server/notifications/notifications.schema";

export type CountsAtSeq = UnreadCount & { seq: number };

/** The cached form of a user's counts (see SET_IF_NEWER in unread-counts.ts): "seq:unread:unseen". */
export function encodeCounts(counts: CountsAtSeq): string {
  return `${counts.seq}:${counts.count}:${counts.unseen}`;
}

export function decodeCounts(value: string | null): CountsAtSeq | null {
  const match = value ? /^(\d+):(\d+):(\d+)$/.exec(value) : null;
  return match ? { seq: Number(match[1]), count: Number(match[2]), unseen: Number(match[3]) } : null;
}

