// Service keys from the command line (the same as the service keys section of /admin):
//   npm run keys -- create --name billing --scopes notify[,admin]   prints the key once
//   npm run keys -- list
//   npm run keys -- revoke <id>
//   npm run keys -- limits <id> [--requests N] [--recipients M] | --default
//       the key's own ingestion limits per second (0: unlimited; "default": the INGEST_* default);
//       --default puts both back to the default. Every web node uses them within moments.
import { parseArgs } from "node:util";
import { closeDb } from "@/server/db";
import { createServiceKey, listServiceKeys, revokeServiceKey, setServiceKeyLimits, type ServiceScope } from "@/server/auth/service-key";
import { serviceKeyLimitsSchema, type ServiceKeyLimits } from "@/server/auth/service-key-input";
import { effectiveIngestionLimits } from "@/server/notifications/ingestion-limits";

const USAGE =
  "usage: npm run keys -- create --name <name> --scopes notify[,admin] | list | revoke <id> | limits <id> [--requests N|default] [--recipients M|default] | limits <id> --default";

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        name: { type: "string" },
        scopes: { type: "string", default: "notify" },
        requests: { type: "string" },
        recipients: { type: "string" },
        default: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    // An unknown option, or a value that looks like one ("--requests -1").
    console.error((error as Error).message);
    console.error(USAGE);
    process.exit(2);
  }
}
const { positionals, values } = parseCommandLine();
const [command, arg] = positionals;
let exitCode = 0;

/** "default" is null (the deployment default); otherwise a whole number, checked by the API's own schema below. */
function limitArg(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === "default") return null;
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

function describeLimits(own: ServiceKeyLimits): string {
  const effective = effectiveIngestionLimits(own);
  const one = (mine: number | null, value: number, unit: string) =>
    `${value === 0 ? "unlimited" : `${value.toLocaleString("en-US")} ${unit}/s`}${mine === null ? " (default)" : ""}`;
  return `${one(own.requestsPerSecond, effective.requestsPerSecond, "requests")}, ${one(own.recipientsPerSecond, effective.recipientsPerSecond, "recipients")}`;
}

if (command === "create") {
  const scopes = values.scopes.split(",").map((s) => s.trim());
  const invalid = scopes.filter((s) => s !== "notify" && s !== "admin");
  if (!values.name || invalid.length > 0 || scopes.length === 0) {
    console.error("usage: npm run keys -- create --name <name> --scopes notify[,admin]");
    exitCode = 2;
  } else {
    const { id, key } = await createServiceKey(values.name, scopes as ServiceScope[]);
    console.log(JSON.stringify({ id, name: values.name, scopes, key }));
    console.error("Store the key now: it is shown only once.");
  }
} else if (command === "list") {
  for (const k of await listServiceKeys()) {
    console.log(
      `${k.id}  ${k.prefix}…  ${k.name}  [${k.scopes.join(",")}]  ${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "active"}  last used ${k.lastUsedAt?.toISOString() ?? "never"}  limits ${describeLimits(k.limits)}`,
    );
  }
} else if (command === "revoke" && arg) {
  const revoked = await revokeServiceKey(arg);
  console.log(revoked ? `revoked ${arg}` : `no active key ${arg}`);
  exitCode = revoked ? 0 : 1;
} else if (command === "limits" && arg) {
  const requested = values.default
    ? { requestsPerSecond: null, recipientsPerSecond: null }
    : { requestsPerSecond: limitArg(values.requests), recipientsPerSecond: limitArg(values.recipients) };
  const parsed = serviceKeyLimitsSchema.partial().safeParse(Object.fromEntries(Object.entries(requested).filter(([, v]) => v !== undefined)));
  const given = values.default || values.requests !== undefined || values.recipients !== undefined;
  const mixed = values.default && (values.requests !== undefined || values.recipients !== undefined);
  if (!given || mixed || !parsed.success) {
    if (parsed.error) for (const issue of parsed.error.issues) console.error(`--${issue.path[0] === "requestsPerSecond" ? "requests" : "recipients"}: ${issue.message}`);
    console.error("usage: npm run keys -- limits <id> [--requests N|default] [--recipients M|default] | limits <id> --default");
    exitCode = 2;
  } else {
    const key = /^[0-9a-f-]{36}$/i.test(arg) ? await setServiceKeyLimits(arg.toLowerCase(), parsed.data) : null;
    if (key) console.log(`${key.id}  ${key.name}  limits ${describeLimits(key.limits)}`);
    else console.log(`no active key ${arg}`);
    exitCode = key ? 0 : 1;
  }
} else {
  console.error(USAGE);
  exitCode = 2;
}
await closeDb();
process.exit(exitCode);
