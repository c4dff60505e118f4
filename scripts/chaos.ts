// npm run chaos -- [--duration 60] [--rate 20] [--users 200] [--seed N] [--web 2] [--workers 2]
//                  [--faults fanout,channels,relay,web,redis,providers] [--drain-timeout 300] [--log FILE] [--keep]
// Starts the real system (web nodes, relays, fan-out and channel workers as processes) on a fresh
// database and a PRIVATE redis-server, with local stand-ins for the email API, the SMS API and a web
// push service. It sends a steady stream of triggers (explicit lists and topics; an in-app-only type
// and one that also goes out by push, email and SMS) with an Idempotency-Key, retrying with the same
// key after a network error, a timeout, a 429 or a 5xx, as a real service would. Meanwhile it SIGKILLs
// and restarts workers, relays and web nodes, kills Redis and starts it again on the same port (empty:
// it keeps nothing), and makes the email and SMS providers fail for a few seconds. When the load stops
// it waits for the system to drain, then checks: every accepted trigger (a 202/200 came back) reached
// every recipient's inbox exactly once (PostgreSQL), and every push, email and SMS that the type and
// the recipient's preferences and addresses call for reached the provider stand-in exactly once. It
// prints the counts and exits 1 on any loss, duplicate or unexpected delivery.
//
// The seed drives everything random (users, topics, the load and the faults): a failing run can be
// repeated with the seed it printed, although the timing of the faults against the load cannot.
import { createWriteStream, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import pg from "pg";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import webpush from "web-push";
import { pushSubscription, request } from "../tests/system/client";
import { startProviderStandIns } from "../tests/system/provider-stand-ins";
import { selfSignedCertificate, startPushService } from "../tests/system/push-service-stand-in";
import { createTestDatabase, dropTestDatabase, startPrivateRedis, startSystem, type Proc } from "../tests/system/start-system";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    rate: { type: "string", default: "20" },
    users: { type: "string", default: "200" },
    seed: { type: "string" },
    web: { type: "string", default: "2" },
    workers: { type: "string", default: "2" },
    "drain-timeout": { type: "string", default: "300" },
    faults: { type: "string", default: "fanout,channels,relay,web,redis,providers" },
    log: { type: "string" },
    keep: { type: "boolean", default: false },
    // Not in the README: proves the checks can fail (deletes one inbox row and fakes one duplicate
    // email before verifying; the run must then exit 1).
    "self-check": { type: "boolean", default: false },
  },
});
const durationS = Number(values.duration);
const rate = Number(values.rate);
const userCount = Number(values.users);
const webCount = Number(values.web);
const workerCount = Number(values.workers);
const drainTimeoutS = Number(values["drain-timeout"]);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
for (const [name, value, min] of [
  ["duration", durationS, 1],
  ["rate", rate, 0.1],
  ["users", userCount, 20],
  ["web", webCount, 1],
  ["workers", workerCount, 1],
  ["drain-timeout", drainTimeoutS, 10],
  ["seed", seed, 0],
] as const) {
  if (!Number.isFinite(value) || value < min) {
    console.error(`--${name} must be a number of at least ${min}`);
    process.exit(2);
  }
}
const logFile = values.log ?? `/tmp/chaos-${seed}.log`;
const ALL_FAULTS: FaultKind[] = ["fanout", "channels", "relay", "web", "redis", "providers"];
const FAULT_KINDS = values.faults.split(",").filter(Boolean) as FaultKind[];
if (FAULT_KINDS.some((k) => !ALL_FAULTS.includes(k))) {
  console.error(`--faults takes a comma-separated list of ${ALL_FAULTS.join(", ")}`);
  process.exit(2);
}

// --- randomness -------------------------------------------------------------------------------------

/** mulberry32: small, fast and seedable; one stream per concern, so timing does not shift the others. */
function rng(seedValue: number) {
  let a = seedValue >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!,
    shuffle: <T>(list: readonly T[]) => {
      const copy = [...list];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy;
    },
  };
}
const setupRandom = rng(seed);
const loadRandom = rng(seed ^ 0x5bd1e995);
const faultRandom = rng(seed ^ 0x1b873593);

