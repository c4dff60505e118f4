// Runs this repository's Dockerfile and docker-compose.yml without Docker, for the machines that have
// none (CI's among them): the Dockerfile's instructions are carried out in a directory that stands for
// the image, and the compose services run as processes from it, with each service's environment as
// Compose would give it (the image's ENV, then env_file, then environment). What stays untested: the
// base image itself (its Node.js is this machine's, whose major version must match FROM) and the
// container network, which is replaced by rewriting `service:port` in the environment to local
// addresses. Only the instructions and keys these two files use are carried out; any other one fails
// loudly rather than being skipped.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseEnv } from "node:util";
import { parse } from "yaml";

/** A process's whole environment in a container: what the base image sets (PATH, HOME), then `env`. */
function containerEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as unknown as NodeJS.ProcessEnv;
}

export type Image = { dir: string; env: Record<string, string>; cmd: string[] };

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  return lines
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

/** `.dockerignore` as a predicate on paths relative to the build context. */
export function dockerignore(context: string): (path: string) => boolean {
  const file = join(context, ".dockerignore");
  const patterns = existsSync(file)
    ? readFileSync(file, "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    : [];
  if (patterns.some((p) => p.startsWith("!"))) throw new Error(".dockerignore exceptions (!) are not emulated");
  const regexes = patterns.map((p) => {
    const glob = p.replace(/^\/+|\/+$/g, "");
    const source = glob
      .split("/")
      .map((part) => (part === "**" ? ".*" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
      .join("/");
    // A pattern names a path and everything under it.
    return new RegExp(`^${source}(/.*)?$`);
  });
  return (path) => regexes.some((r) => r.test(path));
}

/**
 * Carries out the Dockerfile of `context` into `into`, the image's WORKDIR. RUN steps see only the
 * image's ENV (plus PATH and HOME, which the base image has), never this process's environment: a
 * build that needs a runtime variable fails here as it would in Docker.
 */
export function buildImage(context: string, into: string, log: (line: string) => void = () => undefined): Image {
  const image: Image = { dir: into, env: {}, cmd: [] };
  const ignored = dockerignore(context);
  let workdirSet = false;
  mkdirSync(into, { recursive: true });
  for (const { op, args } of instructions(readFileSync(join(context, "Dockerfile"), "utf8"))) {
    log(`${op} ${args}`);
    switch (op) {
      case "FROM": {
        const major = /^node:(\d+)/.exec(args)?.[1];
        if (!major) throw new Error(`FROM ${args}: only node:<major> base images are emulated`);
        if (major !== process.versions.node.split(".")[0]) throw new Error(`FROM ${args}, but this machine runs Node.js ${process.versions.node}`);
        break;
      }
      case "WORKDIR":
        if (workdirSet) throw new Error("a second WORKDIR is not emulated");
        workdirSet = true;
        break;
      case "ENV":
        for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) image.env[match[1]!] = match[3] ?? match[2]!;
        break;
      case "COPY": {
        if (args.startsWith("[") || args.startsWith("--")) throw new Error(`COPY ${args}: only the plain form is emulated`);
        const parts = args.split(/\s+/);
        const target = parts.pop()!;
        const dest = resolve(into, target);
        if (dest !== into && !dest.startsWith(`${into}/`)) throw new Error(`COPY to ${target}, outside the WORKDIR`);
        const intoDirectory = parts.length > 1 || target.endsWith("/") || target === ".";
        for (const source of parts) {
          const from = resolve(context, source);
          if (from !== context && ignored(relative(context, from))) throw new Error(`COPY ${source}: .dockerignore leaves it out of the context`);
          // A directory's contents go to the destination (as Docker copies them); a file goes into it, or becomes it.
          const to = statSync(from).isDirectory() || !intoDirectory ? dest : join(dest, basename(from));
          cpSync(from, to, { recursive: true, filter: (path) => path === from || !ignored(relative(context, path)) });
        }
        break;
      }
      case "RUN":
        execFileSync("sh", ["-c", args], {
          cwd: into,
          env: containerEnv(image.env),
          stdio: ["ignore", "pipe", "pipe"],
          maxBuffer: 64 * 1024 * 1024,
        });
        break;
      case "EXPOSE":
        // Documentation in Docker too: the compose file's ports decide what is published.
        break;
      case "CMD":
        image.cmd = JSON.parse(args) as string[];
        break;
      default:
        throw new Error(`Dockerfile instruction ${op} is not emulated`);
    }
  }
  if (!workdirSet) throw new Error("the Dockerfile sets no WORKDIR");
  return image;
}

export type DependsOn = Record<string, "service_started" | "service_completed_successfully" | "service_healthy">;

export type Service = {
  name: string;
  /** From the image built of the context (`build: .`), or a ready-made image (PostgreSQL, Redis). */
  image: string | null;
  command: string[] | null;
  env: Record<string, string>;
  dependsOn: DependsOn;
  replicas: number;
  /** "host:container" port pairs. */
  ports: string[];
  restart: string | null;
  healthcheck: Healthcheck | null;
};

export type Healthcheck = { test: string[]; intervalMs: number; timeoutMs: number; retries: number; startPeriodMs: number; startIntervalMs: number };

/** A Compose duration ("5s", "1m30s", "250ms") in ms. */
function duration(value: unknown, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const text = String(value);
  let ms = 0;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const rest = text.replace(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g, (_, n: string, unit: string) => ((ms += Number(n) * units[unit]!), ""));
  if (rest !== "" || text === "") throw new Error(`duration ${text} is not understood`);
  return ms;
}

function healthcheckOf(name: string, spec: Record<string, unknown> | undefined): Healthcheck | null {
  if (!spec || spec.disable === true) return null;
  const test = spec.test;
  let argv: string[];
  if (typeof test === "string") argv = ["sh", "-c", test];
  else if (Array.isArray(test) && test[0] === "CMD") argv = test.slice(1).map(String);
  else if (Array.isArray(test) && test[0] === "CMD-SHELL") argv = ["sh", "-c", String(test[1])];
  else throw new Error(`service ${name}: healthcheck test ${JSON.stringify(test)} is not emulated`);
  // Compose's defaults.
  return {
    test: argv,
    intervalMs: duration(spec.interval, 30_000),
    timeoutMs: duration(spec.timeout, 30_000),
    retries: Number(spec.retries ?? 3),
    startPeriodMs: duration(spec.start_period, 0),
    startIntervalMs: duration(spec.start_interval, 5_000),
  };
}

/** Compose interpolates `$VAR` and `${VAR}` in every value and reads `$$` as `$`; the file uses only `$$`. */
function interpolate(value: unknown, where: string): unknown {
  if (typeof value === "string") {
    if (/\$(?!\$)/.test(value.replace(/\$\$/g, ""))) throw new Error(`${where}: variable interpolation is not emulated (${value})`);
    return value.replace(/\$\$/g, "$");
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, `${where}[${i}]`));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, `${where}.${k}`)]));
  return value;
}

