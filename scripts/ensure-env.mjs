// Creates .env from .env.example on a fresh clone; never overwrites an existing .env. Fills in a
// VAPID key pair for web push when .env has none (development set-up; `npm run vapid` prints one).
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import webpush from "web-push";

if (!existsSync(".env")) {
  copyFileSync(".env.example", ".env");
  console.log("Created .env from .env.example (local defaults; edit it to configure).");
}
const env = readFileSync(".env", "utf8");
if (/^VAPID_PUBLIC_KEY=\s*$/m.test(env) && /^VAPID_PRIVATE_KEY=\s*$/m.test(env)) {
  const keys = webpush.generateVAPIDKeys();
  writeFileSync(".env", env.replace(/^VAPID_PUBLIC_KEY=\s*$/m, `VAPID_PUBLIC_KEY=${keys.publicKey}`).replace(/^VAPID_PRIVATE_KEY=\s*$/m, `VAPID_PRIVATE_KEY=${keys.privateKey}`));
  console.log("Generated a VAPID key pair for web push in .env.");
}