const runStart = Date.now();
const stamp = () => `[+${((Date.now() - runStart) / 1000).toFixed(1).padStart(6)}s]`;
const say = (line: string) => console.log(`${stamp()} ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- the system -------------------------------------------------------------------------------------

if (!existsSync(".next/BUILD_ID")) {
  console.log("building the web app first (npm run build) …");
  execFileSync("npm", ["run", "build"], { stdio: "inherit" });
}

console.log(`chaos: seed ${seed}, ${durationS} s at ${rate} triggers/s, ${userCount} users, ${webCount} web nodes, ${workerCount} of each worker; process logs in ${logFile}`);
const output = createWriteStream(logFile);
const EMAIL_KEY = "re_chaos_key";
const SMS = { sid: "ACchaos", token: "chaos-sms-token" };
const providers = await startProviderStandIns({ emailKey: EMAIL_KEY, smsSid: SMS.sid, smsToken: SMS.token });
const cert = selfSignedCertificate();
const push = await startPushService(cert);
const vapid = webpush.generateVAPIDKeys();
let redis = await startPrivateRedis();
let redisDown = false;
const databaseUrl = await createTestDatabase("notify_chaos");
const systemEnv = {
  LOG_LEVEL: "warn",
  RESEND_API_KEY: EMAIL_KEY,
  RESEND_BASE_URL: providers.url,
  EMAIL_FROM: "Notify <notify@example.com>",
  SMS_BASE_URL: providers.url,
  SMS_ACCOUNT_SID: SMS.sid,
  SMS_AUTH_TOKEN: SMS.token,
  SMS_FROM: "+15005550006",
  VAPID_PUBLIC_KEY: vapid.publicKey,
  VAPID_PRIVATE_KEY: vapid.privateKey,
  VAPID_SUBJECT: "mailto:ops@example.com",
  NODE_EXTRA_CA_CERTS: cert.certFile,
  PUBLIC_URL: "https://notify.test",
  // The providers' own limits are not under test here: high enough never to hold the load back.
  EMAIL_RATE_PER_SECOND: "2000",
  SMS_RATE_PER_SECOND: "2000",
  // Recovery sooner than the production defaults, so a run drains in a minute or two: the same
  // paths, only shorter waits (a lost fan-out or delivery job is queued again after these).
  OUTBOX_GRACE_MS: "2000",
  OUTBOX_REDELIVER_MS: "5000",
  DELIVERY_REDELIVER_MS: "10000",
  FANOUT_LOCK_MS: "10000",
  CHANNEL_BACKOFF_MS: "300",
  CHANNEL_BACKOFF_MAX_MS: "5000",
  PROVIDER_TIMEOUT_MS: "5000",
  OUTBOX_POLL_MS: "500",
};
const system = await startSystem({
  redisUrl: redis.url,
  databaseUrl,
  webNodes: webCount,
  relays: workerCount,
  fanoutWorkers: workerCount,
  channelWorkers: workerCount,
  env: systemEnv,
  output,
});
const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
say(`system up: ${system.processes.map((p) => p.name).join(", ")}; private Redis on port ${redis.port}`);

/** Web nodes that take load now (a killed one leaves this list until its replacement is ready). */
let webUrls = [...system.webUrls];
const webOf = new Map<Proc, string>(system.processes.filter((p) => p.name.startsWith("web")).map((p) => [p, `http://127.0.0.1:${p.port}`]));
let nextWeb = 0;
const pickWeb = () => (webUrls.length ? webUrls[nextWeb++ % webUrls.length]! : null);

// Every process that exits without being killed here is reported and restarted, as a supervisor would.
const plannedKills = new Set<Proc>();
/** Restarts still under way; the drain waits for them. */
const restarts = new Set<Promise<void>>();
const unplannedExits: string[] = [];
let shuttingDown = false;
function supervise(proc: Proc): void {
  void proc.exited.then(async (code) => {
    if (plannedKills.has(proc) || shuttingDown) return;
    unplannedExits.push(`${proc.name} (exit ${code ?? proc.child.signalCode})`);
    webUrls = webUrls.filter((u) => u !== webOf.get(proc));
    say(`!! ${proc.name} exited by itself (${code ?? proc.child.signalCode}); restarting it`);
    const restarting = restart(proc).then(() => undefined);
    restarts.add(restarting);
    void restarting.finally(() => restarts.delete(restarting));
  });
}
async function restart(proc: Proc): Promise<Proc | null> {
  const part = proc.name.replace(/-\d+$/, "") as "web" | "relay" | "fanout" | "channels";
  for (let tries = 0; tries < 5 && !shuttingDown; tries++) {
    try {
      const fresh = await system.startPart(part);
      supervise(fresh);
      if (part === "web") {
        const url = `http://127.0.0.1:${fresh.port}`;
        webOf.set(fresh, url);
        webUrls.push(url);
      }
      return fresh;
    } catch (error) {
      say(`!! ${part} did not start (${(error as Error).message}); trying again`);
      await sleep(1000);
    }
  }
  return null;
}
for (const proc of system.processes) supervise(proc);

// --- users, types and topics, through the real API --------------------------------------------------

const service = (method: string, path: string, body?: unknown) => request(`${system.webUrls[0]}${path}`, { method, token: system.serviceKey, body });
async function must(what: string, reply: Promise<{ status: number; body: unknown }>): Promise<any> {
  const r = await reply;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const RUN = `c${seed.toString(36)}`;
const INBOX_TYPE = "chaos_inbox";
const ALL_TYPE = "chaos_all";
// No aggregation, batching windows, limits or quiet hours: each trigger is one notification per
// recipient and one send per channel, so what to expect is exact.
await must(
  "type chaos_inbox",
  service("PUT", `/api/v1/admin/types/${INBOX_TYPE}`, { name: "Chaos: inbox only", category: "chaos", priority: "normal", channels: ["in_app"], templates: { in_app: { title: "Inbox {{ data.ref }}", body: "" } } }),
);
await must(
  "type chaos_all",
  service("PUT", `/api/v1/admin/types/${ALL_TYPE}`, {
    name: "Chaos: every channel",
    category: "chaos",
    priority: "high",
    channels: ["in_app", "push", "email", "sms"],
    respectQuietHours: false,
    templates: {
      in_app: { title: "All {{ data.ref }}", body: "" },
      push: { title: "Chaos", body: "{{ data.ref }}" },
      email: { subject: "Chaos {{ data.ref }}", html: "<p>{{ data.ref }}</p>", text: "{{ data.ref }}" },
      sms: { body: "Chaos {{ data.ref }}" },
    },
  }),
);

type User = { id: string; email: string | null; emailMuted: boolean; phone: string | null; smsOn: boolean; device: string | null };
const users: User[] = Array.from({ length: userCount }, (_, i) => {
  const hasPhone = setupRandom.next() < 0.4;
  return {
    id: `${RUN}-u${i}`,
    email: setupRandom.next() < 0.85 ? `${RUN}-u${i}@example.com` : null,
    emailMuted: setupRandom.next() < 0.15,
    phone: hasPhone ? `+1555${String(1_000_000 + i).slice(1)}` : null,
    // Some with a phone keep SMS off (the default): channel_disabled, not sent.
    smsOn: hasPhone ? setupRandom.next() < 0.6 : setupRandom.next() < 0.3,
    device: setupRandom.next() < 0.5 ? "pending" : null,
  };
});
const userById = new Map(users.map((u) => [u.id, u]));
const userByEmail = new Map(users.filter((u) => u.email).map((u) => [u.email!, u]));
const userByPhone = new Map(users.filter((u) => u.phone).map((u) => [u.phone!, u]));
const userByDevice = new Map<string, User>();

async function setUpUser(user: User): Promise<void> {
  await must(`user ${user.id}`, service("PUT", `/api/v1/users/${user.id}`, { name: user.id, email: user.email, phone: user.phone }));
  if (!user.emailMuted && !user.smsOn && !user.device) return;
  const { token } = await must(`token ${user.id}`, service("POST", `/api/v1/users/${user.id}/token`, {}));
  const as = (method: string, path: string, body: unknown) => request(`${system.webUrls[0]}${path}`, { method, token, body });
  const preferences: Record<string, unknown> = {};
  if (user.smsOn) preferences.channels = { sms: true };
  if (user.emailMuted) preferences.types = { [ALL_TYPE]: { email: false } };
  if (Object.keys(preferences).length) await must(`preferences ${user.id}`, as("PUT", "/api/preferences", preferences));
  if (user.device) {
    const device = pushSubscription(push.origin);
    push.subscribe(device.subscription.endpoint, device.ecdh, device.authSecret);
    await must(`device ${user.id}`, as("POST", "/api/push-subscriptions", { ...device.subscription, deviceId: `${user.id}-phone` }));
    user.device = push.idOf(device.subscription.endpoint);
    userByDevice.set(user.device, user);
  }
}
for (let i = 0; i < users.length; i += 10) await Promise.all(users.slice(i, i + 10).map(setUpUser));

const TOPIC_COUNT = 4;
const topics = new Map<string, string[]>();
for (let t = 0; t < TOPIC_COUNT; t++) {
  const key = `${RUN}-topic${t}`;
  const members = users.filter(() => setupRandom.next() < 0.12).map((u) => u.id);
  if (members.length === 0) members.push(users[t]!.id);
  await must(`topic ${key}`, service("PUT", `/api/v1/topics/${key}/subscribers`, { userIds: members }));
  topics.set(key, members);
}
say(
  `set up ${users.length} users (${users.filter((u) => u.email).length} with email, ${users.filter((u) => u.emailMuted).length} muting it for ${ALL_TYPE}, ` +
    `${users.filter((u) => u.phone && u.smsOn).length} with SMS on and a phone, ${userByDevice.size} with a push device) and ${TOPIC_COUNT} topics of ${[...topics.values()].map((m) => m.length).join("/")}`,
);

// --- what each trigger should reach -----------------------------------------------------------------

type Channel = "in_app" | "push" | "email" | "sms";
const SENT_CHANNELS = ["push", "email", "sms"] as const;
/** What the type, the recipient's addresses and preferences say (decide-delivery's rules). */
function expectedChannels(type: string, user: User): Channel[] {
  if (type === INBOX_TYPE) return ["in_app"];
  const channels: Channel[] = ["in_app"];
  if (user.device) channels.push("push");
  if (user.email && !user.emailMuted) channels.push("email");
  if (user.phone && user.smsOn) channels.push("sms");
  return channels;
}

// --- the load -----------------------------------------------------------------------------------------

type Sent = { ref: string; type: string; recipients: string[]; body: Record<string, unknown> };
type Outcome = { sent: Sent; triggerId: string | null; status: number | null; attempts: number; error?: string; acceptedAfterMs?: number };
const outcomes: Outcome[] = [];
const inFlight = new Set<Promise<void>>();
const clientStats = { requests: 0, retries: 0, networkErrors: 0, timeouts: 0, status5xx: 0, status429: 0 };

function nextTrigger(n: number): Sent {
  const ref = `${RUN}-t${n}`;
  const type = loadRandom.next() < 0.5 ? INBOX_TYPE : ALL_TYPE;
  const priority = loadRandom.pick(["low", "normal", "high", "urgent"] as const);
  if (loadRandom.next() < 0.25) {
    const topic = loadRandom.pick([...topics.keys()]);
    return { ref, type, recipients: topics.get(topic)!, body: { type, to: { topic }, priority, actor: { id: "chaos", name: "Chaos" }, data: { ref } } };
  }
  const count = loadRandom.int(1, 8);
  const recipients = new Set<string>();
  while (recipients.size < count) recipients.add(loadRandom.pick(users).id);
  return { ref, type, recipients: [...recipients], body: { type, to: [...recipients], priority, actor: { id: "chaos", name: "Chaos" }, data: { ref } } };
}

/** One trigger as a careful service sends it: the same key and body until it gets an answer. */
async function submit(sent: Sent): Promise<void> {
  const outcome: Outcome = { sent, triggerId: null, status: null, attempts: 0 };
  outcomes.push(outcome);
  const payload = JSON.stringify(sent.body);
  const began = Date.now();
  const giveUpAt = began + 120_000;
  for (;;) {
    const url = pickWeb();
    if (url) {
      outcome.attempts++;
      clientStats.requests++;
      if (outcome.attempts > 1) clientStats.retries++;
      try {
        const response = await fetch(`${url}/api/v1/notifications`, {
          method: "POST",
          headers: { authorization: `Bearer ${system.serviceKey}`, "content-type": "application/json", "idempotency-key": sent.ref },
          body: payload,
          signal: AbortSignal.timeout(20_000),
        });
        const text = await response.text();
        outcome.status = response.status;
        if (response.status === 202 || response.status === 200) {
          outcome.triggerId = (JSON.parse(text) as { id: string }).id;
          outcome.acceptedAfterMs = Date.now() - began;
          return;
        }
        if (response.status === 429) clientStats.status429++;
        else if (response.status >= 500) clientStats.status5xx++;
        else {
          // Anything else (409, 422, …) is final: a bug in the system or in this script.
          outcome.error = text.slice(0, 300);
          return;
        }
      } catch (error) {
        if ((error as Error).name === "TimeoutError") clientStats.timeouts++;
        else clientStats.networkErrors++;
        outcome.error = (error as Error).message;
      }
    }
    if (Date.now() > giveUpAt) return;
    await sleep(Math.min(5000, 100 * 2 ** Math.min(outcome.attempts, 6)) * (0.5 + Math.random()));
  }
}

async function runLoad(): Promise<void> {
  const started = Date.now();
  let n = 0;
  while (Date.now() - started < durationS * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (n < due) {
      const task = submit(nextTrigger(n++)).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    await sleep(10);
  }
}

// --- the faults ---------------------------------------------------------------------------------------

type FaultKind = "fanout" | "channels" | "relay" | "web" | "redis" | "providers";
const faults: { at: string; atMs: number; kind: FaultKind; what: string }[] = [];
let loadRunning = true;
/** When the current fault struck (the SIGKILL, or the provider starting to fail). */
let struckAt = 0;

const alive = (part: string) => system.processes.filter((p) => p.name.startsWith(`${part}-`) && p.child.exitCode === null && p.child.signalCode === null && !plannedKills.has(p));

/**
 * SIGKILLs one process of the part and starts a new one after a while, in the background: the next
 * fault does not wait for it, so faults overlap (both fan-out workers may be down at once).
 */
async function killAndRestart(part: "fanout" | "channels" | "relay" | "web"): Promise<string> {
  const victims = alive(part);
  if (victims.length === 0) return `no ${part} alive to kill`;
  const victim = faultRandom.pick(victims);
  plannedKills.add(victim);
  if (part === "web") webUrls = webUrls.filter((u) => u !== webOf.get(victim));
  struckAt = Date.now();
  victim.child.kill("SIGKILL");
  await victim.exited;
  const downMs = faultRandom.int(200, part === "web" ? 4000 : 3000);
  say(`fault: SIGKILL ${victim.name} (pid ${victim.child.pid}); restarting in ${downMs} ms`);
  const restarting = (async () => {
    await sleep(downMs);
    const started = Date.now();
    const fresh = await restart(victim);
    say(`       ${fresh ? `${fresh.name} replaces ${victim.name}, ready ${Date.now() - started} ms after its start` : `${victim.name} NOT replaced`}`);
  })();
  restarts.add(restarting);
  void restarting.finally(() => restarts.delete(restarting));
  return `SIGKILL ${victim.name}, restarted after ${downMs} ms`;
}

async function injectFault(kind: FaultKind): Promise<string> {
  if (kind === "redis") {
    const downMs = faultRandom.int(1000, 5000);
    redisDown = true;
    struckAt = Date.now();
    await redis.stop();
    say(`fault: SIGKILL redis-server on port ${redis.port} (all queues and caches lost); restarting in ${downMs} ms`);
    await sleep(downMs);
    redis = await startPrivateRedis({ port: redis.port });
    redisDown = false;
    return `SIGKILL Redis, down ${downMs} ms, restarted empty on the same port`;
  }
  if (kind === "providers") {
    const downMs = faultRandom.int(1000, 4000);
    struckAt = Date.now();
    providers.failWith("email", { status: 503 });
    providers.failWith("sms", { status: 503 });
    say(`fault: email and SMS providers answer 503 for ${downMs} ms`);
    await sleep(downMs);
    providers.failWith("email", null);
    providers.failWith("sms", null);
    return `email and SMS providers 503 for ${downMs} ms`;
  }
  return killAndRestart(kind);
}

async function runFaults(): Promise<void> {
  // Rounds of every kind in a random order, so even a short run meets each of them.
  let round: FaultKind[] = [];
  // Not in the first seconds: let the load reach its pace first.
  await sleep(faultRandom.int(2000, 4000));
  while (loadRunning && FAULT_KINDS.length) {
    if (round.length === 0) round = faultRandom.shuffle(FAULT_KINDS);
    const kind = round.shift()!;
    const what = await injectFault(kind);
    faults.push({ at: `[+${((struckAt - runStart) / 1000).toFixed(1).padStart(6)}s]`, atMs: struckAt, kind, what });
    if (kind === "redis" || kind === "providers") say(`       ${what}`);
    const gap = faultRandom.int(1500, 5000);
    const until = Date.now() + gap;
    while (loadRunning && Date.now() < until) await sleep(100);
  }
}

// --- drain and verify ------------------------------------------------------------------------------------

async function drainState() {
  const { rows } = await db.query<{ outbox: number; pending: number; running: number }>(
    `SELECT (SELECT count(*)::int FROM outbox WHERE done_at IS NULL) AS outbox,
            (SELECT count(*)::int FROM deliveries WHERE status IN ('queued', 'deferred', 'batched')) AS pending,
            (SELECT count(*)::int FROM triggers WHERE status NOT IN ('completed', 'failed', 'cancelled')) AS running`,
  );
  const connection = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  connection.on("error", () => undefined);
  let jobs = 0;
  try {
    await connection.connect();
    for (const name of ["{fanout}", "{push}", "{email}", "{sms}"]) {
      const queue = new Queue(name, { connection, prefix: `${system.redisPrefix}:bull` });
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children");
      jobs += Object.values(counts).reduce((a, b) => a + b, 0);
      await queue.close();
    }
    // Small triggers waiting on the fan-out's fast path (server/queues.ts).
    for (const priority of ["urgent", "high", "normal", "low"]) jobs += await connection.zcard(`${system.redisPrefix}:{fanout}:fast:${priority}`);
  } finally {
    connection.disconnect();
  }
  return { ...rows[0]!, jobs };
}

async function drain(): Promise<{ drained: boolean; seconds: number; last: Awaited<ReturnType<typeof drainState>> | null }> {
  const started = Date.now();
  let last: Awaited<ReturnType<typeof drainState>> | null = null;
  let lastReport = 0;
  while (Date.now() - started < drainTimeoutS * 1000) {
    last = await drainState().catch(() => null);
    if (last && last.outbox === 0 && last.pending === 0 && last.running === 0 && last.jobs === 0) return { drained: true, seconds: (Date.now() - started) / 1000, last };
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      say(`draining: ${last ? `${last.outbox} outbox rows not done, ${last.running} triggers running, ${last.pending} deliveries pending, ${last.jobs} queued jobs` : "state not readable"}`);
    }
    await sleep(1000);
  }
  return { drained: false, seconds: (Date.now() - started) / 1000, last };
}

type Tally = { expected: number; found: number; missing: number; duplicated: number; unexpected: number };
const tally = (): Tally => ({ expected: 0, found: 0, missing: 0, duplicated: 0, unexpected: 0 });
const pairKey = (ref: string, userId: string) => `${ref}|${userId}`;

/** Compares what should have arrived with how often it did; fills `samples` with a few offenders. */
function compare(expected: Set<string>, seen: Map<string, number>, samples: string[], label: string): Tally {
  const t = tally();
  t.expected = expected.size;
  for (const key of expected) {
    const n = seen.get(key) ?? 0;
    if (n >= 1) t.found++;
    if (n === 0) {
      t.missing++;
      if (samples.length < 20) samples.push(`${label} missing: ${key}`);
    }
    if (n > 1) {
      t.duplicated += n - 1;
      if (samples.length < 20) samples.push(`${label} ${n}×: ${key}`);
    }
  }
  for (const [key, n] of seen) {
    if (!expected.has(key)) {
      t.unexpected += n;
      if (samples.length < 20) samples.push(`${label} unexpected: ${key}`);
    }
  }
  return t;
}

// --- the run -----------------------------------------------------------------------------------------------

let exitCode = 1;
const stopEverything = async () => {
  shuttingDown = true;
  // The harness's stop deletes this run's keys, which needs Redis up.
  if (redisDown) redis = await startPrivateRedis({ port: redis.port });
  await db.end().catch(() => undefined);
  await system.stop().catch((error: unknown) => console.error(`stopping the system: ${(error as Error).message}`));
  if (!values.keep) await dropTestDatabase(databaseUrl).catch(() => undefined);
  await redis.stop().catch(() => undefined);
  await providers.stop();
  await push.stop();
  output.end();
};
process.once("SIGINT", () => {
  console.log("interrupted: stopping the system");
  void stopEverything().finally(() => process.exit(130));
});

try {
  say(`load: ${rate} triggers/s for ${durationS} s, with faults`);
  const faulting = runFaults();
  await runLoad();
  loadRunning = false;
  say(`load stopped after ${outcomes.length} triggers; waiting for the fault in progress, the restarts and ${inFlight.size} requests still retrying`);
  await faulting;
  while (restarts.size) await Promise.all([...restarts]);
  await Promise.all([...inFlight]);

  say(`draining (at most ${drainTimeoutS} s) …`);
  const drained = await drain();
  say(drained.drained ? `drained in ${drained.seconds.toFixed(1)} s` : `NOT drained after ${drained.seconds.toFixed(0)} s: ${JSON.stringify(drained.last)}`);
  // Anything still on its way to a provider lands before we count.
  await sleep(2000);

  const accepted = outcomes.filter((o) => o.triggerId);
  const refused = outcomes.filter((o) => !o.triggerId && o.error !== undefined && o.status !== null && o.status < 500 && o.status !== 429);
  const unanswered = outcomes.filter((o) => !o.triggerId && !refused.includes(o));

  if (values["self-check"]) {
    const victim = accepted[0]!;
    const { rowCount } = await db.query("DELETE FROM notifications WHERE id = (SELECT id FROM notifications WHERE trigger_id = $1 LIMIT 1)", [victim.triggerId]);
    const copy = providers.sent.email[0];
    if (copy) providers.sent.email.push({ ...copy });
    say(`self-check: deleted ${rowCount} inbox row of ${victim.sent.ref} and recorded email ${copy ? `“${String(copy.body.subject)}”` : "(none sent)"} twice; this run must fail`);
  }

  // Triggers stored per client key: more than one is the idempotency key failing.
  const { rows: stored } = await db.query<{ ref: string; n: number; not_completed: number }>(
    `SELECT data->>'ref' AS ref, count(*)::int AS n, count(*) FILTER (WHERE status <> 'completed')::int AS not_completed
       FROM triggers WHERE data->>'ref' LIKE $1 GROUP BY 1`,
    [`${RUN}-t%`],
  );
  const storedByRef = new Map(stored.map((r) => [r.ref, r]));
  const duplicateTriggers = stored.filter((r) => r.n > 1);
  const acceptedNotCompleted = accepted.filter((o) => (storedByRef.get(o.sent.ref)?.not_completed ?? 1) > 0);
  const storedUnanswered = unanswered.filter((o) => storedByRef.has(o.sent.ref));

  const samples: string[] = [];
  // Inbox: PostgreSQL.
  const refOfTrigger = new Map(accepted.map((o) => [o.triggerId!, o.sent.ref]));
  const { rows: inbox } = await db.query<{ trigger_id: string; user_id: string; n: number }>(
    "SELECT trigger_id, user_id, count(*)::int AS n FROM notifications WHERE trigger_id = ANY($1::uuid[]) GROUP BY 1, 2",
    [accepted.map((o) => o.triggerId)],
  );
  const expectedBy: Record<Channel, Set<string>> = { in_app: new Set(), push: new Set(), email: new Set(), sms: new Set() };
  for (const o of accepted) {
    for (const userId of o.sent.recipients) {
      for (const channel of expectedChannels(o.sent.type, userById.get(userId)!)) expectedBy[channel].add(pairKey(o.sent.ref, userId));
    }
  }
  const inboxSeen = new Map(inbox.map((r) => [pairKey(refOfTrigger.get(r.trigger_id)!, r.user_id), r.n]));
  const results: Record<Channel, Tally> = { in_app: compare(expectedBy.in_app, inboxSeen, samples, "inbox"), push: tally(), email: tally(), sms: tally() };

  // Channels: what the stand-ins received, as the outside world saw it. Sends of triggers the client
  // never got an answer for are set aside (they may rightly arrive, or not).
  const acceptedRefs = new Set(accepted.map((o) => o.sent.ref));
  const seenBy: Record<(typeof SENT_CHANNELS)[number], Map<string, number>> = { push: new Map(), email: new Map(), sms: new Map() };
  const arrivals = new Map<string, number[]>();
  const count = (channel: (typeof SENT_CHANNELS)[number], ref: string | undefined, user: User | undefined, at: number) => {
    if (!ref || !acceptedRefs.has(ref)) return;
    const key = pairKey(ref, user?.id ?? "(unknown address)");
    seenBy[channel].set(key, (seenBy[channel].get(key) ?? 0) + 1);
    arrivals.set(`${channel}|${key}`, [...(arrivals.get(`${channel}|${key}`) ?? []), at]);
  };
  for (const email of providers.sent.email) count("email", String(email.body.subject).match(/^Chaos (\S+)/)?.[1], userByEmail.get((email.body.to as string[])[0]!), email.at);
  for (const sms of providers.sent.sms) count("sms", String(sms.body.Body).match(/^Chaos (\S+)/)?.[1], userByPhone.get(String(sms.body.To)), sms.at);
  // Web push has no idempotency key: a push whose attempt's outcome was lost (its worker died mid-
  // request) is sent again marked `repeat`, and the service worker shows a delivery it has shown
  // before only once, silently (public/sw.js). Counted as the device sees it: such a repeat is not a
  // second notification; any other second copy is a duplicate.
  const shownOnDevice = new Set<string>();
  let pushRepeats = 0;
  for (const received of push.received) {
    const shown = `${received.subscription}|${String(received.payload.delivery)}`;
    if (shownOnDevice.has(shown) && received.payload.repeat === true) {
      pushRepeats++;
      continue;
    }
    shownOnDevice.add(shown);
    count("push", String(received.payload.body), userByDevice.get(received.subscription), received.at);
  }
  for (const channel of SENT_CHANNELS) results[channel] = compare(expectedBy[channel], seenBy[channel], samples, channel);

  // For whoever investigates a duplicate: when each copy arrived and what the attempt log says, on
  // the same clock as the fault list.
  const since = (ms: number) => `+${((ms - runStart) / 1000).toFixed(2)}s`;
  const triggerOfRef = new Map(accepted.map((o) => [o.sent.ref, o.triggerId!]));
  const duplicates: string[] = [];
  for (const channel of SENT_CHANNELS) {
    for (const [key, n] of seenBy[channel]) {
      if (n < 2 || duplicates.length >= 10) continue;
      const [ref, userId] = key.split("|") as [string, string];
      const { rows: log } = await db.query<{ at: Date; outcome: string; error: string | null }>(
        "SELECT at, outcome, error FROM delivery_attempts WHERE trigger_id = $1 AND user_id = $2 AND channel = $3 ORDER BY id",
        [triggerOfRef.get(ref), userId, channel],
      );
      const first = arrivals.get(`${channel}|${key}`)![0]!;
      // A fault that struck within a few seconds after the first copy arrived (or just before it).
      const near = faults.find((f) => f.atMs >= first - 500 && f.atMs <= first + 3000);
      duplicates.push(
        `${channel} ${key} (trigger ${triggerOfRef.get(ref)}): arrived ${arrivals.get(`${channel}|${key}`)!.map(since).join(", ")}` +
          `${near ? ` (the first ${((near.atMs - first) / 1000).toFixed(2)} s before ${near.what.split(",")[0]})` : ""}; attempt log: ` +
          (log.map((l) => `${l.outcome}${l.error ? ` (${l.error.slice(0, 60)})` : ""} ${since(l.at.getTime())}`).join(", ") || "empty"),
      );
    }
  }

  // Where a missing send stands in PostgreSQL (a hint for whoever investigates).
  const { rows: statuses } = await db.query<{ channel: string; status: string; reason: string | null; n: number }>(
    "SELECT channel, status, reason, count(*)::int AS n FROM deliveries WHERE trigger_id = ANY($1::uuid[]) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    [accepted.map((o) => o.triggerId)],
  );
  // Per user, seq stays contiguous through every crash: one change-log row per seq.
  const { rows: gaps } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users u WHERE u.id LIKE $1 AND u.last_seq <> (SELECT count(*) FROM notification_changes c WHERE c.user_id = u.id)`,
    [`${RUN}-u%`],
  );
  const seqGaps = gaps[0]!.n;

  // --- the report
  const row = (cells: (string | number)[], widths: number[]) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join("  ");
  console.log("");
  console.log(`chaos run ${RUN} (seed ${seed}): ${durationS} s at ${rate}/s, ${webCount} web nodes, ${workerCount} relays, fan-out and channel workers each`);
  console.log("");
  console.log(`triggers sent ${outcomes.length}, accepted ${accepted.length} (${accepted.filter((o) => o.attempts > 1).length} after a retry), refused ${refused.length}, unanswered ${unanswered.length} (${storedUnanswered.length} of them stored)`);
  const waits = accepted.map((o) => o.acceptedAfterMs!).sort((a, b) => a - b);
  const pct = (p: number) => waits[Math.min(waits.length - 1, Math.ceil((p / 100) * waits.length) - 1)] ?? 0;
  console.log(`time to acceptance, retries included: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms`);
  console.log(`requests ${clientStats.requests}: retries ${clientStats.retries} after ${clientStats.networkErrors} network errors, ${clientStats.timeouts} timeouts, ${clientStats.status5xx} 5xx, ${clientStats.status429} 429`);
  console.log(`stored twice (idempotency) ${duplicateTriggers.length}; accepted but not completed ${acceptedNotCompleted.length}; users with a seq gap ${seqGaps}`);
  console.log("");
  const widths = [10, 9, 8, 8, 11, 11];
  console.log(row(["channel", "expected", "found", "missing", "duplicates", "unexpected"], widths));
  for (const channel of ["in_app", "push", "email", "sms"] as const) {
    const t = results[channel];
    console.log(row([channel === "in_app" ? "inbox" : channel, t.expected, t.found, t.missing, t.duplicated, t.unexpected], widths));
  }
  console.log("");
  // A repeated request with the same idempotency key is answered from the first and sends nothing (as
  // Resend and Twilio do); the count shows how often the system leaned on that.
  console.log(
    `provider requests: email ${providers.attempts.email} (${providers.replayed.email} answered from the idempotency key), SMS ${providers.attempts.sms} (${providers.replayed.sms} from the key); ` +
      `push ${push.received.length} received (${pushRepeats} repeats of a push whose first attempt's outcome was lost, shown once by the device), ${push.rejected.length} rejected`,
  );
  console.log(`deliveries in PostgreSQL: ${statuses.map((s) => `${s.channel} ${s.status}${s.reason ? `/${s.reason}` : ""} ${s.n}`).join(", ")}`);
  console.log(`drain: ${drained.drained ? `${drained.seconds.toFixed(1)} s` : `NOT drained in ${drainTimeoutS} s`}`);
  const byKind = FAULT_KINDS.map((k) => `${k} ${faults.filter((f) => f.kind === k).length}`).join(", ");
  console.log(`faults injected ${faults.length}: ${byKind}; processes that exited by themselves: ${unplannedExits.length ? unplannedExits.join(", ") : "none"}`);
  for (const f of faults) console.log(`  ${f.at} ${f.what}`);
  if (refused.length) console.log(`refused: ${refused.slice(0, 5).map((o) => `${o.sent.ref} ${o.status} ${o.error}`).join("; ")}`);
  if (samples.length) console.log(`examples:\n  ${samples.join("\n  ")}`);
  if (duplicates.length) console.log(`duplicates in detail:\n  ${duplicates.join("\n  ")}`);

  const lost = Object.values(results).reduce((a, t) => a + t.missing, 0);
  const doubled = Object.values(results).reduce((a, t) => a + t.duplicated + t.unexpected, 0);
  const failed = lost > 0 || doubled > 0 || duplicateTriggers.length > 0 || acceptedNotCompleted.length > 0 || refused.length > 0 || seqGaps > 0 || !drained.drained;
  console.log("");
  console.log(failed ? `FAIL: ${lost} lost, ${doubled} duplicated or unexpected, ${duplicateTriggers.length} triggers stored twice, ${acceptedNotCompleted.length} not completed, ${refused.length} refused, ${seqGaps} seq gaps` : "OK: every accepted trigger reached every recipient exactly once, in the inbox and on every channel it should");
  if (values.keep) console.log(`database kept: ${databaseUrl}`);
  exitCode = failed ? 1 : 0;
} catch (error) {
  console.error(`chaos run failed: ${(error as Error).stack ?? error}`);
  exitCode = 1;
} finally {
  await stopEverything();
}
process.exit(exitCode);