const KNOWN_KEYS = new Set(["build", "image", "profiles", "env_file", "environment", "command", "depends_on", "deploy", "ports", "restart", "volumes", "healthcheck"]);

/**
 * The services docker-compose.yml runs with these profiles (YAML anchors and merge keys resolved),
 * each with its environment as Compose computes it. `envFiles` maps an env_file path of the compose
 * file to the file to read instead (the adopter's `.env`).
 */
export function composeServices(file: string, options: { profiles: string[]; imageEnv: Record<string, string>; envFiles: Record<string, string> }): Service[] {
  const doc = interpolate(parse(readFileSync(file, "utf8"), { merge: true }), "docker-compose.yml") as { services: Record<string, Record<string, any>> };
  const services: Service[] = [];
  for (const [name, spec] of Object.entries(doc.services)) {
    const unknown = Object.keys(spec).filter((k) => !KNOWN_KEYS.has(k));
    if (unknown.length > 0) throw new Error(`service ${name}: keys not emulated: ${unknown.join(", ")}`);
    const profiles: string[] = spec.profiles ?? [];
    if (profiles.length > 0 && !profiles.some((p) => options.profiles.includes(p))) continue;
    if (spec.build !== undefined && spec.build !== ".") throw new Error(`service ${name}: only build: . is emulated`);
    const env: Record<string, string> = spec.build !== undefined ? { ...options.imageEnv } : {};
    for (const entry of spec.env_file ?? []) {
      const { path, required = true } = typeof entry === "string" ? { path: entry } : (entry as { path: string; required?: boolean });
      const actual = options.envFiles[path] ?? resolve(dirname(file), path);
      if (!existsSync(actual)) {
        if (required) throw new Error(`service ${name}: env_file ${path} is missing`);
        continue;
      }
      Object.assign(env, parseEnv(readFileSync(actual, "utf8")));
    }
    const environment = spec.environment ?? {};
    if (Array.isArray(environment)) {
      for (const item of environment as string[]) {
        const at = item.indexOf("=");
        if (at > 0) env[item.slice(0, at)] = item.slice(at + 1);
      }
    } else for (const [key, value] of Object.entries(environment)) if (value !== null) env[key] = String(value);
    if (spec.command !== undefined && !Array.isArray(spec.command)) throw new Error(`service ${name}: only the list form of command is emulated`);
    const dependsOn: DependsOn = {};
    if (Array.isArray(spec.depends_on)) for (const d of spec.depends_on as string[]) dependsOn[d] = "service_started";
    else for (const [d, v] of Object.entries(spec.depends_on ?? {})) dependsOn[d] = (v as { condition?: DependsOn[string] }).condition ?? "service_started";
    services.push({
      name,
      image: spec.build !== undefined ? null : String(spec.image),
      command: spec.command ?? null,
      env,
      dependsOn,
      replicas: spec.deploy?.replicas ?? 1,
      ports: (spec.ports ?? []).map(String),
      restart: spec.restart ?? null,
      healthcheck: healthcheckOf(name, spec.healthcheck),
    });
  }
  for (const s of services) {
    for (const d of Object.keys(s.dependsOn)) if (!services.some((x) => x.name === d)) throw new Error(`service ${s.name} depends on ${d}, which these profiles do not run`);
  }
  return services;
}

