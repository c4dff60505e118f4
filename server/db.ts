import { createHash } from "node:crypto";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@/generated/prisma/client";
import { env } from "@/server/env";

// BIGINT (seq) arrives as a string by default; every seq fits a JS number (2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

type Db = { pool: pg.Pool; prisma: PrismaClient };

function createDb(): Db {
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: env.DB_POOL_SIZE, application_name: process.env.NOTIFY_SERVICE ?? "notify" });
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on("error", (error) => console.error(`postgres pool: ${error.message}`));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return { pool, prisma };
}

// One pool per process, also across Next.js dev reloads.
const globalForDb = globalThis as typeof globalThis & { __notifyDb?: Db };
const db = (globalForDb.__notifyDb ??= createDb());

/** The typed Prisma client, for plain reads and writes of the model. */
export const prisma = db.prisma;
/** The pg pool the Prisma client runs on, for the set-based SQL of the hot paths. */
export const pool = db.pool;

export type Sql = pg.PoolClient;

const globalForKeyed = globalThis as typeof globalThis & { __notifyKeyedPool?: pg.Pool };

/**
 * A second pool whose connections plan every statement generically (once per connection) and never
 * scan a table sequentially: for the hot statements that run outside a transaction (so SET LOCAL is
 * not available), reach every table by its keys and carry small arrays (a small trigger's fan-out).
 * Connections open as they are needed (as many as such statements run at once), up to DB_POOL_SIZE.
 * The settings are made by `SET` when a connection opens, not as startup options, which PgBouncer
 * refuses. Without prepared statements (DB_PREPARED_STATEMENTS=0: a pooler in transaction mode,
 * where session settings would leak to other clients and no plan is kept anyway) this is the main
 * pool.
 */
export function keyedPool(): pg.Pool {
  if (!env.DB_PREPARED_STATEMENTS) return pool;
  if (!globalForKeyed.__notifyKeyedPool) {
    const keyed = new pg.Pool({
      connectionString: env.DATABASE_URL,
      max: env.DB_POOL_SIZE,
      application_name: process.env.NOTIFY_SERVICE ?? "notify",
      // Awaited before the connection is handed out; if it fails, the connection is dropped.
      onConnect: async (client) => void (await client.query("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")),
    });
    keyed.on("error", (error) => console.error(`postgres pool: ${error.message}`));
    globalForKeyed.__notifyKeyedPool = keyed;
  }
  return globalForKeyed.__notifyKeyedPool;
}

const statementNames = new Map<string, string>();

/**
 * A hot statement, prepared once per connection: PostgreSQL parses and analyses it once (and may
 * keep a generic plan) instead of on every call. For the fixed texts of the trigger path, called
 * thousands of times a second; named after the text, so each variant of a text is its own.
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  if (!env.DB_PREPARED_STATEMENTS) return { text, values };
  let name = statementNames.get(text);
  if (!name) {
    name = `n${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** Runs `fn` in one READ COMMITTED transaction; rolls back on any error. */
export async function withTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function closeDb(): Promise<void> {
  await prisma.$disconnect().catch(() => undefined);
  await pool.end().catch(() => undefined);
  delete globalForDb.__notifyDb;
  const keyed = globalForKeyed.__notifyKeyedPool;
  delete globalForKeyed.__notifyKeyedPool;
  await keyed?.end().catch(() => undefined);
}
