// Prisma 7 CLI configuration (`prisma generate`, `prisma validate`, `prisma format`).
// Migrations are run by scripts/db.ts through @prisma/schema-engine-wasm; it reads the schema path,
// migrations path and datasource url from this file too.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "prisma/config";

// The same .env as the app (server/env.ts); variables already set in the environment win.
const envFile = fileURLToPath(new URL("./.env", import.meta.url));
if (existsSync(envFile)) process.loadEnvFile(envFile);

// The CLI downloads a native schema-engine binary before every command, and its host is
// unreachable here. Pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file stops the download:
// `generate`, `validate` and `format` never run it. (It is not an engine: `prisma migrate *` and
// `prisma db *` fail with EACCES; use scripts/db.ts.) Set the variable to a real binary to override.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(
  new URL("./node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm", import.meta.url),
);
// No update check / telemetry (it would only time out offline).
process.env.CHECKPOINT_DISABLE = "1";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/notify" },
});
