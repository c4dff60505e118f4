// The OpenAPI 3.1 document of every HTTP route, served at /api/openapi.json. Request bodies and
// query strings are the very zod schemas the route handlers validate with (converted by zod's own
// JSON Schema output, draft 2020-12, which OpenAPI 3.1 uses), so the document cannot drift from
// what the server accepts; a system test checks that every route file is documented and every
// documented route exists.
import { z } from "zod";
import { changeSchema, changesQuerySchema, idsBodySchema, listQuerySchema, notificationSchema, triggerAcceptedSchema, triggerInputSchema, unreadCountSchema } from "@/server/notifications/notifications.schema";
import { preferencesInputSchema } from "@/server/preferences/preferences.schema";
import { subscriptionInputSchema, unsubscribeInputSchema } from "@/server/push/subscriptions";
import { deadLetterQuerySchema, replayInputSchema } from "@/server/channels/dead-letters";
import { createKeySchema, updateKeySchema } from "@/server/auth/service-key-input";
import { suppressionQuerySchema } from "@/server/channels/suppression-query";
import { previewInputSchema, typeInputSchema } from "@/server/types/types.schema";
import { topicSubscribersInputSchema } from "@/server/topics/topics.schema";
import { tokenInputSchema, userInputSchema, userSchema } from "@/server/users/users.schema";
import { demoEventSchema } from "@/server/demo/send-demo-event";
import { overviewQuerySchema, overviewSchema } from "@/server/metrics/overview.schema";

type Auth = "service" | "admin" | "user" | "none" | "signed" | "webhook";
type Operation = {
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  /** A form body (application/x-www-form-urlencoded) with these fields. */
  form?: string[];
  query?: z.ZodType;
  ok: { status: number; description: string; schema?: z.ZodType; contentType?: string };
};
type Method = "get" | "post" | "put" | "patch" | "delete";

const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.array(z.object({ field: z.string(), message: z.string() })).optional() }),
});
const countSchema = z.object({ count: z.number().int() });
const anyObject = z.record(z.string(), z.unknown());

