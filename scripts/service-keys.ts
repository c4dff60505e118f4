// Service keys from the command line (the admin dashboard comes later):
//   npm run keys -- create --name billing --scopes notify[,admin]   prints the key once
//   npm run keys -- list
//   npm run keys -- revoke <id>
import { parseArgs } from "node:util";
import { closeDb } from "@/server/db";
import { createServiceKey, listServiceKeys, revokeServiceKey, type ServiceScope } from "@/server/auth/service-key";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" }, scopes: { type: "string", default: "notify" } },
});
const [command, arg] = positionals;
let exitCode = 0;

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
    console.log(`${k.id}  ${k.prefix}…  ${k.name}  [${k.scopes.join(",")}]  ${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "active"}  last used ${k.lastUsedAt?.toISOString() ?? "never"}`);
  }
} else if (command === "revoke" && arg) {
  const revoked = await revokeServiceKey(arg);
  console.log(revoked ? `revoked ${arg}` : `no active key ${arg}`);
  exitCode = revoked ? 0 : 1;
} else {
  console.error("usage: npm run keys -- create --name <name> --scopes notify[,admin] | list | revoke <id>");
  exitCode = 2;
}
await closeDb();
process.exit(exitCode);
