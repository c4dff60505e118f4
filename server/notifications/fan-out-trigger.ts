import { fastUuidV7 } from "@/server/ids";
import { keyedPool, pool, prepared, withTransaction, type Sql } from "@/server/db";
import { enqueueFanoutHelpers } from "@/server/queues";
import { env } from "@/server/env";
import { logger } from "@/server/logger";
import { countMetric, observeMetric } from "@/server/metrics/metrics";
import { now } from "@/server/clock";
import { cacheCounts } from "@/server/notifications/unread-counts";
import { publishToUser, signalAdminActivity } from "@/server/realtime/publish";
import { cacheCountsAndPublish, canPublishWithCounts, type Recipient as Published } from "@/server/realtime/publish-with-counts";
import { filterOnline } from "@/server/realtime/presence";
import type { Channel, Notification, Priority } from "@/server/notifications/notifications.schema";
import { resolvePreferences } from "@/server/preferences/preferences.schema";
import { decideDelivery, type Decision, type RoutingType } from "@/server/routing/decide-delivery";
import { inAppReasonParams, inAppReasonSql } from "@/server/routing/in-app-sql";
import { takeRateLimits, type Limits } from "@/server/routing/rate-limits";
import { readsRecipient, renderChannel, templatesFor, type RenderContext } from "@/server/templates/render-notification";
import type { Templates } from "@/server/types/types.schema";
import { enqueueDeliveries, isSendingChannel, SENDING_CHANNELS, type DeliveryRef } from "@/server/channels/channel-queues";
import { groupKey, type Actor } from "@/server/aggregation/aggregate";
import { joinOpenGroups, type JoinedGroup } from "@/server/aggregation/open-groups";
import { durationMs } from "@/server/types/types.schema";
import { publishBroadcast } from "@/server/broadcasts/broadcasts";
import { batchWindowOf, joinBatchWindows, type BatchSettings, type Window } from "@/server/channels/batch-windows";

type TriggerRow = {
  id: string;
  type: string;
  recipient_ids: string[];
  topic_key: string | null;
  actor: Notification["actor"];
  target: Notification["target"];
  data: Record<string, unknown>;
  title: string | null;
  body: string | null;
  actions: Notification["actions"];
  priority: string;
  channels: Channel[];
  expires_at: Date | null;
  status: string;
  created_at: Date;
  category: string;
  opt_out: boolean;
  respect_quiet_hours: boolean;
  defaults: Partial<Record<Channel, boolean>>;
  limits: Limits | null;
  templates: Templates;
  locales: Record<string, Templates>;
  template_version: number;
  aggregate: { window: string; key?: string } | null;
  batch: BatchSettings;
  recipients: number;
  broadcast_threshold: number | null;
  /** Whether its fan-out was cut into slices already (whatever FANOUT_RANGE_SIZE says now). */
  has_slices: boolean;
  /** A small trigger not yet started: all its recipients with their profiles (see fanOutSmallTrigger). */
  small_page: Recipient[] | null;
};

type Recipient = { id: string; name: string | null; email: string | null; phone: string | null; timezone: string | null; locale: string | null; preferences: unknown; has_push: boolean };

/** What the inbox shows: the same for every recipient, except the rendered texts. */
type Shared = Omit<Notification, "id" | "seq" | "title" | "body" | "actions" | "read" | "seen" | "archived" | "readAt" | "seenAt" | "archivedAt" | "clickedAt">;
type InboxText = { title: string; body: string; actions: Notification["actions"] };

/**
 * `busy`: asked not to wait (`noWait`), it found every chunked slot taken and did nothing. `deferred`
 * (fanOutSmallTriggers): the trigger needs more than one statement, or another run had claimed it,
 * and nothing was done.
 */
export type FanOutResult = { inserted: number; status: "completed" | "skipped" | "busy" | "deferred" };

/**
 * Materialises a trigger, chunk by chunk (see fanOutNextChunk): routes every recipient on every
 * channel of the trigger (preferences, quiet hours, DND, limits), stores the inbox notifications
 * and every other decision, and publishes to the devices of the recipients who are online. Each
 * chunk commits its notifications, decisions, seqs, counters and cursor together, so a crash
 * anywhere resumes at the committed cursor without duplicates.
 */
export async function fanOutTrigger(triggerId: string, options: FanOutOptions = {}): Promise<FanOutResult> {
  const chunkSize = options.chunkSize ?? env.FANOUT_CHUNK_SIZE;
  const trigger = await loadTrigger(triggerId);
  if (!trigger || isFinished(trigger)) return skip(triggerId, trigger, options, chunkSize);
  if (options.helper === undefined && isSmall(trigger)) {
    const done = await fanOutSmallTrigger(trigger, trigger.small_page!);
    // Not claimed: another run took it, or it was cancelled; the usual path finds out which.
    if (done) return done;
  }
  const slot = options.noWait ? chunkedSlots().tryAcquire() : await chunkedSlots().acquire();
  if (!slot) return { inserted: 0, status: "busy" };
  try {
    // It waited for a slot: the trigger may have moved on meanwhile (another run, a cancel).
    const current = slot.waited ? await loadTrigger(triggerId) : trigger;
    if (!current || isFinished(current)) return skip(triggerId, current, options, chunkSize);
    return await fanOutInChunks(current, options, chunkSize);
  } finally {
    slot.release();
  }
}

type FanOutOptions = {
  chunkSize?: number;
  helper?: number;
  resumed?: boolean;
  /** When every chunked slot is taken, answer `busy` at once rather than wait (the worker then puts the job back). */
  noWait?: boolean;
};

function isFinished(trigger: TriggerRow): boolean {
  return trigger.status === "completed" || trigger.status === "cancelled" || trigger.status === "failed";
}

/** A trigger gone or finished: its outbox row is done (and a re-run job repairs the last cached counts). */
async function skip(triggerId: string, trigger: TriggerRow | null, options: FanOutOptions, chunkSize: number): Promise<FanOutResult> {
  await pool.query("UPDATE outbox SET done_at = now() WHERE trigger_id = $1 AND done_at IS NULL", [triggerId]);
  // A job run again (its worker died or it failed) that finds its trigger completed: the run that
  // completed it may have died between the last commit and its cache write. (A sliced trigger's
  // completion caches every gap itself.)
  if (options.resumed && options.helper === undefined && trigger?.status === "completed" && !trigger.has_slices) await recacheLastChunk(trigger, chunkSize);
  return { inserted: 0, status: "skipped" };
}

/**
 * The fan-outs of this process that work chunk by chunk (all but a small trigger's one statement)
 * run at most FANOUT_CHUNKED_CONCURRENCY at once. Each may hold two connections of the pool (a
 * slice's mark waits on a connection of its own), so together they stay within DB_POOL_SIZE and can
 * never all wait for a connection another holds; the worker's other job slots keep small triggers,
 * one connection at a time, flowing meanwhile. The worker does not wait for a slot (`noWait`): it
 * puts the job back in the queue for a moment, so that a waiting job holds none of the worker's job
 * slots, keeps its priority, and may be taken by another worker. Callers that wait go first come,
 * first served.
 */
function chunkedSlots(): Slots {
  globalForSlots.__notifyChunkedSlots ??= slots(env.FANOUT_CHUNKED_CONCURRENCY);
  return globalForSlots.__notifyChunkedSlots;
}

type Slot = { waited: boolean; release: () => void };
type Slots = { tryAcquire: () => Slot | null; acquire: () => Promise<Slot> };
const globalForSlots = globalThis as typeof globalThis & { __notifyChunkedSlots?: Slots };

function slots(size: number): Slots {
  let free = size;
  const waiting: (() => void)[] = [];
  // A slot given back goes to the first waiter, else becomes free.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  const tryAcquire = (): Slot | null => {
    if (free === 0) return null;
    free--;
    return { waited: false, release: once(release) };
  };
  return {
    tryAcquire,
    async acquire() {
      const slot = tryAcquire();
      if (slot) return slot;
      await new Promise<void>((resolve) => waiting.push(resolve));
      return { waited: true, release: once(release) };
    },
  };
}

function once(run: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    run();
  };
}

/** The fan-out of a trigger chunk by chunk, or of a helper's share of its slices. */
async function fanOutInChunks(trigger: TriggerRow, options: FanOutOptions, chunkSize: number): Promise<FanOutResult> {
  const triggerId = trigger.id;
  const renderer = inboxRenderer(trigger);
  if (trigger.status === "processing" && options.helper === undefined) await (isSliced(trigger) ? recacheSlices(trigger, chunkSize) : recacheLastChunk(trigger, chunkSize));
  let inserted = 0;
  // A huge topic: the inbox notification is stored once and merged into each inbox when read.
  const inboxByRead = isBroadcast(trigger, renderer);
  if (inboxByRead && options.helper === undefined) {
    inserted = await broadcast(trigger, renderer);
    if (!trigger.channels.some((c) => c !== "in_app")) {
      await pool.query(
        `WITH done AS (UPDATE outbox SET done_at = now() WHERE trigger_id = $1 AND done_at IS NULL)
         UPDATE triggers SET status = 'completed', completed_at = now(), fanout_count = recipients WHERE id = $1 AND status IN ('accepted', 'processing')`,
        [trigger.id],
      );
      logger.info({ triggerId, mergedOnline: inserted, recipients: trigger.recipients }, "broadcast published");
      return { inserted, status: "completed" };
    }
  }
  // A big topic is cut into slices that every fan-out worker shares: helper jobs join in, and this
  // job works too, then waits for the slices others hold and completes the trigger.
  const sliced = options.helper !== undefined || isSliced(trigger);
  if (sliced && options.helper === undefined) {
    await ensureSlices(trigger);
    await enqueueFanoutHelpers(trigger.id, trigger.priority as Priority, env.FANOUT_HELPERS).catch((error: unknown) =>
      logger.warn({ err: error, triggerId }, "fan-out helpers not queued; this job does the work alone"),
    );
  }
  inserted += await runChunks(trigger, renderer, chunkSize, inboxByRead, sliced);
  if (sliced) {
    if (options.helper !== undefined) {
      await completeSlicedTrigger(trigger);
      return { inserted, status: "completed" };
    }
    for (;;) {
      if (await completeSlicedTrigger(trigger)) break;
      const { rows } = await pool.query<{ status: string }>("SELECT status FROM triggers WHERE id = $1", [trigger.id]);
      if (rows[0]?.status !== "processing" && rows[0]?.status !== "accepted") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
      // A helper that died leaves its slice free again: take it over.
      inserted += await runChunks(trigger, renderer, chunkSize, inboxByRead, sliced);
    }
  }
  logger.info({ triggerId, inserted, helper: options.helper }, "fan-out completed");
  return { inserted, status: "completed" };
}

