// A one-time sign-in link for an admin, for deployments without the demo shortcut:
//   npm run admin:link -- <userId>            the user must be an admin already
//   npm run admin:link -- <userId> --grant    makes the user an admin first (the first admin)
// Prints a link valid for 15 minutes and usable once.
import { parseArgs } from "node:util";
import { env } from "@/server/env";
import { closeDb } from "@/server/db";
import { createSignInLink, SIGN_IN_LINK_TTL_MINUTES } from "@/server/auth/sign-in-links";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { grant: { type: "boolean", default: false } } });
const [userId] = positionals;
let exitCode = 0;
if (!userId) {
  console.error("usage: npm run admin:link -- <userId> [--grant]");
  exitCode = 2;
} else {
  try {
    const { token, role } = await createSignInLink(userId, { grantAdmin: values.grant });
    if (role !== "admin") {
      console.error(`'${userId}' is not an admin: the link signs them in, but /admin will not open. Use --grant to make them one.`);
    }
    const base = env.PUBLIC_URL ?? `http://localhost:${env.PORT}`;
    console.log(`${base}/auth/sign-in#${token}`);
    console.error(`Valid for ${SIGN_IN_LINK_TTL_MINUTES} minutes, once.`);
  } catch (error) {
    console.error((error as Error).message);
    exitCode = 1;
  }
}
await closeDb();
process.exit(exitCode);
