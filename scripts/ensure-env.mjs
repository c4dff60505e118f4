// Creates .env from .env.example on a fresh clone; never overwrites an existing .env.
import { copyFileSync, existsSync } from "node:fs";

if (!existsSync(".env")) {
  copyFileSync(".env.example", ".env");
  console.log("Created .env from .env.example (local defaults; edit it to configure).");
}