/**
 * A small trigger (up to FANOUT_ONE_STATEMENT_MAX explicit recipients, no aggregation, batching
 * or limits, which lock rows of their own) not yet started: its recipients came with the trigger,
 * and its whole fan-out is ONE statement outside any transaction (storeSmallTriggers), two round
 * trips to PostgreSQL in all instead of five (load, begin, claim and page, store, commit). The
 * keyed pool's connections plan it once, generically. Null when another run had claimed it.
 */
async function fanOutSmallTrigger(trigger: TriggerRow, recipients: Recipient[]): Promise<FanOutResult | null> {
  const [stored] = await fanOutSmall([{ trigger, renderer: inboxRenderer(trigger), recipients }]);
  return stored!.claimed ? { inserted: stored!.rows.length, status: "completed" } : null;
}

/**
 * The fan-outs of several small triggers (as fanOutTrigger would run each: see fanOutSmallTrigger)
 * in ONE statement, which the fast path runs on what it pops at once: under load, a batch costs two
 * round trips to PostgreSQL and two to Redis however many triggers it holds. Per trigger: `completed`,
 * `skipped` (gone or finished), or `deferred` (it needs more than one statement, or another run had
 * claimed it: the caller hands it to the usual path). The statement is atomic: if it fails, nothing
 * of any trigger was stored, and the caller hands them all over.
 */
export async function fanOutSmallTriggers(triggerIds: string[]): Promise<Map<string, FanOutResult>> {
  const results = new Map<string, FanOutResult>();
  const items: SmallFanOut[] = [];
  for (const trigger of await loadTriggers(triggerIds)) {
    if (isFinished(trigger)) results.set(trigger.id, await skip(trigger.id, trigger, {}, env.FANOUT_CHUNK_SIZE));
    else if (isSmall(trigger)) items.push({ trigger, renderer: inboxRenderer(trigger), recipients: trigger.small_page! });
    else results.set(trigger.id, { inserted: 0, status: "deferred" });
  }
  // Gone (erased, say): nothing to do but mark its outbox row done.
  for (const id of triggerIds) if (!results.has(id) && !items.some((i) => i.trigger.id === id)) results.set(id, await skip(id, null, {}, env.FANOUT_CHUNK_SIZE));
  if (items.length === 0) return results;
  // In the order of acceptance: the order of the seqs a recipient of several takes, and of their events.
  items.sort((a, b) => a.trigger.created_at.getTime() - b.trigger.created_at.getTime());
  const stored = await fanOutSmall(items);
  items.forEach(({ trigger }, i) => results.set(trigger.id, stored[i]!.claimed ? { inserted: stored[i]!.rows.length, status: "completed" } : { inserted: 0, status: "deferred" }));
  return results;
}

/** Whether a trigger's whole fan-out is one statement (see fanOutSmallTrigger). */
function isSmall(trigger: TriggerRow): boolean {
  return trigger.small_page !== null && !trigger.aggregate && !trigger.batch && !trigger.limits;
}

type SmallFanOut = { trigger: TriggerRow; renderer: Renderer; recipients: Recipient[] };
type SmallStored = { rows: InsertedRow[]; toSend: DeliveryRef[]; claimed: boolean };

/** Stores small fan-outs in one statement, then caches, publishes and queues what they decided. */
async function fanOutSmall(items: SmallFanOut[]): Promise<SmallStored[]> {
  const client = await keyedPool().connect();
  let stored: SmallStored[];
  try {
    stored = await retryOnConflict(() => storeSmallTriggers(client, items));
  } finally {
    client.release();
  }
  await publishChunks(items.map(({ renderer }, i) => ({ shared: renderer.shared, rows: stored[i]!.rows })));
  const toSend = stored.flatMap((s) => s.toSend);
  if (toSend.length > 0) {
    await enqueueDeliveries(toSend).catch((error: unknown) => logger.warn({ err: error, triggers: items.map((i) => i.trigger.id) }, "deliveries not queued; the relay will"));
  }
  items.forEach(({ trigger }, i) => stored[i]!.claimed && logger.info({ triggerId: trigger.id, inserted: stored[i]!.rows.length }, "fan-out completed"));
  return stored;
}

/**
 * The whole fan-out of each small trigger (routing as in storeChunk, without the groups, windows and
 * limits a small one has none of), all of them in ONE statement outside any transaction. Its first
 * step claims each trigger (accepted, no cursor yet: the row lock makes a second run wait, then find
 * it taken) and every write of a trigger depends on its claim, so one taken by another run or
 * cancelled meanwhile stores nothing and answers `claimed: false`. A recipient of several triggers
 * takes a seq for each, in the order of `items` (the caller's: of acceptance); their user rows are
 * upserted once each, in id order, like every writer of user rows. Each trigger's own values are
 * read from the arrays by its position, never by a join: a generic plan's estimates (an array of a
 * few elements) would make any join of the batch's rows a nested loop, quadratic in its size.
 */
