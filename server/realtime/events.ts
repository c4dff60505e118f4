import { z } from "zod";
import type { Notification, UnreadCount } from "@/server/notifications/notifications.schema";
import { notificationIdSchema } from "@/server/notifications/notifications.schema";
import type { Preferences } from "@/server/preferences/preferences.schema";

/** Payload of the bulk state events: which notifications changed, at which `seq`. */
export type StateChangeEvent = { ids: string[]; seq: number; at: string };

/** Server → client events (API.md, Real time). */
export type ServerToClientEvents = {
  "notification:new": (notification: Notification) => void;
  "notification:updated": (notification: Notification) => void;
  "notifications:read": (event: StateChangeEvent) => void;
  "notifications:unread": (event: StateChangeEvent) => void;
  "notifications:seen": (event: StateChangeEvent) => void;
  "notifications:archived": (event: StateChangeEvent) => void;
  "notifications:unarchived": (event: StateChangeEvent) => void;
  "notifications:removed": (event: StateChangeEvent) => void;
  "notifications:read_all": (event: { seq: number; at: string }) => void;
  unread_count: (count: UnreadCount) => void;
  "preferences:updated": (preferences: Preferences) => void;
};

export type Ack = (answer: { ok: true; [key: string]: unknown } | { ok: false; error: { code: string; message: string } }) => void;

/** Client → server events; each answers through its acknowledgement callback. */
export type ClientToServerEvents = {
  "notifications:read": (payload: unknown, ack?: Ack) => void;
  "notifications:read_all": (payload: unknown, ack?: Ack) => void;
  "notifications:seen": (payload: unknown, ack?: Ack) => void;
  "notification:ack": (payload: unknown, ack?: Ack) => void;
};

export const socketIdsPayloadSchema = z.strictObject({ ids: z.array(notificationIdSchema).min(1).max(1000) });
export const socketAckPayloadSchema = z.strictObject({ id: notificationIdSchema });

export type SocketData = { userId: string; expiresAt: number };

/** The room every socket of one user joins, on whichever node it landed. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
