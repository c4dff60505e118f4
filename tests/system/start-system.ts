// Starts the real system for tests and benchmarks: a fresh PostgreSQL database with the migrations
// applied, and web nodes, relays and fan-out workers as separate processes, exactly as `npm start`
// runs them. Nothing here is mocked.
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import pg from "pg";
import { Redis } from "ioredis";

export const TEST_SERVICE_KEY = "test-service-key-0123456789";
const TEST_AUTH_SECRET = "test-auth-secret-0123456789-0123456789-abcdef";
export const ADMIN_DB_URL = process.env.TEST_ADMIN_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const tsx = ["--import", "tsx"];

export type Proc = { name: string; child: ChildProcess; port?: number; exited: Promise<number | null> };

export type SystemInfo = { webUrls: string[]; databaseUrl: string; redisUrl: string; redisPrefix: string; serviceKey: string; authSecret: string };

export type System = SystemInfo & {
  processes: Proc[];
  env: NodeJS.ProcessEnv;
  startPart: (part: "web" | "relay" | "fanout" | "channels", envOverride?: Record<string, string>) => Promise<Proc>;
  stop: () => Promise<void>;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A fresh database with every migration applied and the default types seeded. */
export async function createTestDatabase(prefix = "notify_test"): Promise<string> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const admin = new URL(ADMIN_DB_URL);
  admin.pathname = `/${name}`;
  const url = admin.toString();
  const env = { ...process.env, DATABASE_URL: url, DEMO_MODE: "0", LOG_LEVEL: "warn" };
  execFileSync(process.execPath, [...tsx, "scripts/db.ts", "migrate"], { env, stdio: "pipe" });
  execFileSync(process.execPath, [...tsx, "scripts/seed.ts"], { env, stdio: "pipe" });
  return url;
}

export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: ADMIN_DB_URL });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await client.end();
}

/** Resolves once a redis-server answers PING on `port` (5 s at most). */
export async function waitForRedis(port: number): Promise<void> {
  const client = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch {
      if (i > 50) throw new Error(`redis-server on ${port} did not start`);
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  client.disconnect();
}
/**
 * A private redis-server on a free port, for tests that flush or kill Redis. `port` starts it on a
 * given one instead (a restart after a kill, where every process still points at the old URL).
 */
export async function startPrivateRedis(options: { port?: number } = {}): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  const port = options.port ?? (await freePort());
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(port);
  return {
    url,
    port,
    stop: async () => {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

const entries = { web: "server.ts", relay: "workers/relay.ts", fanout: "workers/fanout.ts", channels: "workers/channels.ts" } as const;

function startProcess(part: keyof typeof entries, env: NodeJS.ProcessEnv, index: number, nodeArgs: string[] = [], output?: NodeJS.WritableStream): Promise<Proc> {
  const child = fork(entries[part], [], {
    execArgv: [...tsx, ...nodeArgs],
    env: { ...env, NOTIFY_SERVICE: `${part}-${index}`, ...(part === "web" ? { PORT: "0" } : {}) },
    stdio: ["ignore", output ? "pipe" : "inherit", output ? "pipe" : "inherit", "ipc"],
  });
  if (output) {
    // Written, not piped: a run that restarts processes many times would pile listeners on `output`.
    child.stdout?.on("data", (chunk: Buffer) => output.write(chunk));
    child.stderr?.on("data", (chunk: Buffer) => output.write(chunk));
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${part} did not become ready in 60 s`)), 60_000);
    child.on("message", (message: { type?: string; port?: number }) => {
      if (message.type !== "ready") return;
      clearTimeout(timer);
      resolve({ name: `${part}-${index}`, child, port: message.port, exited });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${part} exited with ${code} before it was ready`));
    });
  });
}

/**
 * `channelWorkers` defaults to 0: the routing tests look at decisions (`queued`) before any sender
 * acts on them; the channel tests start their own system with workers and stand-in providers.
 */