async function storeSmallTriggers(client: Sql, items: SmallFanOut[]): Promise<SmallStored[]> {
  const at = now();
  const t = { id: [] as string[], n: [] as number[], version: [] as (number | null)[], type: [] as string[], category: [] as string[], priority: [] as string[], actor: [] as (string | null)[], actors: [] as string[], actorCount: [] as number[], target: [] as (string | null)[], data: [] as string[], expiresAt: [] as (string | null)[], createdAt: [] as Date[] };
  const page = { t: [] as number[], user: [] as string[], inc: [] as number[] };
  const fresh = { t: [] as number[], user: [] as string[], text: [] as number[], id: [] as string[] };
  const others = { t: [] as number[], user: [] as string[], channel: [] as string[], status: [] as string[], reason: [] as (string | null)[], deliverAt: [] as (Date | null)[] };
  const texts: InboxText[] = [];
  const toSend: DeliveryRef[][] = [];
  for (const [i, { trigger, renderer, recipients }] of items.entries()) {
    const idx = i + 1;
    const decisions = await decideChunk(trigger, recipients, at);
    const inbox = recipients.filter((r) => decisions.get(r.id)!.get("in_app")?.action === "send");
    const rendered = await Promise.all(inbox.map((r) => renderer.text(r)));
    // Distinct texts are sent once; each notification points at its text.
    const textIndex = new Map<InboxText, number>();
    rendered.forEach((text, k) => {
      let pos = textIndex.get(text);
      if (pos === undefined) textIndex.set(text, (pos = texts.push(text)));
      fresh.t.push(idx);
      fresh.user.push(inbox[k]!.id);
      fresh.text.push(pos);
      // UUIDv7 made here: cheaper than one call per row in PostgreSQL (which draws from the OS each time).
      fresh.id.push(fastUuidV7());
    });
    const inboxIds = new Set(inbox.map((r) => r.id));
    const sends: DeliveryRef[] = [];
    for (const r of recipients) {
      page.t.push(idx);
      page.user.push(r.id);
      page.inc.push(inboxIds.has(r.id) ? 1 : 0);
      for (const [channel, decision] of decisions.get(r.id)!) {
        if (channel === "in_app" && decision.action === "send") continue;
        const status = statusOf(decision);
        others.t.push(idx);
        others.user.push(r.id);
        others.channel.push(channel);
        others.status.push(status);
        others.reason.push("reason" in decision ? decision.reason : null);
        others.deliverAt.push(decision.action === "defer" ? decision.until : null);
        if (status === "queued" && isSendingChannel(channel)) sends.push({ triggerId: trigger.id, userId: r.id, channel, priority: trigger.priority as Priority });
      }
    }
    toSend.push(sends);
  }
  for (const { trigger, renderer, recipients } of items) {
    const shared = renderer.shared;
    t.id.push(trigger.id);
    t.n.push(recipients.length);
    t.version.push(trigger.title === null && trigger.templates.in_app ? trigger.template_version : null);
    t.type.push(shared.type);
    t.category.push(shared.category);
    t.priority.push(shared.priority);
    t.actor.push(shared.actor ? JSON.stringify(shared.actor) : null);
    t.actors.push(JSON.stringify(shared.actors));
    t.actorCount.push(shared.actorCount);
    t.target.push(shared.target ? JSON.stringify(shared.target) : null);
    t.data.push(JSON.stringify(shared.data));
    t.expiresAt.push(shared.expiresAt);
    t.createdAt.push(trigger.created_at);
  }
  const { rows } = await client.query<{ t: string; id: string | null; user_id: string; seq: number; unread_count: number; unseen_count: number; text_idx: number }>(
    prepared(
      `/* small triggers */ WITH claim AS (
         UPDATE triggers x SET fanout_cursor = t.n::text, fanout_count = x.fanout_count + t.n, template_version = t.template_version,
                status = 'completed', completed_at = now()
           FROM unnest($1::uuid[], $2::int[], $3::int[]) WITH ORDINALITY AS t(id, n, template_version, i)
          WHERE x.id = t.id AND x.status = 'accepted' AND x.fanout_cursor IS NULL
         RETURNING t.i::int
       ), page AS (
         -- One row per user however many of the triggers reach them: an upsert may touch a row once.
         SELECT p.user_id, sum(p.inc)::int AS inc FROM unnest($14::int[], $15::text[], $16::int[]) AS p(t, user_id, inc)
          WHERE p.t IN (SELECT i FROM claim) GROUP BY p.user_id
       ), bumped AS (
         -- In id order, like every writer of user rows; only who takes a seq, and unknown recipients
         -- (created). A join, not NOT EXISTS (see storeChunk): one probe of the users' key each.
         INSERT INTO users AS u (id, last_seq, unread_count, unseen_count)
         SELECT page.user_id, page.inc, page.inc, page.inc FROM page LEFT JOIN users x ON x.id = page.user_id
          WHERE page.inc > 0 OR x.id IS NULL ORDER BY page.user_id
         ON CONFLICT (id) DO UPDATE SET last_seq = u.last_seq + excluded.last_seq, unread_count = u.unread_count + excluded.unread_count,
                                        unseen_count = u.unseen_count + excluded.unseen_count
         RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count
       ), counts AS MATERIALIZED (
         -- Each user's new counters by id, looked up per notification (not a join: see above). Made
         -- once: inlined, the planner made it a subquery run again for every notification.
         SELECT jsonb_object_agg(id, jsonb_build_array(last_seq, unread_count, unseen_count)) AS m FROM bumped
       ), fresh AS (
         -- A user's notifications of this batch take their seqs in the triggers' order; the counts
         -- each carries are the user's once it was stored.
         SELECT f.t, f.user_id, f.text_idx, f.nid, (c.m -> f.user_id ->> 0)::bigint - f.later AS seq,
                (c.m -> f.user_id ->> 1)::int - f.later::int AS unread_count, (c.m -> f.user_id ->> 2)::int - f.later::int AS unseen_count
           FROM (SELECT n.*, row_number() OVER (PARTITION BY n.user_id ORDER BY n.t DESC) - 1 AS later
                   FROM unnest($17::int[], $18::text[], $19::int[], $20::uuid[]) AS n(t, user_id, text_idx, nid)
                  WHERE n.t IN (SELECT i FROM claim)) f
          CROSS JOIN counts c
       ), inserted AS (
         INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count,
                                    target, actions, data, seq, expires_at, created_at, sort_at, updated_at)
         SELECT f.nid, f.user_id, ($1::uuid[])[f.t], ($4::text[])[f.t], ($5::text[])[f.t], ($6::text[])[f.t], ($21::text[])[f.text_idx],
                ($22::text[])[f.text_idx], ($7::jsonb[])[f.t], ($8::jsonb[])[f.t], ($9::int[])[f.t], ($10::jsonb[])[f.t],
                ($23::jsonb[])[f.text_idx], ($11::jsonb[])[f.t], f.seq, ($12::timestamptz[])[f.t],
                ($13::timestamptz[])[f.t], ($13::timestamptz[])[f.t], ($13::timestamptz[])[f.t]
           FROM fresh f
       ), changes AS (
         INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
         SELECT f.user_id, f.seq, 'new', f.nid, ($13::timestamptz[])[f.t], ($13::timestamptz[])[f.t] FROM fresh f
       ), decided AS (
         INSERT INTO deliveries (trigger_id, user_id, channel, status, reason, deliver_at, template_version, created_at, enqueued_at)
         SELECT ($1::uuid[])[d.t], d.user_id, d.channel, d.status, d.reason, d.deliver_at, ($3::int[])[d.t], ($13::timestamptz[])[d.t],
                CASE WHEN d.status = 'queued' AND d.channel = ANY($30::text[]) THEN now() END
           FROM unnest($24::int[], $25::text[], $26::text[], $27::text[], $28::text[], $29::timestamptz[]) AS d(t, user_id, channel, status, reason, deliver_at)
          WHERE d.t IN (SELECT i FROM claim)
       ), done AS (
         UPDATE outbox o SET done_at = now() FROM claim c WHERE o.trigger_id = ($1::uuid[])[c.i] AND o.done_at IS NULL
       )
       SELECT f.t, f.nid AS id, f.user_id, f.seq, f.unread_count, f.unseen_count, f.text_idx FROM fresh f
       UNION ALL
       -- Each claim's marker row: no user.
       SELECT i, NULL, NULL, NULL, NULL, NULL, NULL FROM claim`,
      [
        t.id, t.n, t.version, t.type, t.category, t.priority, t.actor, t.actors, t.actorCount, t.target, t.data, t.expiresAt, t.createdAt,
        page.t, page.user, page.inc,
        fresh.t, fresh.user, fresh.text, fresh.id,
        texts.map((x) => x.title), texts.map((x) => x.body), texts.map((x) => JSON.stringify(x.actions)),
        others.t, others.user, others.channel, others.status, others.reason, others.deliverAt,
        SENDING_CHANNELS,
      ],
    ),
  );
  return items.map(({ trigger }, i) => {
    const idx = i + 1;
    const mine = rows.filter((r) => Number(r.t) === idx);
    const claimed = mine.some((r) => r.user_id === null);
    if (!claimed) return { rows: [], toSend: [], claimed };
    const stored = mine.filter((r) => r.user_id !== null);
    const inbox = fresh.t.filter((x) => x === idx).length;
    // The statement has committed: what it stored is still cached and published.
    if (stored.length !== inbox) logger.error({ triggerId: trigger.id, stored: stored.length, inbox }, "fan-out stored fewer notifications than decided");
    return {
      rows: stored.map(({ t: _, text_idx, ...r }) => ({ ...r, id: r.id!, text: texts[text_idx - 1]! })),
      toSend: toSend[i]!,
      claimed,
    };
  });
}

/** Runs chunks until there is no more work for this caller; answers how many notifications it stored. */
async function runChunks(trigger: TriggerRow, renderer: Renderer, chunkSize: number, inboxByRead: boolean, sliced: boolean): Promise<number> {
  let inserted = 0;
  // Publishing a committed chunk overlaps with writing the next one.
  let publishing: Promise<void> = Promise.resolve();
  for (;;) {
    const chunk = await retryOnConflict(() => fanOutNextChunk(trigger, renderer, chunkSize, inboxByRead, sliced));
    inserted += chunk.rows.length;
    await publishing;
    const part = chunk.part;
    publishing = publishChunk(renderer.shared, chunk.rows).then((cached) => (part && cached ? markCached(trigger.id, part) : undefined));
    // Email and SMS go to their workers; if this fails, the relay finds them still queued.
    if (chunk.toSend && chunk.toSend.length > 0) {
      await enqueueDeliveries(chunk.toSend).catch((error: unknown) => logger.warn({ err: error, triggerId: trigger.id }, "deliveries not queued; the relay will"));
    }
    if (chunk.isLast) break;
  }
  await publishing;
  return inserted;
}

/**
 * Records that a slice's counts are cached up to the chunk's end, when they were up to its start
 * (so a gap another run left stays visible until completeSlicedTrigger closes it). Best effort: a
 * failure only means caching those counts again at completion.
 */
async function markCached(triggerId: string, part: SlicePart): Promise<void> {
  await pool
    .query("UPDATE fanout_ranges SET cached_upto = $4 WHERE trigger_id = $1 AND idx = $2 AND coalesce(cached_upto, after) = $3", [triggerId, part.idx, part.from, part.to])
    .catch((error: unknown) => logger.warn({ err: error, triggerId }, "slice caching not recorded; completion caches it again"));
}

/** Whether the trigger's fan-out is cut into slices: a topic bigger than one slice. */
function isSliced(trigger: TriggerRow): boolean {
  return trigger.has_slices || (trigger.topic_key !== null && trigger.status === "accepted" && trigger.recipients > env.FANOUT_RANGE_SIZE);
}

/**
 * Cuts the topic's subscribers into slices of FANOUT_RANGE_SIZE by user id, once (under the trigger's
 * lock: a second job finds them made). The last slice has no upper bound, so subscribers who join
 * meanwhile belong to some slice.
 */
async function ensureSlices(trigger: TriggerRow): Promise<void> {
  await withTransaction(async (sql) => {
    const { rows: locked } = await sql.query("SELECT 1 FROM triggers WHERE id = $1 AND status IN ('accepted', 'processing') FOR UPDATE", [trigger.id]);
    if (!locked[0]) return;
    const { rows: existing } = await sql.query("SELECT 1 FROM fanout_ranges WHERE trigger_id = $1 LIMIT 1", [trigger.id]);
    if (existing[0]) return;
    const { rows: bounds } = await sql.query<{ user_id: string }>(
      `SELECT user_id FROM (SELECT user_id, row_number() OVER (ORDER BY user_id) AS n FROM topic_subscriptions WHERE topic_key = $1) s
        WHERE n % $2 = 0 ORDER BY user_id`,
      [trigger.topic_key, env.FANOUT_RANGE_SIZE],
    );
    const uptos: (string | null)[] = [...bounds.map((b) => b.user_id), null];
    await sql.query(
      `INSERT INTO fanout_ranges (trigger_id, idx, after, upto)
       SELECT $1, n - 1, coalesce(lag(upto) OVER (ORDER BY n), ''), upto FROM unnest($2::text[]) WITH ORDINALITY AS r(upto, n)`,
      [trigger.id, uptos],
    );
    await sql.query("UPDATE triggers SET status = 'processing', template_version = $2 WHERE id = $1", [
      trigger.id,
      trigger.title === null && trigger.templates.in_app ? trigger.template_version : null,
    ]);
  });
}

/**
 * Once every slice is done, and before the trigger says so: the counts of the users of any part
 * whose caching was not recorded (a worker died between its commit and its cache write, a cache
 * write failed, a mark came after a later chunk's), read again from PostgreSQL and cached (never over
 * newer counts); then recorded, so the next job to get here does not do it again.
 */