/** Every route: path (OpenAPI style, `{param}`) → method → operation. */
const ROUTES: Record<string, Partial<Record<Method, Operation>>> = {
  "/api/health": { get: { summary: "Health of PostgreSQL and Redis (503 naming what is down)", auth: "none", ok: { status: 200, description: "{ok, db, redis}", schema: anyObject } } },
  "/api/openapi.json": { get: { summary: "This document", auth: "none", ok: { status: 200, description: "OpenAPI 3.1", schema: anyObject } } },
  // Service API
  "/api/v1/notifications": {
    post: { summary: "Trigger a notification to users or a topic (Idempotency-Key supported)", auth: "service", body: triggerInputSchema, ok: { status: 202, description: "accepted", schema: triggerAcceptedSchema } },
  },
  "/api/v1/notifications/{id}": {
    get: { summary: "Trigger status with per-recipient outcomes (paged by cursor)", auth: "service", ok: { status: 200, description: "status", schema: anyObject } },
    delete: { summary: "Cancel a scheduled or running trigger and recall what it created", auth: "service", ok: { status: 200, description: "cancelled", schema: anyObject } },
  },
  "/api/v1/users/{userId}": {
    put: { summary: "Create or update a user", auth: "service", body: userInputSchema, ok: { status: 200, description: "the user", schema: userSchema } },
    delete: { summary: "Erase the user and everything stored about them", auth: "service", ok: { status: 200, description: "{id, erased: {table: rows}}", schema: anyObject } },
  },
  "/api/v1/users/{userId}/export": {
    get: { summary: "Everything stored about the user, as one JSON document", auth: "service", ok: { status: 200, description: "the export", schema: anyObject } },
  },
  "/api/v1/users/{userId}/token": {
    post: { summary: "Mint a user token", auth: "service", body: tokenInputSchema, ok: { status: 200, description: "{token, expiresAt}", schema: z.object({ token: z.string(), expiresAt: z.string() }) } },
  },
  "/api/v1/topics/{topicKey}/subscribers": {
    put: { summary: "Subscribe users to a topic", auth: "service", body: topicSubscribersInputSchema, ok: { status: 200, description: "subscribed", schema: anyObject } },
    delete: { summary: "Unsubscribe users from a topic", auth: "service", body: topicSubscribersInputSchema, ok: { status: 200, description: "unsubscribed", schema: anyObject } },
  },
  // Admin API
  "/api/v1/admin/types": { get: { summary: "Every notification type", auth: "admin", ok: { status: 200, description: "{types}", schema: anyObject } } },
  "/api/v1/admin/types/{key}": {
    get: { summary: "One notification type", auth: "admin", ok: { status: 200, description: "the type", schema: anyObject } },
    put: { summary: "Create or update a type (a new template version when templates change)", auth: "admin", body: typeInputSchema, ok: { status: 200, description: "the type", schema: anyObject } },
  },
  "/api/v1/admin/types/{key}/preview": {
    post: { summary: "Render every channel of a type with sample data", auth: "admin", body: previewInputSchema, ok: { status: 200, description: "rendered channels and warnings", schema: anyObject } },
  },
  "/api/v1/admin/types/{key}/versions": { get: { summary: "A type's template versions", auth: "admin", ok: { status: 200, description: "{versions}", schema: anyObject } } },
  "/api/v1/admin/service-keys": {
    get: { summary: "Every service key (never the key itself) with its own and effective ingestion limits", auth: "admin", ok: { status: 200, description: "{keys, defaults}", schema: anyObject } },
    post: { summary: "Create a service key (shown once)", auth: "admin", body: createKeySchema, ok: { status: 201, description: "{id, name, scopes, key}", schema: anyObject } },
  },
  "/api/v1/admin/service-keys/{id}": {
    patch: { summary: "Set or clear a service key's own ingestion limits (null: the default, 0: unlimited)", auth: "admin", body: updateKeySchema, ok: { status: 200, description: "the key", schema: anyObject } },
    delete: { summary: "Revoke a service key", auth: "admin", ok: { status: 200, description: "revoked", schema: anyObject } },
  },
  "/api/v1/admin/activity": { get: { summary: "Recent triggers with counts per channel", auth: "admin", ok: { status: 200, description: "{triggers}", schema: anyObject } } },
  "/api/v1/admin/activity/{triggerId}": { get: { summary: "One trigger's recipients and outcomes", auth: "admin", ok: { status: 200, description: "the trigger", schema: anyObject } } },
  "/api/v1/admin/activity/{triggerId}/{userId}": {
    get: { summary: "One recipient's timeline across channels and devices", auth: "admin", ok: { status: 200, description: "the timeline", schema: anyObject } },
  },
  "/api/v1/admin/dead-letters": { get: { summary: "Dead letters by channel", auth: "admin", query: deadLetterQuerySchema, ok: { status: 200, description: "{deadLetters}", schema: anyObject } } },
  "/api/v1/admin/dead-letters/{id}": { delete: { summary: "Discard a dead letter", auth: "admin", ok: { status: 200, description: "discarded", schema: anyObject } } },
  "/api/v1/admin/dead-letters/replay": { post: { summary: "Replay dead letters (some or all of a channel)", auth: "admin", body: replayInputSchema, ok: { status: 200, description: "{replayed}", schema: anyObject } } },
  "/api/v1/admin/overview": {
    get: { summary: "Sent and failed per channel over time, queue depths and the in-app funnel, for a window", auth: "admin", query: overviewQuerySchema, ok: { status: 200, description: "the overview", schema: overviewSchema } },
  },
  "/api/v1/admin/local-outbox": { get: { summary: "Emails and SMS kept locally when no provider is configured", auth: "admin", ok: { status: 200, description: "{messages}", schema: anyObject } } },
  "/api/v1/admin/suppressions": {
    get: { summary: "Suppressed addresses (bounced, complained, STOP)", auth: "admin", ok: { status: 200, description: "{suppressions}", schema: anyObject } },
    delete: { summary: "Lift one suppressed address", auth: "admin", query: suppressionQuerySchema, ok: { status: 200, description: "{removed}", schema: anyObject } },
  },
  // End-user API (user token or session cookie)
  "/api/notifications": {
    get: { summary: "The inbox, newest first, by cursor", auth: "user", query: listQuerySchema, ok: { status: 200, description: "{notifications, nextCursor}", schema: z.object({ notifications: z.array(notificationSchema), nextCursor: z.string().nullable() }) } },
  },
  "/api/notifications/unread-count": { get: { summary: "Unread and unseen counts", auth: "user", ok: { status: 200, description: "counts", schema: unreadCountSchema } } },
  "/api/notifications/changes": {
    get: { summary: "Every change after a seq (410 resync_required when out of range)", auth: "user", query: changesQuerySchema, ok: { status: 200, description: "{changes, lastSeq, hasMore}", schema: z.object({ changes: z.array(changeSchema) }).loose() } },
  },
  "/api/notifications/read": { post: { summary: "Mark read", auth: "user", body: idsBodySchema, ok: { status: 200, description: "{count}", schema: countSchema } } },
  "/api/notifications/unread": { post: { summary: "Mark unread", auth: "user", body: idsBodySchema, ok: { status: 200, description: "{count}", schema: countSchema } } },
  "/api/notifications/seen": { post: { summary: "Mark seen", auth: "user", body: idsBodySchema, ok: { status: 200, description: "{count}", schema: countSchema } } },
  "/api/notifications/archive": { post: { summary: "Archive", auth: "user", body: idsBodySchema, ok: { status: 200, description: "{count}", schema: countSchema } } },
  "/api/notifications/unarchive": { post: { summary: "Unarchive", auth: "user", body: idsBodySchema, ok: { status: 200, description: "{count}", schema: countSchema } } },
  "/api/notifications/read-all": { post: { summary: "Mark everything read", auth: "user", ok: { status: 200, description: "{count}", schema: countSchema } } },
  "/api/notifications/{id}/click": { post: { summary: "Record a click (marks read)", auth: "user", ok: { status: 200, description: "clicked", schema: anyObject } } },
  "/api/notification-types": { get: { summary: "The types a user can receive (settings page)", auth: "user", ok: { status: 200, description: "{types}", schema: anyObject } } },
  "/api/preferences": {
    get: { summary: "The user's preferences", auth: "user", ok: { status: 200, description: "preferences", schema: anyObject } },
    put: { summary: "Merge a change into the user's preferences (null = back to the default)", auth: "user", body: preferencesInputSchema, ok: { status: 200, description: "preferences", schema: anyObject } },
  },
  "/api/push-subscriptions": {
    post: { summary: "Save this browser's web push subscription", auth: "user", body: subscriptionInputSchema, ok: { status: 201, description: "saved", schema: anyObject } },
    delete: { summary: "Forget a web push subscription", auth: "user", body: unsubscribeInputSchema, ok: { status: 200, description: "removed", schema: anyObject } },
  },
  "/api/push/config": { get: { summary: "The VAPID public key", auth: "none", ok: { status: 200, description: "{publicKey}", schema: anyObject } } },
  "/api/demo/events": { post: { summary: "Send yourself a demo notification (DEMO_MODE only)", auth: "user", body: demoEventSchema, ok: { status: 202, description: "accepted", schema: anyObject } } },
  // Sign-in
  "/auth/session": { post: { summary: "Exchange a user token for a session cookie, then redirect to `next`", auth: "none", form: ["token", "next"], ok: { status: 303, description: "redirect with Set-Cookie" } } },
  "/auth/link": { post: { summary: "Use a one-time admin sign-in link", auth: "none", form: ["token"], ok: { status: 303, description: "redirect with Set-Cookie" } } },
  "/auth/demo": { post: { summary: "Sign in as a demo user (DEMO_MODE only)", auth: "none", form: ["userId"], ok: { status: 303, description: "redirect with Set-Cookie" } } },
  // Signed links in emails, and provider webhooks
  "/e/o/{token}": { get: { summary: "Email open pixel", auth: "signed", ok: { status: 200, description: "a 1×1 GIF", contentType: "image/gif" } } },
  "/e/c/{token}": { get: { summary: "Email click: record, then redirect to the target", auth: "signed", ok: { status: 302, description: "redirect" } } },
  "/e/u/{token}": {
    get: { summary: "Unsubscribe page for one category", auth: "signed", ok: { status: 200, description: "HTML page", contentType: "text/html" } },
    post: { summary: "One-click unsubscribe (RFC 8058)", auth: "signed", ok: { status: 200, description: "unsubscribed", contentType: "text/html" } },
  },
  "/api/webhooks/email": { post: { summary: "Resend events (Svix-signed): delivered, bounced, complained", auth: "webhook", ok: { status: 200, description: "recorded", schema: anyObject } } },
  "/api/webhooks/sms": { post: { summary: "SMS status callbacks and STOP (Twilio-signed)", auth: "webhook", form: ["MessageSid", "MessageStatus", "From", "Body"], ok: { status: 200, description: "recorded" } } },
};

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  service: [{ serviceKey: ["notify"] }],
  admin: [{ serviceKey: ["admin"] }, { userToken: [] }, { session: [] }],
  user: [{ userToken: [] }, { session: [] }],
  none: [],
  signed: [],
  webhook: [],
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

