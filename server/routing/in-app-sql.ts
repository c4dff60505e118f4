// The in-app decision of decideDelivery, as a SQL expression, for the fan-out's in-app-only chunks:
// there the page of recipients never travels to Node and back (a million recipients' ids, locales and
// preferences parsed, decided and sent again were most of a fan-out worker's time). Only the parts of
// decideDelivery that can apply to the inbox are here: expiry (decided once per chunk by the caller),
// then the stored preferences unless the type does not allow opting out, then the admin's default.
// A property test (tests/system/in-app-sql.test.ts) checks it against decideDelivery on PostgreSQL.
import type { RoutingType } from "@/server/routing/decide-delivery";

/** The parameters the expression reads, in the order `inAppReasonSql` numbers them from `first`. */
export function inAppReasonParams(type: RoutingType): [string, string, boolean, boolean] {
  return [type.key, type.category, type.optOut, type.defaults?.in_app === false];
}

/**
 * A SQL expression that is NULL when the inbox gets the notification, else the suppression reason
 * (`channel_disabled`, `type_muted`, `category_muted`), for stored preferences `prefs` (a jsonb
 * expression: NULL or `{}` for a user who never chose). Stored preferences are the merged object
 * `updatePreferences` writes, validated on the way in; absent and null settings fall through.
 */
export function inAppReasonSql(prefs: string, first: number): string {
  const [key, category, optOut, defaultOff] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}`);
  const setting = (path: string) => `(${prefs} -> ${path} -> 'in_app')`;
  const byType = setting(`'types' -> ${key}::text`);
  const byCategory = setting(`'categories' -> ${category}::text`);
  return `CASE
    WHEN NOT ${optOut}::boolean THEN NULL
    -- Most users never chose anything: one comparison for them.
    WHEN ${prefs} IS NULL OR ${prefs} = '{}'::jsonb THEN CASE WHEN ${defaultOff}::boolean THEN 'type_muted' END
    WHEN ${prefs} -> 'channels' -> 'in_app' = 'false'::jsonb THEN 'channel_disabled'
    WHEN jsonb_typeof(${byType}) = 'boolean' THEN CASE WHEN ${byType} = 'true'::jsonb THEN NULL ELSE 'type_muted' END
    WHEN jsonb_typeof(${byCategory}) = 'boolean' THEN CASE WHEN ${byCategory} = 'true'::jsonb THEN NULL ELSE 'category_muted' END
    WHEN ${defaultOff}::boolean THEN 'type_muted'
  END`;
}