async function cacheGaps(trigger: TriggerRow): Promise<void> {
  const { rows: gaps } = await pool.query<{ idx: number; from: string; to: string }>(
    `SELECT r.idx, coalesce(r.cached_upto, r.after) AS from, r.cursor AS to FROM fanout_ranges r
      WHERE r.trigger_id = $1 AND r.cursor IS NOT NULL AND r.cursor <> coalesce(r.cached_upto, r.after)
        AND NOT EXISTS (SELECT 1 FROM fanout_ranges x WHERE x.trigger_id = $1 AND x.done_at IS NULL)
        AND EXISTS (SELECT 1 FROM triggers t WHERE t.id = $1 AND t.status IN ('accepted', 'processing'))`,
    [trigger.id],
  );
  if (gaps.length === 0) return;
  // Who got this trigger's notification in the gap, even if they have left the topic since, and who
  // is subscribed there now (a user whose open group the trigger updated has no notification of it).
  const { rows } = await pool.query<{ id: string; last_seq: number; unread_count: number; unseen_count: number }>(
    `SELECT u.id, u.last_seq, u.unread_count, u.unseen_count FROM unnest($2::text[], $3::text[]) AS g(after, upto)
       CROSS JOIN LATERAL (SELECT n.user_id FROM notifications n
                            WHERE n.trigger_id = $4 AND n.created_at = $5 AND n.user_id > g.after AND n.user_id <= g.upto
                           UNION
                           SELECT s.user_id FROM topic_subscriptions s WHERE s.topic_key = $1 AND s.user_id > g.after AND s.user_id <= g.upto) s
       JOIN users u ON u.id = s.user_id`,
    [trigger.topic_key, gaps.map((g) => g.from), gaps.map((g) => g.to), trigger.id, trigger.created_at],
  );
  if (!(await cacheCounts(rows.map((r) => ({ userId: r.id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.last_seq } }))))) return;
  await pool.query(
    `UPDATE fanout_ranges r SET cached_upto = g.upto FROM unnest($2::int[], $3::text[], $4::text[]) AS g(idx, after, upto)
      WHERE r.trigger_id = $1 AND r.idx = g.idx AND coalesce(r.cached_upto, r.after) = g.after`,
    [trigger.id, gaps.map((g) => g.idx), gaps.map((g) => g.from), gaps.map((g) => g.to)],
  );
  logger.info({ triggerId: trigger.id, users: rows.length, slices: gaps.length }, "fan-out counts cached again for parts whose caching was not recorded");
}

/** Completes a sliced trigger once every slice is done (any job may; the first one that sees it does). */
async function completeSlicedTrigger(trigger: TriggerRow): Promise<boolean> {
  const triggerId = trigger.id;
  await cacheGaps(trigger);
  const { rows } = await pool.query<{ id: string }>(
    `WITH finished AS (
       UPDATE triggers SET status = 'completed', completed_at = now(),
              fanout_count = (SELECT coalesce(sum(count), 0) FROM fanout_ranges WHERE trigger_id = $1)
        WHERE id = $1 AND status IN ('accepted', 'processing')
          AND EXISTS (SELECT 1 FROM fanout_ranges WHERE trigger_id = $1)
          AND NOT EXISTS (SELECT 1 FROM fanout_ranges WHERE trigger_id = $1 AND done_at IS NULL)
       RETURNING id
     ), done AS (
       UPDATE outbox SET done_at = now() WHERE trigger_id IN (SELECT id FROM finished) AND done_at IS NULL
     )
     SELECT id FROM finished`,
    [triggerId],
  );
  return rows.length > 0;
}

/**
 * Renders the inbox texts: the trigger's own title and body when it has them, else the type's in-app
 * template in the recipient's locale; once per locale, or once per recipient when the templates read
 * the recipient's profile.
 */
function inboxRenderer(trigger: TriggerRow) {
  const createdAt = trigger.created_at.toISOString();
  const actors = trigger.actor ? [trigger.actor] : [];
  const shared: Shared = {
    type: trigger.type,
    category: trigger.category,
    priority: trigger.priority as Priority,
    actor: trigger.actor,
    actors,
    actorCount: actors.length,
    target: trigger.target,
    data: trigger.data,
    createdAt,
    sortAt: createdAt,
    expiresAt: trigger.expires_at?.toISOString() ?? null,
  };
  const own = trigger.title !== null;
  const perRecipient = !own && readsRecipient(trigger.templates);
  const cache = new Map<string, Promise<InboxText>>();
  const render = async (recipient: Recipient, group?: { actors: Actor[]; actorCount: number }): Promise<InboxText> => {
    if (own) return { title: trigger.title!.slice(0, 500), body: (trigger.body ?? "").slice(0, 5000), actions: trigger.actions };
    const context: RenderContext = {
      actor: trigger.actor,
      actors: group?.actors ?? actors,
      actorCount: group?.actorCount ?? actors.length,
      target: trigger.target,
      data: trigger.data,
      // Only the recipient's own profile, and only what a template may show.
      recipient: { id: recipient.id, name: recipient.name, locale: recipient.locale, timezone: recipient.timezone },
    };
    const rendered = await renderChannel(templatesFor(trigger.templates, trigger.locales, recipient.locale), "in_app", context).catch((error: unknown) => {
      logger.warn({ err: error, triggerId: trigger.id }, "in-app template failed to render; falling back to the type key");
      return null;
    });
    const content = rendered?.content ?? { title: trigger.type, body: "", actions: [] };
    return { ...content, actions: trigger.actions.length > 0 ? trigger.actions : content.actions };
  };
  return {
    shared,
    perRecipient,
    text(recipient: Recipient): Promise<InboxText> {
      const key = perRecipient ? `u:${recipient.id}` : `l:${recipient.locale ?? ""}`;
      let hit = cache.get(key);
      if (!hit) {
        hit = render(recipient);
        if (!perRecipient) cache.set(key, hit);
      }
      return hit;
    },
    /** The texts of a group the event joined, over the group's actors (not cached: each group differs). */
    groupText(recipient: Recipient, group: { actors: Actor[]; actorCount: number }): Promise<InboxText> {
      return render(recipient, group);
    },
  };
}
type Renderer = ReturnType<typeof inboxRenderer>;

type InsertedRow = {
  id: string;
  user_id: string;
  seq: number;
  unread_count: number;
  unseen_count: number;
  text: InboxText;
  /** Set when the event joined an open group: that notification was updated, not created. */
  group?: JoinedGroup & { sortAt: Date };
};

/**
 * The profile columns routing and rendering need for this trigger (a million-row page is parsed in
 * Node, so what is not needed is not sent): the address of each sending channel, the time zone when
 * something may be deferred, the name when templates read the recipient; preferences only when set.
 */
function recipientColumns(trigger: TriggerRow): string {
  const sends = trigger.channels.some((c) => c !== "in_app");
  const personal = trigger.title === null && readsRecipient(trigger.templates);
  return [
    personal ? "u.name" : "NULL AS name",
    trigger.channels.includes("email") ? "u.email" : "NULL AS email",
    trigger.channels.includes("sms") ? "u.phone" : "NULL AS phone",
    sends || personal ? "u.timezone" : "NULL AS timezone",
    "u.locale",
    "CASE WHEN u.preferences = '{}'::jsonb THEN NULL ELSE u.preferences END AS preferences",
  ].join(", ");
}
/** Whether the recipient (`id` of the page) has a device for web push. */
const HAS_PUSH = (id: string, trigger: TriggerRow) =>
  !trigger.channels.includes("push") ? "false AS has_push" : `EXISTS (SELECT 1 FROM push_subscriptions ps WHERE ps.user_id = ${id} AND ps.last_active_at > now() - make_interval(days => ${env.PUSH_DEVICE_ACTIVE_DAYS})) AS has_push`;

/**
 * One chunk, one transaction:
 * 1. lock the trigger row and read its cursor, so two deliveries of one job take turns and each
 *    starts where the other committed;
 * 2. take the next page of recipients with their profiles and preferences;
 * 3. decide every channel for every recipient (rate limits counted in Redis, once per trigger);
 * 4. one statement: upsert the user rows in id order (creating unknown recipients; those who get
 *    the notification in their inbox take one seq and their counters move), insert the notifications
 *    and their `new` changes, insert the other decisions, move the cursor, and on the last chunk
 *    complete the trigger and its outbox row.
 * Should a chunk ever be offered twice, the unique keys refuse it and the transaction rolls back.
 */
