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
  /**
   * To admins who sent `admin:overview:subscribe`: something the admin overview shows has changed (a
   * trigger accepted, notifications stored, a delivery attempt, a read state). `at` is when it was
   * signalled: an overview asked for with `since=at` includes it. At most one a second per process.
   */
  "admin:activity": (event: { at: string }) => void;
};

export type Ack = (answer: { ok: true; [key: string]: unknown } | { ok: false; error: { code: string; message: string } }) => void;

/** Client → server events; each answers through its acknowledgement callback. */
export type ClientToServerEvents = {
  "notifications:read": (payload: unknown, ack?: Ack) => void;
  "notifications:read_all": (payload: unknown, ack?: Ack) => void;
  "notifications:seen": (payload: unknown, ack?: Ack) => void;
  "notification:ack": (payload: unknown, ack?: Ack) => void;
  /** An admin's socket joins the overview's room (`admin:activity`); anyone else gets `forbidden`. */
  "admin:overview:subscribe": (payload: unknown, ack?: Ack) => void;
};

export const socketIdsPayloadSchema = z.strictObject({ ids: z.array(notificationIdSchema).min(1).max(1000) });
export const socketAckPayloadSchema = z.strictObject({ id: notificationIdSchema });

export type SocketData = { userId: string; expiresAt: number };

/** The room of the admins' sockets that watch the overview (no user id can name it: see userRoom). */
export const ADMIN_OVERVIEW_ROOM = "admin:overview";

/** The room every socket of one user joins, on whichever node it landed. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
