// The emulation's own rules (docker-emulation.ts), on small files: what it reads as Compose and
// Docker do, and what it refuses rather than run differently.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { composeServices, dockerignore, rewriteAddresses } from "./docker-emulation";

const dir = mkdtempSync(join(tmpdir(), "notify-emulation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compose(text: string, envFiles: Record<string, string> = {}) {
  const file = join(dir, `compose-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  return composeServices(file, { profiles: ["cluster"], imageEnv: { NODE_ENV: "production", A: "image" }, envFiles });
}

describe("docker-compose.yml as the emulation reads it", () => {
  it("layers the image's ENV, then env_file, then environment, through merge keys", () => {
    const env = join(dir, "adopter.env");
    writeFileSync(env, "A=env-file\nB=env-file\n");
    const [app] = compose(
      `x: &app\n  build: .\n  env_file: [{ path: .env, required: false }]\n  environment: { B: base }\nservices:\n  app: { <<: *app, environment: { B: own, C: "3000" } }\n`,
      { ".env": env },
    );
    expect(app!.env).toEqual({ NODE_ENV: "production", A: "env-file", B: "own", C: "3000" });
  });

  it("skips a missing optional env_file and refuses a missing required one", () => {
    const optional = compose(`services:\n  app: { build: ., env_file: [{ path: nowhere.env, required: false }] }\n`);
    expect(optional[0]!.env).toEqual({ NODE_ENV: "production", A: "image" });
    expect(() => compose(`services:\n  app: { build: ., env_file: [nowhere.env] }\n`)).toThrow(/env_file nowhere.env is missing/);
  });

  it("reads $$ as $ and refuses other interpolation, which it does not emulate", () => {
    const [app] = compose(`services:\n  app: { build: ., command: ["sh", "-c", "echo $$HOME"] }\n`);
    expect(app!.command).toEqual(["sh", "-c", "echo $HOME"]);
    expect(() => compose(`services:\n  app: { build: ., environment: { X: "\${PORT}" } }\n`)).toThrow(/interpolation is not emulated/);
  });

  it("keeps only the active profiles' services, and refuses keys and dependencies it cannot honour", () => {
    const services = compose(`services:\n  db: { image: postgres:15 }\n  app: { build: ., profiles: [cluster], depends_on: { db: { condition: service_started } } }\n  other: { build: ., profiles: [other] }\n`);
    expect(services.map((s) => s.name)).toEqual(["db", "app"]);
    expect(() => compose(`services:\n  app: { build: ., network_mode: host }\n`)).toThrow(/keys not emulated: network_mode/);
    expect(() => compose(`services:\n  app: { build: ., depends_on: [other] }\n  other: { build: ., profiles: [other] }\n`)).toThrow(/depends on other/);
  });

  it("reads healthchecks in Compose's forms and durations", () => {
    const [app] = compose(`services:\n  app: { build: ., healthcheck: { test: ["CMD-SHELL", "true"], interval: 1m30s, start_period: 250ms } }\n`);
    expect(app!.healthcheck).toEqual({ test: ["sh", "-c", "true"], intervalMs: 90_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 250, startIntervalMs: 5_000 });
  });
});

describe("the rest", () => {
  it("rewrites service:port in URLs, with credentials and in lists, and leaves other hosts alone", () => {
    const address = (service: string, port: number) => (service === "web1" || service === "postgres" ? `127.0.0.1:${port + 1}` : null);
    expect(rewriteAddresses("http://web1:3000,http://web2:3000", address)).toBe("http://127.0.0.1:3001,http://web2:3000");
    expect(rewriteAddresses("postgresql://postgres@postgres:5432/notify", address)).toBe("postgresql://postgres@127.0.0.1:5433/notify");
    expect(rewriteAddresses("plain web1:3000", address)).toBe("plain web1:3000");
  });

  it("leaves out what .dockerignore names, and everything under it", () => {
    writeFileSync(join(dir, ".dockerignore"), "# comment\nnode_modules\n/.env\n*.log\n");
    const ignored = dockerignore(dir);
    expect(["node_modules", "node_modules/x/y.js", ".env", "debug.log"].filter(ignored)).toEqual(["node_modules", "node_modules/x/y.js", ".env", "debug.log"]);
    expect(["src/node_modules.ts", ".env.example", "logs/a.txt", "server.ts"].filter(ignored)).toEqual([]);
  });
});
