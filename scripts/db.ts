// Database migrations without the Prisma CLI's native engine (see scripts/schema-engine.ts).
//
//   tsx scripts/db.ts migrate      apply prisma/migrations to DATABASE_URL (creates the database)
//   tsx scripts/db.ts new <name>   write a migration for the diff migrations -> schema.prisma
//   tsx scripts/db.ts check        exit 2 (printing the missing SQL) if the migrations drift
//
// `new` and `check` run on throwaway in-memory PGlite databases and need no running PostgreSQL.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import {
  LOCKFILE,
  LOCKFILE_CONTENT,
  createEngine,
  databaseUrl,
  engineErrorMessage,
  filters,
  migrationsDir,
  parseDatabaseUrl,
  PGliteFactory,
  PostgresFactory,
  readMigrations,
  readSchema,
  schemaPath,
  type PgFields,
  type SchemaEngine,
} from "./schema-engine.js";

/** An expected failure: printed as one line, then exit with `code`. */
class Failure extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

const rel = (p: string): string => path.relative(process.cwd(), p) || ".";

// --- migrate ------------------------------------------------------------------------------------

const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "EAI_AGAIN"]);

/** The network error code of a failed connection, if that is what it is. */
function unreachableCode(err: unknown): string | undefined {
  // Node may try several addresses (e.g. ::1 and 127.0.0.1) and report an AggregateError.
  const errors = err instanceof AggregateError ? [err, ...err.errors] : [err];
  for (const e of errors) {
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return code;
    if (e instanceof Error && /timeout/i.test(e.message)) return "timeout";
  }
  return undefined;
}

/** Runs `fn` on a client connected to `database`, turning "server not reachable" into a Failure. */
async function withClient<T>(fields: PgFields, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...fields, database, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    const code = unreachableCode(err);
    if (code === undefined) throw err;
    throw new Failure(
      `PostgreSQL is not reachable at ${fields.host}:${fields.port} (${code}); start it with ` +
        "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or `docker compose up -d`",
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the target database (from the `postgres` database) unless it exists. */
async function ensureDatabase(fields: PgFields): Promise<void> {
  const exists = await withClient(fields, "postgres", async (c) => {
    const res = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [fields.database]);
    if (res.rowCount) return true;
    try {
      await c.query(`CREATE DATABASE "${fields.database.replaceAll('"', '""')}"`);
    } catch (err) {
      // 42P04 duplicate_database: created concurrently, fine.
      if ((err as { code?: string }).code !== "42P04") throw err;
    }
    return false;
  });
  if (!exists) console.log(`created database ${fields.database}`);
}

async function migrate(): Promise<void> {
  const fields = parseDatabaseUrl(databaseUrl);
  await ensureDatabase(fields);
  const migrationsList = readMigrations();
  const engine = await createEngine(new PostgresFactory(fields));
  try {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters });
    for (const name of appliedMigrationNames) console.log(`applied ${name}`);
    const total = migrationsList.migrationDirectories.length;
    console.log(
      `${appliedMigrationNames.length} migration(s) applied to ${fields.database} ` +
        `(${total - appliedMigrationNames.length} of ${total} already applied)`,
    );
  } finally {
    engine.free();
  }
}

// --- new / check (PGlite) -----------------------------------------------------------------------

/** Runs `fn` with an engine over a fresh in-memory PGlite (its shadow database is PGlite too). */
async function withPgliteEngine<T>(fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const factory = await PGliteFactory.create();
  const engine = await createEngine(factory);
  try {
    return await fn(engine);
  } finally {
    engine.free();
    await factory.close();
  }
}

async function newMigration(name: string | undefined): Promise<void> {
  if (!name || !/^[A-Za-z0-9_]+$/.test(name)) {
    throw new Failure("usage: db.ts new <name>   (name: letters, digits and _)");
  }
  const migrationsList = readMigrations();
  const schema = readSchema();
  await withPgliteEngine(async (engine) => {
    // createMigration needs every existing migration applied to the (PGlite) database, and the
    // engine only accepts it after devDiagnostic.
    await engine.applyMigrations({ migrationsList, filters });
    const { action } = await engine.devDiagnostic({ migrationsList, filters });
    if (action.tag === "reset") throw new Failure(`cannot create a migration: ${action.reason}`);
    // Not a draft: an empty diff then gives no script (instead of an empty migration).
    const { generatedMigrationName, migrationScript } = await engine.createMigration({
      draft: false,
      migrationName: name,
      migrationsList,
      schema,
      filters,
    });
    if (migrationScript === null) {
      console.log("no changes: the migrations already match the schema, nothing written");
      return;
    }
    const dir = path.join(migrationsDir, generatedMigrationName);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "migration.sql"), migrationScript);
    writeFileSync(path.join(migrationsDir, LOCKFILE), LOCKFILE_CONTENT);
    console.log(`created ${rel(path.join(dir, "migration.sql"))}`);
  });
}

async function check(): Promise<number> {
  const migrationsList = readMigrations();
  return withPgliteEngine(async (engine) => {
    const { exitCode, stdout } = await engine.diff({
      from: { tag: "migrations", ...migrationsList },
      to: { tag: "schemaDatamodel", ...readSchema() },
      script: true,
      exitCode: true,
      filters,
    });
    if (exitCode === 0) {
      console.log("migrations match the schema");
      return 0;
    }
    // The SQL on stdout (it can be redirected), the explanation on stderr.
    console.error(`drift: the migrations do not produce ${rel(schemaPath)}; missing SQL:\n`);
    process.stdout.write(stdout ?? "");
    console.error("\ncreate a migration with: tsx scripts/db.ts new <name>");
    return 2;
  });
}

// --- main ---------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "migrate":
      await migrate();
      return 0;
    case "new":
      await newMigration(args[0]);
      return 0;
    case "check":
      return check();
    default:
      throw new Failure("usage: tsx scripts/db.ts migrate | new <name> | check");
  }
}

// Exit explicitly: the adapters' pools and PGlite shadow databases are not all closed by the engine.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Failure ? err.message : `error: ${engineErrorMessage(err)}`);
    process.exit(err instanceof Failure ? err.code : 1);
  },
);