async function fanOutNextChunk(
  trigger: TriggerRow,
  renderer: Renderer,
  chunkSize: number,
  inboxByRead: boolean,
  sliced: boolean,
): Promise<Stored> {
  const client = await pool.connect();
  try {
    const claimed = trigger.topic_key === null && !sliced ? await claimExplicitChunk(client, trigger, chunkSize) : await claimChunk(client, trigger, sliced);
    if (!claimed) return { rows: [], isLast: true };
    const { slice, cursor } = claimed;
    if (routesInAppInSql(trigger, renderer, inboxByRead)) return await fanOutInAppChunk(client, trigger, renderer, chunkSize, slice, cursor);
    const recipients = claimed.recipients ?? (await pageRecipients(client, trigger, cursor, chunkSize, slice?.upto ?? null));
    const chunk = await storeChunk(client, trigger, renderer, recipients, { chunkSize, inboxByRead, slice, cursor });
    await client.query("COMMIT");
    return chunk;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The part of a slice a chunk covered, from the cursor it started at to the one it committed. */
type SlicePart = { idx: number; from: string; to: string };
type Stored = { rows: InsertedRow[]; isLast: boolean; toSend?: DeliveryRef[]; part?: SlicePart };

/**
 * Steps 3 and 4 of a chunk (see fanOutNextChunk), inside its transaction.
 */
async function storeChunk(
  client: Sql,
  trigger: TriggerRow,
  renderer: Renderer,
  recipients: Recipient[],
  { chunkSize, inboxByRead, slice, cursor }: { chunkSize: number; inboxByRead: boolean; slice: Slice | null; cursor: string | null },
): Promise<Stored> {
  {
    // Sliced: the last chunk of this slice (other slices may remain; the caller asks for more).
    const isLast = recipients.length < chunkSize || (slice?.upto != null && recipients.at(-1)?.id === slice.upto);
    const nextCursor =
      trigger.topic_key === null ? String(Number(cursor ?? 0) + recipients.length) : (recipients.at(-1)?.id ?? cursor);

    const at = now();
    const decisions = await decideChunk(trigger, recipients, at);
    // Aggregation and batching windows lock group and window rows, then (for a group) the open
    // notification. The users come first, in id order, as for every writer of user rows (a user
    // marking a notification read locks the user, then the notification); taking some users with
    // their groups and the rest later in the upsert deadlocked with another chunk.
    if (trigger.aggregate || trigger.batch || trigger.limits) {
      await client.query("SELECT 1 FROM users WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", [recipients.map((r) => r.id)]);
    }
    // A broadcast's inbox is merged on read: its chunks route only push, email and SMS.
    const inbox = inboxByRead ? [] : recipients.filter((r) => decisions.get(r.id)!.get("in_app")?.action === "send");
    // Aggregation: who joins an open group (their notification is updated) and who starts one.
    // Scoped by the type: two types whose keys read alike never share a group.
    const key = trigger.aggregate ? `${trigger.type}|${groupKey(trigger, trigger.aggregate.key)}` : null;
    const joined = key ? await joinOpenGroups(client, key, inbox.map((r) => r.id), trigger.actor, trigger.created_at) : new Map<string, JoinedGroup>();
    const fresh = inbox.filter((r) => !joined.has(r.id));
    const grouped = inbox.filter((r) => joined.has(r.id));
    const texts = await Promise.all([...fresh.map((r) => renderer.text(r)), ...grouped.map((r) => renderer.groupText(r, joined.get(r.id)!))]);
    // Distinct texts are sent once; each recipient points at its text.
    const distinct: InboxText[] = [];
    const index = new Map<InboxText, number>();
    const textIndex = texts.map((t) => {
      let i = index.get(t);
      if (i === undefined) {
        i = distinct.push(t);
        index.set(t, i);
      }
      return i;
    });
    // Batching windows: push and email that would go now wait for their window's summary instead;
    // so do those held back by the type's limits (in the type's window, else RATE_LIMIT_SUMMARY_WINDOW),
    // so that past the limit a user gets one summary rather than nothing.
    const windows = new Map<Channel, Map<string, Window>>();
    for (const channel of ["push", "email"] as const) {
      if (!trigger.channels.includes(channel)) continue;
      const window = batchWindowOf(trigger.batch, channel, trigger.priority as Priority);
      const decided = (r: Recipient) => decisions.get(r.id)!.get(channel);
      const limited = recipients.filter((r) => {
        const d = decided(r);
        return d?.action === "batch" && d.reason === "rate_limited";
      });
      const sending = window ? recipients.filter((r) => decided(r)?.action === "send") : [];
      const joining = [...sending, ...limited].map((r) => r.id);
      if (joining.length > 0) windows.set(channel, await joinBatchWindows(client, trigger.type, channel, joining, window ?? RATE_LIMIT_SUMMARY_WINDOW, at));
    }
    const others = { user: [] as string[], channel: [] as string[], status: [] as string[], reason: [] as (string | null)[], deliverAt: [] as (Date | null)[], batchId: [] as (number | null)[] };
    for (const r of recipients) {
      for (const [channel, decision] of decisions.get(r.id)!) {
        if (channel === "in_app" && (decision.action === "send" || inboxByRead)) continue;
        const window = windows.get(channel)?.get(r.id);
        others.user.push(r.id);
        others.channel.push(channel);
        others.status.push(window ? "batched" : statusOf(decision));
        others.reason.push(window && decision.action === "send" ? "batch_window" : "reason" in decision ? decision.reason : null);
        others.deliverAt.push(window ? window.endsAt : decision.action === "defer" ? decision.until : null);
        others.batchId.push(window?.id ?? null);
      }
    }
    // The in-app outcome of an event that updated a group: stored and published, as an update.
    for (const r of grouped) {
      others.user.push(r.id);
      others.channel.push("in_app");
      others.status.push("sent");
      others.reason.push("aggregated");
      others.deliverAt.push(null);
      others.batchId.push(null);
    }
    const freshIds = new Set(fresh.map((r) => r.id));
    const bumpUnseen = new Set([...freshIds, ...grouped.filter((r) => joined.get(r.id)!.wasSeen).map((r) => r.id)]);
    const groupedRows = grouped.map((r) => joined.get(r.id)!);
    const { rows } = await client.query<Omit<InsertedRow, "text" | "group"> & { idx: number; updated: boolean; sort_at: Date }>(
      prepared(
      // A small trigger's statement is planned once (see begin) and cached apart from the big one's.
      `${genericPlans(trigger) ? "/* generic */ " : ""}WITH page AS (
         SELECT * FROM unnest($2::text[], $3::int[], $4::int[], $5::int[]) AS p(id, seq_inc, unread_inc, unseen_inc)
       ), texts AS (
         SELECT * FROM unnest($6::int[], $7::text[], $40::uuid[]) AS t(idx, user_id, nid)
       ), bumped AS (
         -- In id order, like every writer of user rows (a plain UPDATE by an id array may lock them in
         -- heap order through a bitmap scan, and deadlock with another chunk).
         INSERT INTO users AS u (id, last_seq, unread_count, unseen_count)
         -- Only who takes a seq, and unknown recipients (created): nobody else's row is rewritten.
         -- A join, not NOT EXISTS: in a generic plan made while the users table was small, the
         -- latter became a hashed subplan reading every user, for every trigger, for as long as
         -- the connection kept that plan. The join probes the users' index once per recipient.
         SELECT page.id, seq_inc, unread_inc, unseen_inc FROM page LEFT JOIN users x ON x.id = page.id
          WHERE (seq_inc > 0 OR x.id IS NULL) ORDER BY page.id
         ON CONFLICT (id) DO UPDATE SET last_seq = u.last_seq + excluded.last_seq, unread_count = u.unread_count + excluded.unread_count,
                                        unseen_count = u.unseen_count + excluded.unseen_count
         RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count
       ), inserted AS (
         INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count,
                                    target, actions, data, seq, expires_at, created_at, sort_at, updated_at)
         SELECT t.nid, b.id, $1::uuid, $10, $11, $12, ($8::text[])[t.idx], ($9::text[])[t.idx], $13::jsonb, $14::jsonb, $15,
                $16::jsonb, ($17::jsonb[])[t.idx], $18::jsonb, b.last_seq, $19::timestamptz, $20::timestamptz, $20::timestamptz, $20::timestamptz
           FROM bumped b JOIN texts t ON t.user_id = b.id
         RETURNING id, user_id, seq
       ), updated AS (${
         trigger.aggregate
           ? `
         UPDATE notifications n
            SET title = ($8::text[])[g.idx], body = ($9::text[])[g.idx], actions = ($17::jsonb[])[g.idx], actor = $13::jsonb,
                actors = g.actors, actor_count = g.actor_count, data = $18::jsonb, expires_at = $19::timestamptz, seq = b.last_seq,
                sort_at = greatest(n.sort_at, $20::timestamptz), updated_at = greatest(n.updated_at, $20::timestamptz), seen_at = NULL
           FROM unnest($30::text[], $31::uuid[], $32::timestamptz[], $33::int[], $34::jsonb[], $35::int[])
                  AS g(user_id, id, created_at, idx, actors, actor_count)
           JOIN bumped b ON b.id = g.user_id
          WHERE n.id = g.id AND n.created_at = g.created_at
         RETURNING n.id, n.user_id, n.seq, n.created_at, n.sort_at, g.idx`
           : `
         -- No aggregation, so no group to update (its parameters only get their types here).
         SELECT NULL::uuid AS id, NULL::text AS user_id, NULL::bigint AS seq, NULL::timestamptz AS created_at, NULL::timestamptz AS sort_at, NULL::int AS idx
          WHERE false AND $30::text[] IS NULL AND $31::uuid[] IS NULL AND $32::timestamptz[] IS NULL AND $33::int[] IS NULL
            AND $34::jsonb[] IS NULL AND $35::int[] IS NULL AND $36::text IS NULL AND $37::float8 IS NULL`
       }
       ), changes AS (
         INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
         SELECT user_id, seq, 'new', id, $20::timestamptz, $20::timestamptz FROM inserted
         UNION ALL
         SELECT user_id, seq, 'updated', id, created_at, $20::timestamptz FROM updated
${
         trigger.aggregate
           ? `
       ), regrouped AS (
         -- The recipients who started a group: it now points at their new notification.
         -- A group's window also ends with the (UTC) month it started in: its notification then only
         -- ever moves up within its own month partition, which the inbox queries rely on.
         UPDATE notification_groups g SET notification_id = i.id, notification_at = $20::timestamptz,
                window_ends_at = least($20::timestamptz + make_interval(secs => $37::float8 / 1000),
                                       (date_trunc('month', $20::timestamptz AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC')
           FROM inserted i WHERE $36::text IS NOT NULL AND g.group_key = $36 AND g.user_id = i.user_id`
           : ""
       }
       ), decided AS (
         INSERT INTO deliveries (trigger_id, user_id, channel, status, reason, deliver_at, template_version, created_at, enqueued_at, batch_id)
         SELECT $1::uuid, d.user_id, d.channel, d.status, d.reason, d.deliver_at, $21, $20::timestamptz,
                CASE WHEN d.status = 'queued' AND d.channel = ANY($29::text[]) THEN now() END, d.batch_id
           FROM unnest($22::text[], $23::text[], $24::text[], $25::text[], $26::timestamptz[], $38::bigint[]) AS d(user_id, channel, status, reason, deliver_at, batch_id)
       ), progress AS (${
         slice
           ? `
         UPDATE fanout_ranges SET cursor = $27, count = count + cardinality($2::text[]), done_at = CASE WHEN $28::boolean THEN now() END
          WHERE trigger_id = $1::uuid AND idx = $39::int
       ), done AS (
         SELECT $21::int`
           : `
         UPDATE triggers SET fanout_cursor = $27, fanout_count = fanout_count + cardinality($2::text[]), template_version = $21,
                status = CASE WHEN $28::boolean THEN 'completed' ELSE 'processing' END,
                completed_at = CASE WHEN $28::boolean THEN now() END
          WHERE id = $1::uuid AND $39::int IS NULL
       ), done AS (
         UPDATE outbox SET done_at = now() WHERE trigger_id = $1::uuid AND done_at IS NULL AND $28::boolean`
       }
       )
       SELECT i.id, i.user_id, i.seq, b.unread_count, b.unseen_count, t.idx, false AS updated, NULL::timestamptz AS sort_at
         FROM inserted i JOIN bumped b ON b.id = i.user_id JOIN texts t ON t.user_id = i.user_id
       UNION ALL
       SELECT u.id, u.user_id, u.seq, b.unread_count, b.unseen_count, u.idx, true, u.sort_at
         FROM updated u JOIN bumped b ON b.id = u.user_id`,
      [
        trigger.id,
        recipients.map((r) => r.id),
        recipients.map((r) => (freshIds.has(r.id) || joined.has(r.id) ? 1 : 0)),
        recipients.map((r) => (freshIds.has(r.id) ? 1 : 0)),
        recipients.map((r) => (bumpUnseen.has(r.id) ? 1 : 0)),
        textIndex.slice(0, fresh.length),
        fresh.map((r) => r.id),
        distinct.map((t) => t.title),
        distinct.map((t) => t.body),
        renderer.shared.type,
        renderer.shared.category,
        renderer.shared.priority,
        renderer.shared.actor ? JSON.stringify(renderer.shared.actor) : null,
        JSON.stringify(renderer.shared.actors),
        renderer.shared.actorCount,
        renderer.shared.target ? JSON.stringify(renderer.shared.target) : null,
        distinct.map((t) => JSON.stringify(t.actions)),
        JSON.stringify(renderer.shared.data),
        renderer.shared.expiresAt,
        trigger.created_at,
        trigger.title === null && trigger.templates.in_app ? trigger.template_version : null,
        others.user,
        others.channel,
        others.status,
        others.reason,
        others.deliverAt,
        nextCursor,
        isLast,
        SENDING_CHANNELS,
        grouped.map((r) => r.id),
        groupedRows.map((g) => g.notificationId),
        groupedRows.map((g) => g.createdAt),
        textIndex.slice(fresh.length),
        groupedRows.map((g) => JSON.stringify(g.actors)),
        groupedRows.map((g) => g.actorCount),
        key,
        trigger.aggregate ? durationMs(trigger.aggregate.window) : 0,
        others.batchId,
        slice?.idx ?? null,
        // UUIDv7 made here: cheaper than one call per row in PostgreSQL (which draws from the OS each time).
        fresh.map(() => fastUuidV7()),
      ]),
    );
    // Before COMMIT: this rolls the chunk back.
    if (rows.length !== inbox.length) throw new Error(`fan-out chunk stored ${rows.length} of ${inbox.length} inbox notifications`);
    const toSend: DeliveryRef[] = [];
    others.channel.forEach((channel, i) => {
      if (others.status[i] === "queued" && isSendingChannel(channel)) toSend.push({ triggerId: trigger.id, userId: others.user[i]!, channel, priority: trigger.priority as Priority });
    });
    return {
      rows: rows.map(({ updated, sort_at, idx, ...r }) => ({ ...r, text: distinct[idx - 1]!, ...(updated ? { group: { ...joined.get(r.user_id)!, sortAt: sort_at } } : {}) })),
      // A sliced chunk never ends the caller's loop: the next one looks for another free slice.
      isLast: slice ? false : isLast,
      toSend,
      ...(slice ? { part: { idx: slice.idx, from: cursor ?? slice.after, to: nextCursor ?? cursor ?? slice.after } } : {}),
    };
  }
}

type Slice = { idx: number; after: string; upto: string | null; cursor: string | null };
type Claimed = { slice: Slice | null; cursor: string | null; recipients?: Recipient[] };

/**
 * Up to this many explicit recipients, a trigger's statements run on generic plans. Otherwise
 * PostgreSQL plans the chunk's big statement anew at every execution (its estimate of a generic plan
 * over the partitioned notifications table never wins), and that planning, about 1.5 ms, was the
 * largest single cost of a small trigger in PostgreSQL. A generic plan assumes arrays of a few
 * elements, right for these and wrong for a 2,000-recipient chunk, which keeps its custom plans.
 */
const GENERIC_PLAN_MAX_RECIPIENTS = 64;
const genericPlans = (trigger: TriggerRow) => trigger.topic_key === null && trigger.recipient_ids.length <= GENERIC_PLAN_MAX_RECIPIENTS;

/** Opens the chunk's transaction (every table reached by its keys only: see claimChunk). */
async function begin(client: Sql, trigger: TriggerRow): Promise<void> {
  await client.query(`BEGIN; SET LOCAL enable_seqscan = off${genericPlans(trigger) ? "; SET LOCAL plan_cache_mode = force_generic_plan" : ""}`);
}

/** The trigger is done (completed or cancelled meanwhile): so is its outbox row. Ends the transaction. */
async function claimedNothing(client: Sql, trigger: TriggerRow): Promise<null> {
  await client.query("UPDATE outbox SET done_at = now() WHERE trigger_id = $1 AND done_at IS NULL", [trigger.id]);
  await client.query("COMMIT");
  return null;
}

/**
 * claimChunk and pageRecipients in one statement, for a trigger with explicit recipients: locks the
 * trigger row and reads the next page of its stored list after the cursor, with the profiles. (One
 * round trip fewer on the path most triggers take.) Always one row when the trigger is claimed, with
 * a null position when the list is done.
 */
async function claimExplicitChunk(client: Sql, trigger: TriggerRow, chunkSize: number): Promise<Claimed | null> {
  await begin(client, trigger);
  const { rows } = await client.query<Recipient & { fanout_cursor: string | null; n: string | null }>(
    prepared(
      `SELECT t.fanout_cursor, p.n, p.id, ${recipientColumns(trigger)}, ${HAS_PUSH("p.id", trigger)}
         FROM (SELECT fanout_cursor, recipient_ids FROM triggers WHERE id = $1::uuid AND status IN ('accepted', 'processing') FOR UPDATE) t
         LEFT JOIN LATERAL unnest(t.recipient_ids[coalesce(t.fanout_cursor::int, 0) + 1 : coalesce(t.fanout_cursor::int, 0) + $2::int])
                           WITH ORDINALITY AS p(id, n) ON true
         LEFT JOIN users u ON u.id = p.id
        ORDER BY p.n`,
      [trigger.id, chunkSize],
    ),
  );
  if (!rows[0]) return claimedNothing(client, trigger);
  const recipients = rows[0].n === null ? [] : rows.map(({ fanout_cursor: _, n: __, ...recipient }) => recipient);
  return { slice: null, cursor: rows[0].fanout_cursor, recipients };
}

/**
 * Opens the chunk's transaction and takes its place: locks the trigger row and reads the cursor, so
 * two deliveries of one job take turns and each starts where the other committed; sliced, shares the
 * trigger (a cancellation waits for the chunk) and takes a free slice of its own. Null (committed)
 * when there is nothing left for this caller.
 */
async function claimChunk(client: Sql, trigger: TriggerRow, sliced: boolean): Promise<Claimed | null> {
  // Every table this chunk touches is reached by its keys. With stale statistics (a users table that
  // just grew by a million) the planner once chose a sequential scan of users, comparing each row
  // with the whole id array: seconds per chunk. Index access only, whatever the statistics say.
  await begin(client, trigger);
  const { rows: locked } = await client.query<{ fanout_cursor: string | null }>(
    prepared(`SELECT fanout_cursor FROM triggers WHERE id = $1 AND status IN ('accepted', 'processing') ${sliced ? "FOR SHARE" : "FOR UPDATE"}`, [trigger.id]),
  );
  if (!locked[0]) return claimedNothing(client, trigger);
  if (!sliced) return { slice: null, cursor: locked[0].fanout_cursor };
  const { rows: free } = await client.query<Slice>(
    "SELECT idx, after, upto, cursor FROM fanout_ranges WHERE trigger_id = $1 AND done_at IS NULL ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED",
    [trigger.id],
  );
  const slice = free[0];
  if (!slice) {
    // Every slice is done or in other hands.
    await client.query("COMMIT");
    return null;
  }
  return { slice, cursor: slice.cursor ?? slice.after };
}

/**
 * Whether a chunk of this trigger is routed and stored by PostgreSQL alone (fanOutInAppChunk): a topic,
 * the inbox as its only channel, no aggregation, texts that do not depend on the recipient (at most one
 * per locale), not expired.
 */
function routesInAppInSql(trigger: TriggerRow, renderer: Renderer, inboxByRead: boolean): boolean {
  return (
    trigger.topic_key !== null &&
    !inboxByRead &&
    trigger.channels.length === 1 &&
    trigger.channels[0] === "in_app" &&
    !trigger.aggregate &&
    !renderer.perRecipient &&
    (trigger.expires_at === null || trigger.expires_at.getTime() > now().getTime())
  );
}

/**
 * An in-app-only chunk in one statement, the page never leaving PostgreSQL: page the topic's
 * subscribers after the cursor, decide the inbox for each (inAppReasonSql: the same rules as
 * decideDelivery, property-tested against it), upsert the user rows in id order for those who get it
 * (one seq each, counters), insert their notifications (texts by locale, as templatesFor picks them)
 * and `new` changes, record the suppressed, move the cursor and maybe complete the trigger. Answers
 * the stored notifications with their users' counts, for the cache and the devices.
 */
async function fanOutInAppChunk(
  client: Sql,
  trigger: TriggerRow,
  renderer: Renderer,
  chunkSize: number,
  slice: Slice | null,
  cursor: string | null,
): Promise<Stored> {
  // One text per locale variant of the type (exact tag, then its language), the default first.
  const variants = trigger.title === null ? Object.keys(trigger.locales) : [];
  const texts = await Promise.all([renderer.text(RENDER_AS(null)), ...variants.map((locale) => renderer.text(RENDER_AS(locale)))]);
  const textIdx = `coalesce(array_position($23::text[], p.locale) + 1, array_position($23::text[], split_part(p.locale, '-', 1)) + 1, 1)`;
  // Ids: one UUIDv7 prefix per chunk (time and random bits), the row's number in the last 32 bits.
  const idPrefix = fastUuidV7().slice(0, 28);
  const type: RoutingType = { key: trigger.type, category: trigger.category, optOut: trigger.opt_out, respectQuietHours: trigger.respect_quiet_hours, defaults: trigger.defaults };
  const { rows } = await client.query<{ id: string | null; user_id: string; seq: number; unread_count: number; unseen_count: number; idx: number }>(
    prepared(
    `WITH page AS (
       SELECT s.user_id AS id, u.locale, ${inAppReasonSql("u.preferences", 8)} AS reason
         FROM topic_subscriptions s
         JOIN users u ON u.id = s.user_id AND u.id > $2 AND ($4::text IS NULL OR u.id <= $4)
        WHERE s.topic_key = $1 AND s.user_id > $2 AND ($4::text IS NULL OR s.user_id <= $4) ORDER BY s.user_id LIMIT $3
     ), stats AS (
       SELECT count(*)::int AS n, max(id) AS last FROM page
     ), bumped AS (
       -- Subscribers are users (a foreign key): a plain update, cheaper than an upsert. The page is small
       -- and sorted, so the plan is a nested loop over it that locks the users in id order, like every
       -- writer of user rows (and should another plan ever deadlock, the chunk is retried).
       -- Each row carries its notification's id and text along (RETURNING reads the FROM list).
       UPDATE users u SET last_seq = u.last_seq + 1, unread_count = u.unread_count + 1, unseen_count = u.unseen_count + 1
         FROM (SELECT id, ($12::text || lpad(to_hex(row_number() OVER (ORDER BY id)), 8, '0'))::uuid AS nid, ${textIdx} AS idx
                 FROM page p WHERE reason IS NULL ORDER BY id) p
        WHERE u.id = p.id
       RETURNING u.id, u.last_seq, u.unread_count, u.unseen_count, p.nid, p.idx
     ), inserted AS (
       INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, actor, actors, actor_count,
                                  target, actions, data, seq, expires_at, created_at, sort_at, updated_at)
       SELECT n.nid, n.id, $5::uuid, $13, $14, $15, ($6::text[])[n.idx], ($7::text[])[n.idx], $16::jsonb, $17::jsonb, $18,
              $19::jsonb, ($20::jsonb[])[n.idx], $21::jsonb, n.last_seq, $22::timestamptz, $24::timestamptz, $24::timestamptz, $24::timestamptz
         FROM bumped n
       RETURNING id, user_id, seq
     ), changes AS (
       INSERT INTO notification_changes (user_id, seq, kind, notification_id, notification_at, at)
       SELECT user_id, seq, 'new', id, $24::timestamptz, $24::timestamptz FROM inserted
     ), decided AS (
       INSERT INTO deliveries (trigger_id, user_id, channel, status, reason, template_version, created_at)
       SELECT $5::uuid, id, 'in_app', 'suppressed', reason, $25, $24::timestamptz FROM page WHERE reason IS NOT NULL
     ), progress AS (${
       slice
         ? `
       UPDATE fanout_ranges SET cursor = coalesce(stats.last, cursor), count = count + stats.n,
              done_at = CASE WHEN stats.n < $3 OR stats.last = $4 THEN now() END
         FROM stats WHERE trigger_id = $5::uuid AND idx = $26::int
     ), done AS (
       SELECT $26::int`
         : `
       UPDATE triggers SET fanout_cursor = coalesce(stats.last, fanout_cursor), fanout_count = fanout_count + stats.n, template_version = $25,
              status = CASE WHEN stats.n < $3 THEN 'completed' ELSE 'processing' END,
              completed_at = CASE WHEN stats.n < $3 THEN now() END
         FROM stats WHERE id = $5::uuid AND $26::int IS NULL
     ), done AS (
       UPDATE outbox SET done_at = now() WHERE trigger_id = $5::uuid AND done_at IS NULL AND (SELECT n < $3 FROM stats)`
     }
     )
     SELECT NULL::uuid AS id, last AS user_id, n AS seq, 0 AS unread_count, 0 AS unseen_count, 0 AS idx FROM stats
     UNION ALL
     -- (Not joined with inserted: each of its rows is one of bumped, and the planner, expecting one row
     -- from each, joined them in a nested loop, quadratic in the chunk.)
     SELECT nid, id, last_seq, unread_count, unseen_count, idx FROM bumped`,
    [
      trigger.topic_key,
      cursor ?? "",
      chunkSize,
      slice?.upto ?? null,
      trigger.id,
      texts.map((t) => t.title),
      texts.map((t) => t.body),
      ...inAppReasonParams(type),
      idPrefix,
      renderer.shared.type,
      renderer.shared.category,
      renderer.shared.priority,
      renderer.shared.actor ? JSON.stringify(renderer.shared.actor) : null,
      JSON.stringify(renderer.shared.actors),
      renderer.shared.actorCount,
      renderer.shared.target ? JSON.stringify(renderer.shared.target) : null,
      texts.map((t) => JSON.stringify(t.actions)),
      JSON.stringify(renderer.shared.data),
      renderer.shared.expiresAt,
      variants,
      trigger.created_at,
      trigger.title === null && trigger.templates.in_app ? trigger.template_version : null,
      slice?.idx ?? null,
    ]),
  );
  await client.query("COMMIT");
  const [stats, ...stored] = rows;
  const isLast = stats!.seq < chunkSize || (slice?.upto != null && stats!.user_id === slice.upto);
  return {
    rows: stored.map((r) => ({ id: r.id!, user_id: r.user_id, seq: r.seq, unread_count: r.unread_count, unseen_count: r.unseen_count, text: texts[r.idx - 1]! })),
    // A sliced chunk never ends the caller's loop: the next one looks for another free slice.
    isLast: slice ? false : isLast,
    ...(slice ? { part: { idx: slice.idx, from: cursor ?? slice.after, to: stats!.user_id ?? cursor ?? slice.after } } : {}),
  };
}

/** A recipient as the renderer sees it when only the locale matters. */
const RENDER_AS = (locale: string | null): Recipient => ({ id: "", name: null, email: null, phone: null, timezone: null, locale, preferences: null, has_push: false });

/** The next page of recipients after the cursor, with what routing needs to know about them. */
async function pageRecipients(client: Sql, trigger: TriggerRow, cursor: string | null, chunkSize: number, upto: string | null = null): Promise<Recipient[]> {
  if (trigger.topic_key === null) {
    // Explicit recipients: the cursor is how many of the stored list are done.
    const offset = Number(cursor ?? 0);
    const ids = trigger.recipient_ids.slice(offset, offset + chunkSize);
    const { rows } = await client.query<Recipient>(
      prepared(`SELECT p.id, ${recipientColumns(trigger)}, ${HAS_PUSH("p.id", trigger)} FROM unnest($1::text[]) WITH ORDINALITY AS p(id, n) LEFT JOIN users u ON u.id = p.id ORDER BY p.n`, [ids]),
    );
    return rows;
  }
  // A topic of any size: keyset pagination over its subscriptions by user id (the topic key as a
  // parameter, so the planner walks the (topic_key, user_id) primary key from the cursor on).
  const { rows } = await client.query<Recipient>(
    // (The join repeats the cursor for users: without it a merge join reads users from the very first
    // id up to the cursor on every page, quadratic in the topic's size.)
    `SELECT s.user_id AS id, ${recipientColumns(trigger)}, ${HAS_PUSH("s.user_id", trigger)} FROM topic_subscriptions s
       LEFT JOIN users u ON u.id = s.user_id AND u.id > $2 AND ($4::text IS NULL OR u.id <= $4)
      WHERE s.topic_key = $1 AND s.user_id > $2 AND ($4::text IS NULL OR s.user_id <= $4) ORDER BY s.user_id LIMIT $3`,
    [trigger.topic_key, cursor ?? "", chunkSize, upto],
  );
  return rows;
}

/** Every channel of the trigger for every recipient of the page. */
async function decideChunk(trigger: TriggerRow, recipients: Recipient[], at: Date): Promise<Map<string, Map<Channel, Decision>>> {
  const type: RoutingType = { key: trigger.type, category: trigger.category, optOut: trigger.opt_out, respectQuietHours: trigger.respect_quiet_hours, defaults: trigger.defaults };
  const decide = (r: Recipient, channel: Channel, rateLimited: boolean, preferences: ReturnType<typeof resolvePreferences>) =>
    decideDelivery({
      channel,
      type,
      priority: trigger.priority as Priority,
      preferences,
      timeZone: r.timezone,
      hasAddress: channel === "email" ? Boolean(r.email) : channel === "sms" ? Boolean(r.phone) : channel === "push" ? r.has_push : true,
      rateLimited,
      expiresAt: trigger.expires_at,
      now: at,
    });
  const result = new Map<string, Map<Channel, Decision>>();
  const limited: string[] = [];
  const byId = new Map(recipients.map((r) => [r.id, r]));
  const prefsById = new Map<string, ReturnType<typeof resolvePreferences>>();
  for (const r of recipients) {
    const preferences = resolvePreferences(r.preferences);
    prefsById.set(r.id, preferences);
    const byChannel = new Map<Channel, Decision>();
    for (const channel of trigger.channels) byChannel.set(channel, decide(r, channel, false, preferences));
    result.set(r.id, byChannel);
    // A trigger counts against a recipient's limit once, when it would send on some channel but in-app.
    if ([...byChannel].some(([channel, d]) => channel !== "in_app" && d.action === "send")) limited.push(r.id);
  }
  if (trigger.limits && trigger.priority !== "urgent" && limited.length > 0) {
    const allowed = await takeRateLimits(trigger.type, trigger.id, limited, trigger.limits, at);
    for (const id of limited) {
      if (allowed.get(id)) continue;
      const r = byId.get(id)!;
      const byChannel = result.get(id)!;
      for (const [channel, decision] of byChannel) {
        if (channel !== "in_app" && decision.action === "send") byChannel.set(channel, decide(r, channel, true, prefsById.get(id)!));
      }
    }
  }
  return result;
}

/** How long a window lasts that only deliveries held back by a type's limits open (no `batch` set). */
const RATE_LIMIT_SUMMARY_WINDOW = "1h";

/** How a decision is recorded: sent now is `queued` for its channel's worker. */
function statusOf(decision: Decision): string {
  return { send: "queued", defer: "deferred", batch: "batched", suppress: "suppressed" }[decision.action];
}

/**
 * Deadlocks between chunks of different triggers that share recipients, and a concurrent delivery
 * of the same chunk (unique violation), roll the chunk back; running it again is safe.
 */
async function retryOnConflict<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= attempts || (code !== "23505" && code !== "40P01")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}

/**
 * A resumed fan-out (the previous run died) may have committed its last chunk without caching those
 * users' new counts, leaving older cached counts behind. Cache them again from PostgreSQL.
 */
async function recacheLastChunk(trigger: TriggerRow, chunkSize: number): Promise<void> {
  const { rows } = await pool.query<{ id: string; last_seq: number; unread_count: number; unseen_count: number }>(
    `SELECT id, last_seq, unread_count, unseen_count FROM users WHERE id IN (
       SELECT user_id FROM notifications WHERE trigger_id = $1 AND created_at = $2 ORDER BY id DESC LIMIT $3)`,
    [trigger.id, trigger.created_at, chunkSize],
  );
  await cacheCounts(rows.map((r) => ({ userId: r.id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.last_seq } })));
}

/** The same for a sliced fan-out: the last chunk before each slice's cursor. */
async function recacheSlices(trigger: TriggerRow, chunkSize: number): Promise<void> {
  const { rows } = await pool.query<{ id: string; last_seq: number; unread_count: number; unseen_count: number }>(
    // (As cacheGaps: the trigger's notifications there, and the topic's subscribers there now.)
    `SELECT u.id, u.last_seq, u.unread_count, u.unseen_count FROM fanout_ranges r
       CROSS JOIN LATERAL ((SELECT n.user_id FROM notifications n
                             WHERE n.trigger_id = $1 AND n.created_at = $4 AND n.user_id > r.after AND n.user_id <= r.cursor
                             ORDER BY n.user_id DESC LIMIT $3)
                           UNION
                           (SELECT s.user_id FROM topic_subscriptions s
                             WHERE s.topic_key = $2 AND s.user_id > r.after AND s.user_id <= r.cursor ORDER BY s.user_id DESC LIMIT $3)) s
       JOIN users u ON u.id = s.user_id
      WHERE r.trigger_id = $1 AND r.cursor IS NOT NULL`,
    [trigger.id, trigger.topic_key, chunkSize, trigger.created_at],
  );
  await cacheCounts(rows.map((r) => ({ userId: r.id, counts: { count: r.unread_count, unseen: r.unseen_count, seq: r.last_seq } })));
}

async function loadTrigger(triggerId: string): Promise<TriggerRow | null> {
  return (await loadTriggers([triggerId]))[0] ?? null;
}

/** Triggers by id, in one round trip (those that exist). */
async function loadTriggers(triggerIds: string[]): Promise<TriggerRow[]> {
  // Keyed: found by their keys, with a small page at most, planned once per connection.
  const { rows } = await keyedPool().query<TriggerRow>(prepared(
    `SELECT t.id, t.type, t.recipient_ids, t.topic_key, t.recipients, t.broadcast_threshold, t.actor, t.target, t.data, t.title, t.body, t.actions, t.priority, t.channels,
            t.expires_at, t.status, t.created_at,
            coalesce(nt.category, 'system') AS category, coalesce(nt.opt_out, true) AS opt_out,
            coalesce(nt.respect_quiet_hours, true) AS respect_quiet_hours, coalesce(nt.defaults, '{}') AS defaults, nt.limits,
            coalesce(nt.templates, '{}') AS templates, coalesce(nt.locales, '{}') AS locales, coalesce(nt.template_version, 0) AS template_version,
            nt.aggregate, nt.batch, EXISTS (SELECT 1 FROM fanout_ranges r WHERE r.trigger_id = t.id) AS has_slices,
            CASE WHEN t.topic_key IS NULL AND t.status = 'accepted' AND t.fanout_cursor IS NULL AND cardinality(t.recipient_ids) <= $2 THEN
              (SELECT coalesce(json_agg(json_build_object(
                        'id', p.id, 'name', u.name, 'email', u.email, 'phone', u.phone, 'timezone', u.timezone, 'locale', u.locale,
                        'preferences', CASE WHEN u.preferences = '{}'::jsonb THEN NULL ELSE u.preferences END,
                        'has_push', 'push' = ANY(t.channels) AND EXISTS (SELECT 1 FROM push_subscriptions ps WHERE ps.user_id = p.id
                                                                       AND ps.last_active_at > now() - make_interval(days => $3::int)))
                      ORDER BY p.n), '[]')
                 FROM unnest(t.recipient_ids) WITH ORDINALITY AS p(id, n) LEFT JOIN users u ON u.id = p.id)
            END AS small_page
       FROM triggers t LEFT JOIN notification_types nt ON nt.key = t.type
      WHERE t.id = ANY($1::uuid[])`,
    // Up to this many explicit recipients, a fresh trigger's fan-out is one statement (fanOutSmallTrigger).
    [triggerIds, env.FANOUT_ONE_STATEMENT_MAX, env.PUSH_DEVICE_ACTIVE_DAYS],
  ));
  return rows;
}

/**
 * Whether the trigger is a broadcast: a topic above the threshold (the trigger's own, else
 * BROADCAST_THRESHOLD), with an inbox notification that reads the same for everyone of a locale.
 */
function isBroadcast(trigger: TriggerRow, renderer: Renderer): boolean {
  return trigger.topic_key !== null && trigger.channels.includes("in_app") && !renderer.perRecipient && trigger.recipients > (trigger.broadcast_threshold ?? env.BROADCAST_THRESHOLD);
}

/** Stores the broadcast with its texts in every locale of the type, and merges it for who is online. */
async function broadcast(trigger: TriggerRow, renderer: Renderer): Promise<number> {
  const locales = ["", ...Object.keys(trigger.locales)];
  const texts = Object.fromEntries(
    await Promise.all(locales.map(async (locale) => [locale, await renderer.text({ id: "", name: null, email: null, phone: null, timezone: null, locale: locale || null, preferences: null, has_push: false })] as const)),
  );
  return publishBroadcast({
    trigger_id: trigger.id,
    topic_key: trigger.topic_key!,
    type: trigger.type,
    category: trigger.category,
    priority: trigger.priority as Priority,
    routing: { key: trigger.type, category: trigger.category, optOut: trigger.opt_out, respectQuietHours: trigger.respect_quiet_hours, defaults: trigger.defaults },
    texts,
    actor: trigger.actor,
    target: trigger.target,
    data: trigger.data,
    recipients: trigger.recipients,
    created_at: trigger.created_at,
    expires_at: trigger.expires_at,
  });
}

/**
 * After commit: cache the new counts, and publish to the devices of the recipients who are online.
 * Answers whether every count was cached.
 */
async function publishChunk(shared: Shared, rows: InsertedRow[]): Promise<boolean> {
  return publishChunks([{ shared, rows }]);
}

/**
 * Rows of a publish at most that go as one script with their counts (publish-with-counts.ts): every
 * recipient's events go to Redis, which keeps those of the online ones, so this is for small
 * fan-outs; a chunk of a big one asks who is online first.
 */
const PUBLISH_WITH_COUNTS_MAX_ROWS = 256;

/**
 * publishChunk for the chunks of several triggers. Counts are cached before the events go out (a
 * device that hears of a change and reads its inbox at once finds the cache at that change): a small
 * publish on a single Redis sends both in one script, without a round trip before the events leave;
 * otherwise one round trip (counts and presence together), then the events of those online.
 */
async function publishChunks(chunks: { shared: Shared; rows: InsertedRow[] }[]): Promise<boolean> {
  const all = chunks.flatMap((c) => c.rows);
  if (all.length === 0) return true;
  signalAdminActivity();
  const counts = (r: InsertedRow) => ({ count: r.unread_count, unseen: r.unseen_count, seq: r.seq });
  const withCounts = all.length <= PUBLISH_WITH_COUNTS_MAX_ROWS && canPublishWithCounts();
  let online: Set<string> | null = null;
  let cached = true;
  if (!withCounts) {
    const [done, onlineIds] = await Promise.all([cacheCounts(all.map((r) => ({ userId: r.user_id, counts: counts(r) }))), filterOnline([...new Set(all.map((r) => r.user_id))])]);
    cached = done;
    online = new Set(onlineIds);
  }
  const recipients: Published[] = [];
  const observed: { acceptedAt: number; rows: number }[] = [];
  for (const { shared, rows } of chunks) {
    if (rows.length === 0) continue;
    const updated = rows.filter((r) => r.group).length;
    countMetric("notify_notifications_created_total", {}, rows.length - updated);
    countMetric("notify_notifications_updated_total", {}, updated);
    const acceptedAt = Date.parse(shared.createdAt);
    observeMetric("notify_trigger_to_stored_seconds", {}, (Date.now() - acceptedAt) / 1000, rows.length);
    let published = 0;
    for (const row of rows) {
      if (online && !online.has(row.user_id)) continue;
      const group = row.group;
      const notification: Notification = {
        ...shared,
        ...row.text,
        ...(group ? { actors: group.actors, actorCount: group.actorCount, createdAt: group.createdAt.toISOString(), sortAt: group.sortAt.toISOString() } : {}),
        id: row.id,
        seq: Number(row.seq),
        read: false,
        seen: false,
        archived: false,
        readAt: null,
        seenAt: null,
        archivedAt: null,
        clickedAt: null,
      };
      const event = group ? "notification:updated" : "notification:new";
      const unread = { count: row.unread_count, unseen: row.unseen_count, seq: Number(row.seq) };
      if (online) {
        publishToUser(row.user_id, event, notification);
        publishToUser(row.user_id, "unread_count", unread);
        published++;
      } else {
        recipients.push({ userId: row.user_id, counts: counts(row), events: [[event, notification], ["unread_count", unread]] });
      }
    }
    if (online) observeMetric("notify_trigger_to_socket_seconds", {}, (Date.now() - acceptedAt) / 1000, published);
    else observed.push({ acceptedAt, rows: rows.length });
  }
  if (!withCounts) return cached;
  const result = await cacheCountsAndPublish(recipients);
  // Once Redis has published: the triggers' share of those online, by their share of the rows.
  const share = result.published / Math.max(1, recipients.length);
  for (const { acceptedAt, rows } of observed) observeMetric("notify_trigger_to_socket_seconds", {}, (Date.now() - acceptedAt) / 1000, Math.round(rows * share));
  return result.cached;
}
