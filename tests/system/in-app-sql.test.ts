// The fan-out's in-app-only chunks decide the inbox in SQL (server/routing/in-app-sql.ts). Here that
// expression runs on PostgreSQL for random stored preferences and types, and must give exactly what
// decideDelivery gives for the in-app channel: the same send, the same suppression reason.
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { decideDelivery, type RoutingType } from "@/server/routing/decide-delivery";
import { inAppReasonParams, inAppReasonSql } from "@/server/routing/in-app-sql";
import { DEFAULT_PREFERENCES, mergePreferences, resolvePreferences, type PreferencesInput } from "@/server/preferences/preferences.schema";
import { ADMIN_DB_URL } from "./start-system";

let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: ADMIN_DB_URL });
  await client.connect();
});
afterAll(async () => {
  await client.end();
});

const CHANNELS = ["in_app", "push", "email", "sms"] as const;
const KEYS = ["like", "comment", "follow"];
const CATEGORIES = ["social", "system", "engagement"];
const setting = fc.option(fc.boolean(), { nil: null });
const settings = fc.dictionary(fc.constantFrom(...CHANNELS), setting, { maxKeys: 4 });
const input: fc.Arbitrary<PreferencesInput> = fc.record(
  {
    channels: fc.dictionary(fc.constantFrom(...CHANNELS), fc.boolean(), { maxKeys: 4 }),
    types: fc.dictionary(fc.constantFrom(...KEYS), settings, { maxKeys: 3 }),
    categories: fc.dictionary(fc.constantFrom(...CATEGORIES), settings, { maxKeys: 3 }),
    emailFrequency: fc.constantFrom("instant", "daily", "weekly"),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<PreferencesInput>;
/** What a users row holds: nothing ever chosen (NULL or `{}`), or what updatePreferences stored after one or two updates. */
const stored = fc.oneof(
  fc.constant(null),
  fc.constant({}),
  input.map((a) => mergePreferences(DEFAULT_PREFERENCES, a)),
  fc.tuple(input, input).map(([a, b]) => mergePreferences(mergePreferences(DEFAULT_PREFERENCES, a), b)),
);
const type: fc.Arbitrary<RoutingType> = fc.record({
  key: fc.constantFrom(...KEYS),
  category: fc.constantFrom(...CATEGORIES),
  optOut: fc.boolean(),
  respectQuietHours: fc.boolean(),
  defaults: fc.dictionary(fc.constantFrom(...CHANNELS), fc.boolean(), { maxKeys: 4 }),
});

it("the in-app decision in SQL equals decideDelivery for every stored preference and type", async () => {
  let muted = 0;
  await fc.assert(
    fc.asyncProperty(stored, type, async (prefs, routing) => {
      const decision = decideDelivery({
        channel: "in_app",
        type: routing,
        priority: "normal",
        preferences: resolvePreferences(prefs),
        timeZone: null,
        hasAddress: true,
        rateLimited: false,
        expiresAt: null,
        now: new Date(),
      });
      const { rows } = await client.query<{ reason: string | null }>(`SELECT ${inAppReasonSql("$1::jsonb", 2)} AS reason`, [
        prefs === null ? null : JSON.stringify(prefs),
        ...inAppReasonParams(routing),
      ]);
      const expected = decision.action === "send" ? null : (decision as { reason: string }).reason;
      if (expected) muted++;
      expect(decision.action === "send" || decision.action === "suppress").toBe(true);
      expect(rows[0]!.reason).toBe(expected);
    }),
    { numRuns: 2000 },
  );
  // The generators reach both outcomes, and often.
  expect(muted).toBeGreaterThan(200);
});
