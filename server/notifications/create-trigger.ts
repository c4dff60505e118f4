import { v7 as uuidv7 } from "uuid";
import { AppError } from "@/server/app-error";
import { pool, prepared, withTransaction, type Sql } from "@/server/db";
import { batcher } from "@/server/batcher";
import { enqueueFanouts, enqueueFastFanout, takesFastPath } from "@/server/queues";
import { logger } from "@/server/logger";
import { signalAdminActivity } from "@/server/realtime/publish";
import { countMetric } from "@/server/metrics/metrics";
import type { Priority, TriggerAccepted, TriggerInput } from "@/server/notifications/notifications.schema";
import { now } from "@/server/clock";
import { env } from "@/server/env";

export type CreateTriggerOptions = {
  input: TriggerInput;
  serviceKeyId: string;
  /** `Idempotency-Key` and the hash of the canonical request body, when the caller sent one. */
  idempotency?: { key: string; requestHash: string };
};

export type CreateTriggerResult = { status: number; body: TriggerAccepted | Record<string, unknown> };
type Stored = CreateTriggerResult & { priority?: Priority; sendAt?: Date | null };

const IDEMPOTENCY_TTL = "24 hours";

type Queryable = Pick<Sql, "query">;

/**
 * Accepts a trigger: validates the type, then stores the trigger and its outbox row in one
 * transaction, so the `202` means the trigger is durable; then queues its fan-out. The outbox row is
 * done only when the fan-out has committed, so the relay re-queues whatever gets lost.
 *
 * Idempotency: the key's row is claimed inside the same transaction. A second request with the same
 * key blocks on that row until the first commits, then replays the stored response (or gets 409 for
 * another body); if the first rolls back, the second proceeds as if it were first.
 */
export async function createTrigger(options: CreateTriggerOptions): Promise<CreateTriggerResult & { isNew: boolean }> {
  const result = await storeTrigger(options);
  // A trigger with a sendAt in the future waits in the outbox; the relay queues it when it is due.
  const scheduled = result.sendAt && result.sendAt.getTime() > now().getTime();
  if (result.isNew && result.status === 202) {
    countMetric("notify_triggers_total", { priority: result.priority ?? "normal" });
    logger.debug({ triggerId: result.body.id, recipients: result.body.recipients, priority: result.priority }, "trigger accepted");
  }
  if (result.isNew && result.status === 202 && !scheduled) {
    // The fast path: queue the fan-out right after commit. If this fails (Redis down, crash right
    // here), the outbox relay finds the row unfinished after OUTBOX_GRACE_MS and queues it.
    const triggerId = result.body.id as string;
    const priority = result.priority ?? "normal";
    const fast = takesFastPath({ recipients: Number(result.body.recipients), topic: !Array.isArray(options.input.to) });
    await (fast ? enqueueFastFanout(triggerId, priority) : enqueueFanouts([{ triggerId, priority }])).catch((error: unknown) =>
      logger.warn({ err: error, triggerId }, "fan-out not queued; the outbox relay will"),
    );
  }
  // After the job is queued, so the overview's queue depth has it.
  if (result.isNew && result.status === 202) signalAdminActivity();
  return { status: result.status, body: result.body, isNew: result.isNew };
}

async function storeTrigger({ input, serviceKeyId, idempotency }: CreateTriggerOptions): Promise<Stored & { isNew: boolean }> {
  // Without a key, the single statement is its own transaction (shared with the requests of the moment).
  if (!idempotency) return { ...(await insertTrigger(null, input, serviceKeyId)), isNew: true };
  return withTransaction(async (sql) => {
    const replay = await claimIdempotencyKey(sql, serviceKeyId, idempotency.key, idempotency.requestHash);
    if (replay) return { ...replay, isNew: false };
    const result = await insertTrigger(sql, input, serviceKeyId);
    await sql.query("UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE scope = $1 AND key = $2", [
        serviceKeyId,
        idempotency.key,
        result.status,
      JSON.stringify(result.body),
    ]);
    return { ...result, isNew: true };
  });
}

/**
 * The stored answer for a key used before (same body: replay; other body: 409), looked up before the
 * body is validated, so a replay still gets its first answer after, say, expiresAt has passed.
 */
