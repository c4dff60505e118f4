import { v7 as uuidv7 } from "uuid";
import { AppError } from "@/server/app-error";
import { withTransaction, type Sql } from "@/server/db";
import type { TriggerAccepted, TriggerInput } from "@/server/notifications/notifications.schema";

export type CreateTriggerOptions = {
  input: TriggerInput;
  serviceKeyId: string;
  /** `Idempotency-Key` and the hash of the canonical request body, when the caller sent one. */
  idempotency?: { key: string; requestHash: string };
};

export type CreateTriggerResult = { status: number; body: TriggerAccepted | Record<string, unknown> };

const IDEMPOTENCY_TTL = "24 hours";

/**
 * Accepts a trigger: validates the type, then stores the trigger and its outbox row in one
 * transaction, so the `202` means the trigger is durable. The outbox relay takes it from there.
 *
 * Idempotency: the key's row is claimed inside the same transaction. A second request with the same
 * key blocks on that row until the first commits, then replays the stored response (or gets 409 for
 * another body); if the first rolls back, the second proceeds as if it were first.
 */
export async function createTrigger({ input, serviceKeyId, idempotency }: CreateTriggerOptions): Promise<CreateTriggerResult> {
  return withTransaction(async (sql) => {
    if (idempotency) {
      const replay = await claimIdempotencyKey(sql, serviceKeyId, idempotency.key, idempotency.requestHash);
      if (replay) return replay;
    }
    const result = await insertTrigger(sql, input, serviceKeyId);
    if (idempotency) {
      await sql.query("UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE scope = $1 AND key = $2", [
        serviceKeyId,
        idempotency.key,
        result.status,
        JSON.stringify(result.body),
      ]);
    }
    return result;
  });
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

type TypeRow = { key: string; priority: string; title: string | null; channels: string[] };

async function insertTrigger(sql: Sql, input: TriggerInput, serviceKeyId: string): Promise<CreateTriggerResult> {
  const { rows: types } = await sql.query<TypeRow>("SELECT key, priority, title, channels FROM notification_types WHERE key = $1", [input.type]);
  const type = types[0];
  if (!type) {
    throw new AppError("unknown_type", `Unknown notification type '${input.type}'.`, { details: [{ field: "type", message: "is not a configured notification type" }] });
  }
  if (type.title === null && !input.title) {
    throw new AppError("validation_failed", `Type '${input.type}' has no template: the trigger must carry a title.`, {
      details: [{ field: "title", message: "is required for this type" }],
    });
  }
  const explicit = Array.isArray(input.to) ? [...new Set(input.to)] : null;
  const topicKey = Array.isArray(input.to) ? null : input.to.topic;
  let recipients = explicit?.length ?? 0;
  if (topicKey) {
    const { rows } = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM topic_subscriptions WHERE topic_key = $1", [topicKey]);
    recipients = rows[0]?.n ?? 0;
  }
  const id = uuidv7();
  const createdAt = new Date();
  await sql.query(
    `INSERT INTO triggers (id, service_key_id, type, recipient_ids, topic_key, recipients, actor, target, data, title, body, actions,
                           priority, channels, send_at, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    [
      id,
      serviceKeyId,
      input.type,
      explicit ?? [],
      topicKey,
      recipients,
      input.actor ? JSON.stringify(input.actor) : null,
      input.target ? JSON.stringify(input.target) : null,
      JSON.stringify(input.data ?? {}),
      input.title ?? null,
      input.body ?? null,
      JSON.stringify(input.actions ?? []),
      input.priority ?? type.priority,
      input.channels ?? type.channels,
      input.sendAt ?? null,
      input.expiresAt ?? null,
      createdAt,
    ],
  );
  await sql.query("INSERT INTO outbox (trigger_id) VALUES ($1)", [id]);
  // Wakes the relay at commit; it also polls, so a lost notification only costs latency.
  await sql.query("SELECT pg_notify('outbox', '')");
  return { status: 202, body: { id, status: "accepted", recipients } };
}
