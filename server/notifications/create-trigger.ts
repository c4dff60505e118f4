import { v7 as uuidv7 } from "uuid";
import { AppError } from "@/server/app-error";
import { pool, prepared, withTransaction, type Sql } from "@/server/db";
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
  // Without a key, the single statement is its own transaction.
  if (!idempotency) return { ...(await insertTrigger(pool, input, serviceKeyId)), isNew: true };
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
 */
async function insertTrigger(sql: Queryable, input: TriggerInput, serviceKeyId: string): Promise<Stored> {
  // A notification is as old as its trigger's acceptance: one scheduled past the retention limit
  // would be deleted the night it is delivered. Refused instead.
  if (input.sendAt && env.RETENTION_DELETE_DAYS > 0 && Date.parse(input.sendAt) > now().getTime() + env.RETENTION_DELETE_DAYS * 86_400_000) {
    throw new AppError("validation_failed", `sendAt is further ahead than notifications are kept (RETENTION_DELETE_DAYS = ${env.RETENTION_DELETE_DAYS}).`, {
      details: [{ field: "sendAt", message: `must be within ${env.RETENTION_DELETE_DAYS} days` }],
    });
  }
  const explicit = Array.isArray(input.to) ? [...new Set(input.to)] : null;
  const topicKey = Array.isArray(input.to) ? null : input.to.topic;
  const id = uuidv7();
  const { rows } = await sql.query<{ recipients: number; priority: Priority; send_at: Date | null }>(prepared(
    `WITH type AS (
       SELECT priority, channels FROM notification_types
        WHERE key = $3 AND archived_at IS NULL AND ($13::text[] IS NULL OR $13::text[] <@ channels)
          -- A title is needed only when the inbox gets it and the type has no in-app template.
          AND (templates ? 'in_app' OR $9::text IS NOT NULL OR NOT ('in_app' = ANY(coalesce($13::text[], channels))))
     ), inserted AS (
       INSERT INTO triggers (id, service_key_id, type, recipient_ids, topic_key, recipients, actor, target, data, title, body, actions,
                             priority, channels, send_at, expires_at, created_at, broadcast_threshold)
       SELECT $1::uuid, $2::text, $3::text, $4::text[], $5::text,
              CASE WHEN $5::text IS NULL THEN cardinality($4::text[]) ELSE (SELECT count(*) FROM topic_subscriptions WHERE topic_key = $5) END,
              $6::jsonb, $7::jsonb, $8::jsonb, $9::text, $10::text, $11::jsonb, coalesce($12::text, type.priority),
              coalesce($13::text[], type.channels), $14::timestamptz, $15::timestamptz, $16::timestamptz, $17::int
         FROM type
       RETURNING id, recipients, priority, send_at, created_at
     ), queued AS (
       INSERT INTO outbox (trigger_id, available_at) SELECT id, coalesce(send_at, created_at) FROM inserted
     )
     SELECT recipients, priority, send_at FROM inserted`,
    [
      id,
      serviceKeyId,
      input.type,
      explicit ?? [],
      topicKey,
      input.actor ? JSON.stringify(input.actor) : null,
      input.target ? JSON.stringify(input.target) : null,
      JSON.stringify(input.data ?? {}),
      input.title ?? null,
      input.body ?? null,
      JSON.stringify(input.actions ?? []),
      input.priority ?? null,
      input.channels ?? null,
      input.sendAt ?? null,
      input.expiresAt ?? null,
      new Date(),
      input.broadcastThreshold ?? null,
    ],
  ));
  const row = rows[0];
  if (row) return { status: 202, body: { id, status: "accepted", recipients: row.recipients }, priority: row.priority, sendAt: row.send_at };
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