export async function findIdempotentReplay(scope: string, key: string, requestHash: string): Promise<CreateTriggerResult | null> {
  const { rows } = await pool.query<{ request_hash: string; response_status: number | null; response_body: Record<string, unknown> | null }>(
    `SELECT request_hash, response_status, response_body FROM idempotency_keys
      WHERE scope = $1 AND key = $2 AND created_at >= now() - interval '${IDEMPOTENCY_TTL}'`,
    [scope, key],
  );
  const existing = rows[0];
  if (!existing || existing.response_status === null || !existing.response_body) return null;
  if (existing.request_hash !== requestHash) throw new AppError("conflict", "This Idempotency-Key was already used with a different request body.");
  return { status: existing.response_status, body: existing.response_body };
}

async function claimIdempotencyKey(sql: Sql, scope: string, key: string, requestHash: string): Promise<CreateTriggerResult | null> {
  const claimed = await sql.query(
    `INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
     ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL, created_at = now()
       WHERE idempotency_keys.created_at < now() - interval '${IDEMPOTENCY_TTL}'
     RETURNING scope`,
    [scope, key, requestHash],
  );
  if (claimed.rowCount === 1) return null;
  const { rows } = await sql.query<{ request_hash: string; response_status: number | null; response_body: Record<string, unknown> | null }>(
    "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2",
    [scope, key],
  );
  const existing = rows[0];
  if (!existing || existing.request_hash !== requestHash || existing.response_status === null || !existing.response_body) {
    throw new AppError("conflict", "This Idempotency-Key was already used with a different request body.");
  }
  return { status: existing.response_status, body: existing.response_body };
}

/**
 * Stores the trigger and its outbox row in ONE statement (so one round trip
 * and atomic even outside a transaction). The type supplies defaults; when no row comes back, a
 * second look tells the caller why (unknown type, or a type without template and no title).
 * Outside a transaction (no Idempotency-Key), the requests of the moment share the statement (see
 * batcher): its rows stand or fall each on its own type, and the statement is atomic.
 */
async function insertTrigger(sql: Queryable | null, input: TriggerInput, serviceKeyId: string): Promise<Stored> {
  // A notification is as old as its trigger's acceptance: one scheduled past the retention limit
  // would be deleted the night it is delivered. Refused instead.
  if (input.sendAt && env.RETENTION_DELETE_DAYS > 0 && Date.parse(input.sendAt) > now().getTime() + env.RETENTION_DELETE_DAYS * 86_400_000) {
    throw new AppError("validation_failed", `sendAt is further ahead than notifications are kept (RETENTION_DELETE_DAYS = ${env.RETENTION_DELETE_DAYS}).`, {
      details: [{ field: "sendAt", message: `must be within ${env.RETENTION_DELETE_DAYS} days` }],
    });
  }
  const row: NewTrigger = { id: uuidv7(), serviceKeyId, input, createdAt: new Date() };
  const stored = sql ? (await insertTriggers(sql, [row]))[0] : await insertShared(row);
  if (stored) return { status: 202, body: { id: row.id, status: "accepted", recipients: stored.recipients }, priority: stored.priority, sendAt: stored.send_at };
  return refusal(sql ?? pool, input);
}

type NewTrigger = { id: string; serviceKeyId: string; input: TriggerInput; createdAt: Date };
type InsertedTrigger = { recipients: number; priority: Priority; send_at: Date | null };

/** The requests of the moment in one statement: DB_POOL_SIZE at a time at most, 100 to a statement. */
const globalForInserts = globalThis as typeof globalThis & { __notifyTriggerInserts?: (row: NewTrigger) => Promise<InsertedTrigger | null> };
function insertShared(row: NewTrigger): Promise<InsertedTrigger | null> {
  globalForInserts.__notifyTriggerInserts ??= batcher((rows: NewTrigger[]) => insertTriggers(pool, rows), { inFlight: Math.max(1, Math.floor(env.DB_POOL_SIZE / 2)), max: 100 });
  return globalForInserts.__notifyTriggerInserts(row);
}