/** Query parameters from an object schema: one parameter per property. */
function queryParameters(schema: z.ZodType) {
  const json = jsonSchema(schema, "input") as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({ name, in: "query", required: json.required?.includes(name) ?? false, schema: s }));
}

let cached: Record<string, unknown> | null = null;

export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(ROUTES)) {
    const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    paths[path] = {};
    for (const [method, op] of Object.entries(methods) as [Method, Operation][]) {
      const content = op.ok.schema ? { [op.ok.contentType ?? "application/json"]: { schema: jsonSchema(op.ok.schema, "output") } } : op.ok.contentType ? { [op.ok.contentType]: {} } : undefined;
      paths[path][method] = {
        summary: op.summary,
        tags: [tagOf(path)],
        security: SECURITY[op.auth],
        parameters: [...params, ...(op.query ? queryParameters(op.query) : [])],
        ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body, "input") } } } } : {}),
        ...(op.form
          ? { requestBody: { required: true, content: { "application/x-www-form-urlencoded": { schema: { type: "object", properties: Object.fromEntries(op.form.map((f) => [f, { type: "string" }])) } } } } }
          : {}),
        responses: {
          [String(op.ok.status)]: { description: op.ok.description, ...(content ? { content } : {}) },
          default: { description: "An error in API.md's format", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
        },
      };
    }
  }
  cached = {
    openapi: "3.1.0",
    info: { title: "Notification system API", version: "1.0.0", description: "Service, admin and end-user HTTP API. Real-time events travel over Socket.IO on the same origin (see API.md)." },
    paths,
    components: {
      schemas: { Error: jsonSchema(errorSchema, "output") },
      securitySchemes: {
        serviceKey: { type: "http", scheme: "bearer", description: "A service key; scopes `notify` (users, tokens, topics, triggers, privacy) and `admin` (everything under /api/v1/admin)." },
        userToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A user token from POST /api/v1/users/{userId}/token (an admin's token reaches the admin API)." },
        session: { type: "apiKey", in: "cookie", name: "notify_session", description: "The browser session cookie; writes must come from the same origin." },
      },
    },
  };
  return cached;
}

function tagOf(path: string): string {
  if (path.startsWith("/api/v1/admin")) return "admin";
  if (path.startsWith("/api/v1")) return "service";
  if (path.startsWith("/api/webhooks") || path.startsWith("/e/")) return "delivery";
  if (path.startsWith("/auth")) return "sign-in";
  return "inbox";
}