/** Rewrites every `scheme://[user@]service:port` in a value with `address(service, port)` ("host:port"). */
export function rewriteAddresses(value: string, address: (service: string, port: number) => string | null): string {
  return value.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s,/@]+@)?([A-Za-z0-9_-]+):(\d+)/g, (whole, scheme: string, user: string | undefined, host: string, port: string) => {
    const to = address(host, Number(port));
    return to === null ? whole : `${scheme}${user ?? ""}${to}`;
  });
}

export type Running = { service: string; replica: number; child: ChildProcess; output: string[]; exited: Promise<number | null> };

/** Starts one replica of a service from the image directory, in its own process group. */
export function startService(image: Image, service: Service, replica: number, env: Record<string, string>): Running {
  const command = service.command ?? image.cmd;
  const child = spawn(command[0]!, command.slice(1), {
    cwd: image.dir,
    env: containerEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { service: service.name, replica, child, output, exited };
}

/**
 * Resolves once the replica's healthcheck passes, run as Docker runs it: inside the container (here,
 * the image directory with the replica's environment), every start_interval during start_period, then
 * every interval; fails after `retries` failures in a row past start_period, or if the replica exits.
 */
export async function waitHealthy(image: Image, service: Service, running: Running, env: Record<string, string>): Promise<void> {
  const check = service.healthcheck;
  if (!check) throw new Error(`${service.name} has no healthcheck to wait for`);
  const started = Date.now();
  let failures = 0;
  for (;;) {
    if (running.child.exitCode !== null) throw new Error(`${service.name}#${running.replica} exited with ${running.child.exitCode} before it was healthy`);
    const passed = await new Promise<boolean>((resolve) => {
      const probe = spawn(check.test[0]!, check.test.slice(1), { cwd: image.dir, env: containerEnv(env), stdio: "ignore" });
      const timer = setTimeout(() => probe.kill("SIGKILL"), check.timeoutMs);
      probe.once("exit", (code) => (clearTimeout(timer), resolve(code === 0)));
      probe.once("error", () => (clearTimeout(timer), resolve(false)));
    });
    if (passed) return;
    const starting = Date.now() - started < check.startPeriodMs;
    if (!starting && ++failures >= check.retries) throw new Error(`${service.name}#${running.replica} is unhealthy: ${check.retries} failed checks in a row`);
    await new Promise((r) => setTimeout(r, starting ? check.startIntervalMs : check.intervalMs));
  }
}

/** Stops a replica and everything it started (npx, tsx): SIGTERM to its group, SIGKILL after `graceMs`. */
export async function stopService(running: Running, graceMs = 10_000): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-running.child.pid!, name);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), graceMs);
  await running.exited;
  clearTimeout(timer);
}
