import { z } from "zod";
import { channelSchema } from "@/server/notifications/notifications.schema";

/**
 * The windows the admin overview offers, each with its bucket size (seconds), how soon after an
 * `admin:activity` event the live page refreshes it at the earliest (`liveMs`), and how often it
 * polls when its socket is not subscribed (`refreshMs`): a longer window scans more rows and changes
 * less per refresh.
 */
export const OVERVIEW_WINDOWS = {
  "15m": { seconds: 15 * 60, bucketSeconds: 60, liveMs: 1_000, refreshMs: 5_000 },
  "1h": { seconds: 60 * 60, bucketSeconds: 60, liveMs: 1_000, refreshMs: 5_000 },
  "6h": { seconds: 6 * 60 * 60, bucketSeconds: 5 * 60, liveMs: 5_000, refreshMs: 15_000 },
  "24h": { seconds: 24 * 60 * 60, bucketSeconds: 15 * 60, liveMs: 15_000, refreshMs: 30_000 },
} as const;

/** While the page is live it still reads now and then (a queue's delayed jobs come due silently). */
export const OVERVIEW_LIVE_POLL_MS = 60_000;
export type OverviewWindow = keyof typeof OVERVIEW_WINDOWS;

const windowSchema = z.enum(Object.keys(OVERVIEW_WINDOWS) as [OverviewWindow, ...OverviewWindow[]]);

export const overviewQuerySchema = z.object({
  window: windowSchema.default("1h"),
  /** The `at` of an `admin:activity` event: the answer includes everything signalled up to then. */
  since: z.iso.datetime({ offset: true }).optional(),
});
export type OverviewQuery = z.infer<typeof overviewQuerySchema>;

const count = z.number().int().min(0);
const sentFailedSchema = z.object({ sent: count, failed: count });
const perChannel = <S extends z.ZodType>(schema: S) => z.object({ in_app: schema, push: schema, email: schema, sms: schema });

export const OVERVIEW_QUEUES = ["fanout", "push", "email", "sms"] as const;

export const overviewSchema = z.object({
  window: windowSchema,
  bucketSeconds: z.number().int().positive(),
  /** Start of the first bucket and the moment the numbers were read; the last bucket is still filling. */
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  /** Every bucket of the window, oldest first, zeros included: in-app notifications stored, and push, email and SMS attempts that reached the provider (`sent`) or did not (`failed`, which includes push subscriptions that are gone). */
  buckets: z.array(z.object({ at: z.iso.datetime(), channels: perChannel(sentFailedSchema) })),
  totals: perChannel(sentFailedSchema),
  /** Jobs in each BullMQ queue now (`waiting` includes prioritized jobs); null when Redis did not answer. */
  queues: z
    .array(z.object({ queue: z.enum(OVERVIEW_QUEUES), waiting: count, active: count, delayed: count, failed: count }))
    .nullable(),
  /** In-app notifications of the window's triggers, and how many of them a device acknowledged, were seen, were clicked (as in a trigger's status). */
  funnel: z.object({ sent: count, delivered: count, opened: count, clicked: count }),
});
export type Overview = z.infer<typeof overviewSchema>;
export type OverviewChannel = z.infer<typeof channelSchema>;
export const OVERVIEW_CHANNELS = channelSchema.options;