/** Stores triggers and their outbox rows; per trigger, what was stored, or null when its type refused it. */
async function insertTriggers(sql: Queryable, triggers: NewTrigger[]): Promise<(InsertedTrigger | null)[]> {
  // Explicit recipients, once each, all in one array: each trigger takes its slice of it.
  const recipients: string[] = [];
  const bounds = triggers.map(({ input }) => {
    const from = recipients.length + 1;
    if (Array.isArray(input.to)) recipients.push(...new Set(input.to));
    return [from, recipients.length] as const;
  });
  const column = <T>(pick: (input: TriggerInput, t: NewTrigger) => T) => triggers.map((t) => pick(t.input, t));
  const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));
  const { rows } = await sql.query<InsertedTrigger & { id: string }>(prepared(
    `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::jsonb[], $8::jsonb[], $9::jsonb[], $10::text[],
                            $11::text[], $12::jsonb[], $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::timestamptz[], $18::int[])
                AS i(id, service_key_id, type, rfrom, rto, topic_key, actor, target, data, title, body, actions, priority, channels, send_at,
                     expires_at, created_at, broadcast_threshold)
     ), typed AS (
       SELECT i.*, coalesce(string_to_array(i.channels, ','), nt.channels) AS chosen, nt.priority AS type_priority
         FROM input i JOIN notification_types nt ON nt.key = i.type AND nt.archived_at IS NULL
        WHERE (i.channels IS NULL OR string_to_array(i.channels, ',') <@ nt.channels)
          -- A title is needed only when the inbox gets it and the type has no in-app template.
          AND (nt.templates ? 'in_app' OR i.title IS NOT NULL OR NOT ('in_app' = ANY(coalesce(string_to_array(i.channels, ','), nt.channels))))
     ), inserted AS (
       INSERT INTO triggers (id, service_key_id, type, recipient_ids, topic_key, recipients, actor, target, data, title, body, actions,
                             priority, channels, send_at, expires_at, created_at, broadcast_threshold)
       SELECT id, service_key_id, type, ($19::text[])[rfrom:rto], topic_key,
              CASE WHEN topic_key IS NULL THEN rto - rfrom + 1 ELSE (SELECT count(*) FROM topic_subscriptions s WHERE s.topic_key = typed.topic_key) END,
              actor, target, data, title, body, actions, coalesce(priority, type_priority), chosen, send_at, expires_at, created_at, broadcast_threshold
         FROM typed
       RETURNING id, recipients, priority, send_at, created_at
     ), queued AS (
       INSERT INTO outbox (trigger_id, available_at) SELECT id, coalesce(send_at, created_at) FROM inserted
     )
     SELECT id, recipients, priority, send_at FROM inserted`,
    [
      column((_, t) => t.id),
      column((_, t) => t.serviceKeyId),
      column((i) => i.type),
      bounds.map(([from]) => from),
      bounds.map(([, to]) => to),
      column((i) => (Array.isArray(i.to) ? null : i.to.topic)),
      column((i) => json(i.actor)),
      column((i) => json(i.target)),
      column((i) => JSON.stringify(i.data ?? {})),
      column((i) => i.title ?? null),
      column((i) => i.body ?? null),
      column((i) => JSON.stringify(i.actions ?? [])),
      column((i) => i.priority ?? null),
      // Channels are from a closed set (the schema's): no comma in any of them.
      column((i) => i.channels?.join(",") ?? null),
      column((i) => i.sendAt ?? null),
      column((i) => i.expiresAt ?? null),
      column((_, t) => t.createdAt),
      column((i) => i.broadcastThreshold ?? null),
      recipients,
    ],
  ));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return triggers.map((t) => byId.get(t.id) ?? null);
}

/** Why the type refused a trigger (it stored nothing). */
async function refusal(sql: Queryable, input: TriggerInput): Promise<never> {
  const { rows: types } = await sql.query<{ channels: string[]; archived: boolean }>("SELECT channels, archived_at IS NOT NULL AS archived FROM notification_types WHERE key = $1", [input.type]);
  const type = types[0];
  if (!type) {
    throw new AppError("unknown_type", `Unknown notification type '${input.type}'.`, { details: [{ field: "type", message: "is not a configured notification type" }] });
  }
  if (type.archived) {
    throw new AppError("unknown_type", `Notification type '${input.type}' is archived.`, { details: [{ field: "type", message: "is archived; an admin can restore it" }] });
  }
  const foreign = (input.channels ?? []).filter((c) => !type.channels.includes(c));
  if (foreign.length > 0) {
    throw new AppError("validation_failed", `Type '${input.type}' is not sent by ${foreign.join(", ")}.`, {
      details: [{ field: "channels", message: `must be a subset of the type's channels (${type.channels.join(", ")})` }],
    });
  }
  throw new AppError("validation_failed", `Type '${input.type}' has no template: the trigger must carry a title.`, {
    details: [{ field: "title", message: "is required for this type" }],
  });
}
