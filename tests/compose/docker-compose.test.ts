// The adopters' way to run the system: `docker compose --profile cluster up -d --build` with the
// two settings the README asks for in `.env`. This machine has no Docker, so the Dockerfile is carried
// out into a directory that stands for the image and the services run from it as processes
// (docker-emulation.ts), on this machine's PostgreSQL (a fresh database) and a private Redis. Then a
// trigger through the proxy must reach a socket connected through the proxy.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDevice, eventually, request, serviceClient, uniqueId } from "../system/client";
import { ADMIN_DB_URL, dropTestDatabase, freePort, startPrivateRedis } from "../system/start-system";
import { buildImage, composeServices, rewriteAddresses, startService, stopService, waitHealthy, type Image, type Running, type Service } from "./docker-emulation";

const root = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const AUTH_SECRET = "compose-test-auth-secret-0123456789-0123456789";
const SERVICE_API_KEY = "compose-test-service-key-0123456789";

let work: string;
let image: Image;
let services: Service[];
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let databaseUrl: string;
const running: Running[] = [];
let proxyUrl: string;

/** Every replica's output, for a failure's message. */
const outputOf = (r: Running) => `--- ${r.service}#${r.replica} ---\n${r.output.join("").slice(-4000)}`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "notify-compose-"));
  image = buildImage(root, join(work, "app"), (line) => console.log(`[docker build] ${line}`));
  // What the README asks adopters to put in `.env` before `docker compose --profile cluster up`.
  const envFile = join(work, ".env");
  writeFileSync(envFile, `AUTH_SECRET=${AUTH_SECRET}\nSERVICE_API_KEY=${SERVICE_API_KEY}\n`);
  services = composeServices(join(root, "docker-compose.yml"), { profiles: ["cluster"], imageEnv: image.env, envFiles: { ".env": envFile } });

  redis = await startPrivateRedis();
  const dbName = `notify_compose_${Date.now().toString(36)}`;
  const db = new URL(ADMIN_DB_URL);
  db.pathname = `/${dbName}`;
  databaseUrl = db.toString();

  // The container network: each service's host name and port, as local addresses.
  const ports = new Map<string, number>();
  for (const s of services) if (s.image === null) for (let i = 0; i < s.replicas; i++) ports.set(`${s.name}#${i}`, await freePort());
  const address = (service: string, port: number): string | null => {
    const s = services.find((x) => x.name === service);
    if (!s) return null;
    if (s.image?.startsWith("postgres:") && port === 5432) return "127.0.0.1:5432";
    if (s.image?.startsWith("redis:") && port === 6379) return `127.0.0.1:${redis.port}`;
    if (s.image !== null) throw new Error(`${service}:${port} is not emulated`);
    if (s.replicas !== 1) throw new Error(`${service} has ${s.replicas} replicas: its address is not one process`);
    if (Number(s.env.PORT) !== port) throw new Error(`${service} listens on ${s.env.PORT}, not ${port}`);
    return `127.0.0.1:${ports.get(`${service}#0`)}`;
  };
  const envOf = (s: Service, replica: number): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(s.env)) env[key] = rewriteAddresses(value, address);
    if (env.DATABASE_URL) {
      // The compose file's database, renamed to this run's fresh one.
      const url = new URL(env.DATABASE_URL);
      expect(url.host).toBe("127.0.0.1:5432");
      url.pathname = `/${dbName}`;
      env.DATABASE_URL = url.toString();
    }
    env.PORT = String(ports.get(`${s.name}#${replica}`));
    return env;
  };

  // Started in dependency order, as Compose does; a one-off that others wait for must succeed.
  const started = new Set(services.filter((s) => s.image !== null).map((s) => s.name));
  while (started.size < services.length) {
    const ready = services.filter((s) => !started.has(s.name) && Object.keys(s.dependsOn).every((d) => started.has(d)));
    if (ready.length === 0) throw new Error("docker-compose.yml's depends_on has a cycle");
    for (const s of ready) {
      for (const [dependency, condition] of Object.entries(s.dependsOn)) {
        const replicas = running.filter((r) => r.service === dependency);
        if (condition === "service_completed_successfully") {
          const codes = await Promise.all(replicas.map((r) => Promise.race([r.exited, new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), 180_000))])));
          if (codes.some((c) => c !== 0)) throw new Error(`${dependency} ended with ${codes.join(", ")}; ${s.name} waits for its success\n${replicas.map(outputOf).join("\n")}`);
        } else if (condition === "service_healthy") {
          const spec = services.find((x) => x.name === dependency)!;
          await Promise.all(replicas.map((r) => waitHealthy(image, spec, r, envOf(spec, r.replica)))).catch((error: Error) => {
            throw new Error(`${error.message}; ${s.name} waits for it\n${replicas.map(outputOf).join("\n")}`);
          });
        }
      }
      for (let i = 0; i < s.replicas; i++) running.push(startService(image, s, i, envOf(s, i)));
      started.add(s.name);
    }
  }
  const proxy = services.find((s) => s.ports.some((p) => p.split(":")[1] === s.env.PORT));
  if (!proxy) throw new Error("no service publishes the port it listens on");
  proxyUrl = `http://127.0.0.1:${ports.get(`${proxy.name}#0`)}`;
  await eventually(
    async () => {
      const early = running.find((r) => r.child.exitCode !== null && r.service !== "migrate");
      if (early) throw new Error(`${early.service}#${early.replica} exited with ${early.child.exitCode}\n${outputOf(early)}`);
      const health = await request(`${proxyUrl}/api/health`).catch(() => null);
      return health?.status === 200 ? health : undefined;
    },
    120_000,
    "the proxy's /api/health to answer 200",
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${running.map(outputOf).join("\n")}`);
  });
}, 900_000);

afterAll(async () => {
  await Promise.all(running.map((r) => stopService(r)));
  await redis?.stop();
  if (databaseUrl) await dropTestDatabase(databaseUrl).catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("docker-compose.yml, cluster profile, from the Dockerfile's image", () => {
  it("runs two web nodes behind the proxy and two of each worker, every one from the image", () => {
    const count = (name: string) => running.filter((r) => r.service === name && r.child.exitCode === null).length;
    expect(services.filter((s) => s.image !== null).map((s) => s.image)).toEqual(["postgres:15", "redis:7"]);
    expect({ web1: count("web1"), web2: count("web2"), proxy: count("proxy"), relay: count("relay"), fanout: count("fanout"), channels: count("channels") }).toEqual({
      web1: 1,
      web2: 1,
      proxy: 1,
      relay: 2,
      fanout: 2,
      channels: 2,
    });
    expect(running.find((r) => r.service === "migrate")?.child.exitCode).toBe(0);
    // The proxy started only once both web nodes' healthchecks had passed.
    expect(services.find((s) => s.name === "proxy")?.dependsOn).toEqual({ web1: "service_healthy", web2: "service_healthy" });
    expect(image.env.NODE_ENV).toBe("production");
  });

  it("delivers a trigger sent through the proxy to a socket connected through the proxy, and keeps it in the inbox", async () => {
    const service = serviceClient(proxyUrl, SERVICE_API_KEY);
    const userId = uniqueId("compose-user");
    const token = await service.token(userId);
    const device = await connectDevice(proxyUrl, token);
    try {
      const reply = await service.trigger({ type: "comment", to: [userId], title: "From the compose layout", body: "Hello" });
      expect(reply.status).toBe(202);
      const event = await device.waitFor("notification:new", (p) => p.title === "From the compose layout", 60_000);
      expect(event.body).toBe("Hello");
      const inbox = await request(`${proxyUrl}/api/notifications`, { token });
      expect(inbox.status).toBe(200);
      expect(inbox.body.notifications.map((n: { title: string }) => n.title)).toContain("From the compose layout");
    } finally {
      device.close();
    }
  }, 120_000);

  it("refuses the API without the service key from `.env`", async () => {
    const reply = await request(`${proxyUrl}/api/v1/notifications`, { method: "POST", token: "not-the-key-0123456789", body: { type: "comment", to: ["x"] } });
    expect(reply.status).toBe(401);
    expect(reply.body.error.code).toBeTypeOf("string");
  });
});
