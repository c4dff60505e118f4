// The admin API as the dashboard calls it: same origin, the admin's session cookie.
import type { NotificationType } from "@/server/types/type-registry";
import type { TypeInput } from "@/server/types/types.schema";

export type { NotificationType };
export type FieldError = { field: string; message: string };

export class AdminApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly details: FieldError[] = [],
  ) {
    super(message);
  }
}

export async function adminApi<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`/api/v1/admin${path}`, { ...init, credentials: "same-origin", headers: { "content-type": "application/json" } });
  const body = (await response.json().catch(() => null)) as (T & { error?: { message: string; details?: FieldError[] } }) | null;
  if (!response.ok) throw new AdminApiError(body?.error?.message ?? `Request failed (${response.status})`, response.status, body?.error?.details ?? []);
  return body as T;
}

/** What the editor holds: a type as PUT takes it. */
export type TypeDraft = TypeInput;

export function draftOf(type: NotificationType): TypeDraft {
  return {
    name: type.name,
    category: type.category,
    priority: type.priority,
    channels: type.channels,
    optOut: type.optOut,
    respectQuietHours: type.respectQuietHours,
    defaults: type.defaults,
    aggregate: type.aggregate,
    batch: type.batch,
    limits: type.limits,
    templates: type.templates,
    locales: type.locales,
    archived: type.archived,
  };
}

export function newDraft(): TypeDraft {
  return {
    name: "",
    category: "engagement",
    priority: "normal",
    channels: ["in_app"],
    optOut: true,
    respectQuietHours: true,
    defaults: {},
    aggregate: null,
    batch: null,
    limits: null,
    templates: { in_app: { title: "{{ actor.name }} did something", body: "" } },
    locales: {},
    archived: false,
  };
}