export type SystemOptions = {
  nodeArgs?: Partial<Record<keyof typeof entries, string[]>>;
  webNodes?: number;
  relays?: number;
  fanoutWorkers?: number;
  channelWorkers?: number;
  redisUrl?: string;
  databaseUrl?: string;
  env?: Record<string, string>;
  /** Where the processes' logs go (default: this process's stdout and stderr). */
  output?: NodeJS.WritableStream;
};

export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const redisUrl = options.redisUrl ?? "redis://127.0.0.1:6379";
  const redisPrefix = `t${randomBytes(4).toString("hex")}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    SERVICE_API_KEY: TEST_SERVICE_KEY,
    AUTH_SECRET: TEST_AUTH_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    // Tests never depend on a developer's .env: the demo shortcuts are off unless a test turns them on.
    DEMO_MODE: "0",
    OUTBOX_POLL_MS: "200",
    ...options.env,
  };
  const processes: Proc[] = [];
  const counters = { web: 0, relay: 0, fanout: 0, channels: 0 };
  const startPart = async (part: keyof typeof entries, envOverride: Record<string, string> = {}) => {
    const proc = await startProcess(part, { ...env, ...envOverride }, counters[part]++, options.nodeArgs?.[part], options.output);
    processes.push(proc);
    return proc;
  };
  const webs = await Promise.all(Array.from({ length: options.webNodes ?? 1 }, () => startPart("web")));
  await Promise.all([
    ...Array.from({ length: options.relays ?? 1 }, () => startPart("relay")),
    ...Array.from({ length: options.fanoutWorkers ?? 1 }, () => startPart("fanout")),
    ...Array.from({ length: options.channelWorkers ?? 0 }, () => startPart("channels")),
  ]);
  return {
    webUrls: webs.map((w) => `http://127.0.0.1:${w.port}`),
    databaseUrl,
    redisUrl,
    redisPrefix,
    serviceKey: TEST_SERVICE_KEY,
    authSecret: TEST_AUTH_SECRET,
    processes,
    env,
    startPart,
    stop: async () => {
      await Promise.all(
        processes.map(async (p) => {
          if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
          const timer = setTimeout(() => p.child.kill("SIGKILL"), 5000);
          await p.exited;
          clearTimeout(timer);
        }),
      );
      if (!options.databaseUrl) await dropTestDatabase(databaseUrl);
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${redisPrefix}:*`);
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      redis.disconnect();
    },
  };
}

/**
 * Points this process's own server modules at a running system (the code of a worker called in the
 * test or bench itself). Call before the first import of any server module: their settings are read
 * once. Answers a function that closes the connections those modules opened.
 */
export function useSystemInProcess(system: SystemInfo, env: Record<string, string> = {}): () => Promise<void> {
  Object.assign(process.env, {
    DATABASE_URL: system.databaseUrl,
    REDIS_URL: system.redisUrl,
    REDIS_PREFIX: system.redisPrefix,
    AUTH_SECRET: system.authSecret,
    SERVICE_API_KEY: system.serviceKey,
    ...env,
  });
  return async () => {
    const [{ closeDb }, { closeRedis }, { closePublisher }] = await Promise.all([import("@/server/db"), import("@/server/redis"), import("@/server/realtime/publish")]);
    await Promise.allSettled([closeDb(), closeRedis(), closePublisher()]);
  };
}

/**
 * A system without fan-out processes whose fan-out worker code runs in this test's own process
 * (useSystemInProcess with `env`), a pool of `poolSize` connections to its database and a service
 * client of its web node. `close` undoes it all.
 */
export async function startInProcessFanOut(env: Record<string, string> = {}, poolSize = 4) {
  const system = await startSystem({ webNodes: 1, relays: 0, fanoutWorkers: 0 });
  const closeModules = useSystemInProcess(system, env);
  const db = new pg.Pool({ connectionString: system.databaseUrl, max: poolSize });
  const close = async () => {
    await closeModules();
    await db.end();
    await system.stop();
  };
  try {
    const { fanOutTrigger } = await import("@/server/notifications/fan-out-trigger");
    const { serviceClient } = await import("./client");
    return { system, db, service: serviceClient(system.webUrls[0]!, system.serviceKey), fanOutTrigger, close };
  } catch (error) {
    await close();
    throw error;
  }
}
