// Ingestion limits per service key on the running system (2 web nodes sharing the buckets in Redis):
// past the requests or recipients budget the API answers 429 with Retry-After and stores nothing;
// everything it accepted is delivered; another key has its own budget; a topic's recipients are
// charged once it is stored and hold the key back until the budget has refilled. A key with its own
// limits (PATCH by an admin, or `npm run keys -- limits`) is held to them on every node, a change
// reaching the other node at once, and goes back to the default when they are cleared.
import { execFileSync } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, request, serviceClient, uniqueId } from "./client";
import { startSystem, type System } from "./start-system";

let system: System;
let db: pg.Pool;

beforeAll(async () => {
  // 5 requests/s and 50 recipients/s, bursts of 2 s: 10 requests and 100 recipients at once.
  system = await startSystem({
    webNodes: 2,
    relays: 1,
    fanoutWorkers: 1,
    env: { INGEST_REQUESTS_PER_SECOND: "5", INGEST_RECIPIENTS_PER_SECOND: "50", INGEST_BURST_SECONDS: "2" },
  });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
});

async function newKeyWithId(name: string): Promise<{ id: string; key: string }> {
  const reply = await request(`${system.webUrls[0]}/api/v1/admin/service-keys`, { method: "POST", token: system.serviceKey, body: { name, scopes: ["notify"] } });
  expect(reply.status).toBe(201);
  return reply.body as { id: string; key: string };
}

async function newKey(name: string): Promise<string> {
  return (await newKeyWithId(name)).key;
}

it("past the requests budget: 429 with Retry-After, nothing stored; everything accepted is delivered", async () => {
  const key = await newKey("busy");
  const users = Array.from({ length: 24 }, (_, i) => uniqueId(`limited${i}`));
  // Spread over both web nodes: the budget is the key's, not a node's.
  const started = Date.now();
  const replies = await Promise.all(
    users.map((user, i) =>
      request(`${system.webUrls[i % 2]}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [user], title: "Hi" } }),
    ),
  );
  const accepted = replies.filter((r) => r.status === 202);
  const refused = replies.filter((r) => r.status === 429);
  expect(accepted.length + refused.length).toBe(users.length);
  expect(accepted.length).toBeGreaterThanOrEqual(10);
  // The burst of 10, plus what refilled (5/s) while the requests came in.
  expect(accepted.length).toBeLessThanOrEqual(10 + Math.ceil((5 * (Date.now() - started)) / 1000));
  for (const r of refused) {
    expect(r.body.error.code).toBe("rate_limited");
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  }
  // Stored: exactly the accepted ones, and each reaches its recipient.
  const acceptedUsers = users.filter((_, i) => replies[i]!.status === 202);
  const { rows } = await db.query("SELECT count(*)::int AS n FROM triggers WHERE recipient_ids && $1::text[]", [users]);
  expect(rows[0].n).toBe(accepted.length);
  await eventually(async () => {
    const { rows: got } = await db.query("SELECT count(DISTINCT user_id)::int AS n FROM notifications WHERE user_id = ANY($1::text[])", [acceptedUsers]);
    return got[0].n === acceptedUsers.length ? true : undefined;
  }, 20_000, "every accepted trigger delivered");
  // The refused retry after Retry-After and get in.
  const late = users.find((_, i) => replies[i]!.status === 429)!;
  await new Promise((r) => setTimeout(r, Number(refused[0]!.headers.get("retry-after")) * 1000));
  expect((await request(`${system.webUrls[0]}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [late], title: "Hi" } })).status).toBe(202);
  // Another key has its own budget.
  const other = await newKey("calm");
  expect((await request(`${system.webUrls[1]}/api/v1/notifications`, { method: "POST", token: other, body: { type: "system", to: [uniqueId("calm")], title: "Hi" } })).status).toBe(202);
});

it("a topic's recipients are charged when stored: the key waits until its budget refills", async () => {
  const key = await newKey("topics");
  const service = serviceClient(system.webUrls[0]!, system.serviceKey);
  const topic = uniqueId("limited-topic");
  const users = Array.from({ length: 150 }, (_, i) => uniqueId(`sub${i}`));
  expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: users })).status).toBe(200);
  const first = await request(`${system.webUrls[0]}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: { topic }, title: "To all" } });
  expect(first.status).toBe(202);
  expect(first.body.recipients).toBe(150);
  // 100 in the bucket, 150 charged: 50 in debt, one second at 50/s.
  const next = await request(`${system.webUrls[1]}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [uniqueId("after")], title: "Hi" } });
  expect(next.status).toBe(429);
  expect(Number(next.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  await new Promise((r) => setTimeout(r, Number(next.headers.get("retry-after")) * 1000 + 200));
  expect((await request(`${system.webUrls[1]}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [uniqueId("after")], title: "Hi" } })).status).toBe(202);
  // The accepted topic trigger reached every subscriber.
  await eventually(async () => ((await service.status(first.body.id)).body.status === "completed" ? true : undefined), 20_000);
  const { rows } = await db.query("SELECT count(*)::int AS n FROM notifications WHERE trigger_id = $1", [first.body.id]);
  expect(rows[0].n).toBe(150);
});

describe("a key's own limits", () => {
  const setLimits = (web: string, id: string, limits: unknown, token = system.serviceKey) =>
    request(`${web}/api/v1/admin/service-keys/${id}`, { method: "PATCH", token, body: { limits } });
  /** `count` one-recipient triggers at once, spread over `webs`; answers in order. */
  const burst = (webs: string[], key: string, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        request(`${webs[i % webs.length]}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [uniqueId("own")], title: "Hi" } }),
      ),
    );
  /** Repeats `attempt` until it returns true, failing after `withinMs` (well before a node's 10 s key cache would expire by itself). */
  async function promptly(what: string, withinMs: number, attempt: () => Promise<boolean>): Promise<void> {
    const started = Date.now();
    while (!(await attempt())) {
      expect(Date.now() - started, what).toBeLessThan(withinMs);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const storedBy = async (id: string) => (await db.query("SELECT count(*)::int AS n FROM triggers WHERE service_key_id = $1", [id])).rows[0].n as number;

  it("a low limit refuses that key past it on both nodes while a key on the defaults is unaffected; raising it reaches the other node at once; clearing restores the default", async () => {
    const [web0, web1] = system.webUrls as [string, string];
    const slow = await newKeyWithId("bulk-marketing");
    const normal = await newKeyWithId("billing");
    // Both nodes look the key up (and cache it) before its limit changes.
    expect((await burst([web0, web1], slow.key, 2)).map((r) => r.status)).toEqual([202, 202]);

    const lowered = await setLimits(web0, slow.id, { requestsPerSecond: 1 });
    expect(lowered.status).toBe(200);
    expect(lowered.body).toMatchObject({ id: slow.id, limits: { requestsPerSecond: 1, recipientsPerSecond: null }, effectiveLimits: { requestsPerSecond: 1, recipientsPerSecond: 50 } });
    // 1/s with bursts of 2 s: 2 at once, and what refills while they come in.
    const started = Date.now();
    const [limited, unaffected] = await Promise.all([burst([web0, web1], slow.key, 8), burst([web0, web1], normal.key, 8)]);
    const accepted = limited.filter((r) => r.status === 202).length;
    expect(accepted).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - started) / 1000));
    const refused = limited.filter((r) => r.status === 429);
    expect(refused.length).toBe(8 - accepted);
    for (const r of refused) {
      expect(r.body.error.code).toBe("rate_limited");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // The other key keeps the default (bursts of 10).
    expect(unaffected.map((r) => r.status)).toEqual(Array(8).fill(202));
    expect(await storedBy(slow.id)).toBe(2 + accepted);

    // Raised through one node: the other, which has the key cached at 1/s, lets a burst through
    // well before its cache would have expired (it heard the change through Redis).
    const raised = await setLimits(web0, slow.id, { requestsPerSecond: 1000 });
    expect(raised.body.effectiveLimits.requestsPerSecond).toBe(1000);
    await promptly("the other node still holds the key to 1/s", 3000, async () => (await burst([web1], slow.key, 6)).every((r) => r.status === 202));

    // Cleared through the other node: back to the default (5/s, bursts of 10) on the first.
    const cleared = await setLimits(web1, slow.id, { requestsPerSecond: null });
    expect(cleared.body).toMatchObject({ limits: { requestsPerSecond: null, recipientsPerSecond: null }, effectiveLimits: { requestsPerSecond: 5, recipientsPerSecond: 50 } });
    await promptly("the first node still allows the key 1000/s", 3000, async () => {
      const since = Date.now();
      const replies = await burst([web0], slow.key, 16);
      const ok = replies.filter((r) => r.status === 202).length;
      if (ok === replies.length) return false;
      // The default's whole burst is there (the bucket was full), and no more than it and its refill.
      expect(ok).toBeGreaterThanOrEqual(10);
      expect(ok).toBeLessThanOrEqual(10 + Math.ceil((5 * (Date.now() - since)) / 1000));
      return true;
    });

    // The list shows each key's own and effective limits, and the defaults.
    const listed = await request(`${web0}/api/v1/admin/service-keys`, { token: system.serviceKey });
    expect(listed.body.defaults).toEqual({ requestsPerSecond: 5, recipientsPerSecond: 50, burstSeconds: 2 });
    expect(listed.body.keys.find((k: { id: string }) => k.id === slow.id)).toMatchObject({ limits: { requestsPerSecond: null, recipientsPerSecond: null } });
  });

  it("its own recipients limit, and 0 for unlimited", async () => {
    const web = system.webUrls[0]!;
    const { id, key } = await newKeyWithId("billing-unlimited");
    // The default recipients budget is 100 at once: 30 triggers of 5 recipients are over it.
    const thirty = (n: number) => Array.from({ length: 30 }, () => request(`${web}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: Array.from({ length: n }, () => uniqueId("r")), title: "Hi" } }));
    expect((await setLimits(web, id, { requestsPerSecond: 0, recipientsPerSecond: 0 })).body.effectiveLimits).toEqual({ requestsPerSecond: 0, recipientsPerSecond: 0 });
    expect((await Promise.all(thirty(5))).map((r) => r.status)).toEqual(Array(30).fill(202));
    // A limit of its own on recipients only: 1/s, 2 at once; a trigger to 2 uses it up for 2 s.
    expect((await setLimits(web, id, { recipientsPerSecond: 1 })).body.limits).toEqual({ requestsPerSecond: 0, recipientsPerSecond: 1 });
    expect((await request(`${web}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [uniqueId("a"), uniqueId("b")], title: "Hi" } })).status).toBe(202);
    const over = await request(`${web}/api/v1/notifications`, { method: "POST", token: key, body: { type: "system", to: [uniqueId("c"), uniqueId("d")], title: "Hi" } });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("rate_limited");
    expect(await storedBy(id)).toBe(31);
  });

  it("refuses bad limits (422 naming the field), an unknown or revoked key (404), and anyone but an admin (401/403)", async () => {
    const web = system.webUrls[1]!;
    const { id } = await newKeyWithId("validated");
    const row = async () => (await db.query("SELECT requests_per_second AS r, recipients_per_second AS p FROM service_keys WHERE id = $1", [id])).rows[0];
    expect((await setLimits(web, id, { requestsPerSecond: 7, recipientsPerSecond: 70 })).status).toBe(200);
    const cases: [string, unknown, string][] = [
      ["a negative rate", { limits: { requestsPerSecond: -1 } }, "limits.requestsPerSecond"],
      ["a fraction", { limits: { recipientsPerSecond: 1.5 } }, "limits.recipientsPerSecond"],
      ["a string", { limits: { requestsPerSecond: "100" } }, "limits.requestsPerSecond"],
      ["requests above the maximum", { limits: { requestsPerSecond: 1_000_001 } }, "limits.requestsPerSecond"],
      ["recipients above the maximum", { limits: { recipientsPerSecond: 100_000_001 } }, "limits.recipientsPerSecond"],
      ["an unknown field", { limits: { burst: 5 } }, "limits"],
      ["no limits", {}, "limits"],
      ["limits null", { limits: null }, "limits"],
    ];
    for (const [what, body, field] of cases) {
      const reply = await request(`${web}/api/v1/admin/service-keys/${id}`, { method: "PATCH", token: system.serviceKey, body });
      expect(reply.status, what).toBe(422);
      expect(reply.body.error.code, what).toBe("validation_failed");
      expect(reply.body.error.details.map((d: { field: string }) => d.field), what).toContain(field);
    }
    const malformed = await request(`${web}/api/v1/admin/service-keys/${id}`, { method: "PATCH", token: system.serviceKey, rawBody: '{"limits": {', headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("invalid_json");
    expect(await row()).toEqual({ r: 7, p: 70 });

    expect((await setLimits(web, "0190a4c2-7b1e-7000-8000-000000000000", { requestsPerSecond: 1 })).status).toBe(404);
    expect((await setLimits(web, "not-a-key", { requestsPerSecond: 1 })).body.error.code).toBe("not_found");

    const notifyKey = await newKey("not-admin");
    const service = serviceClient(web, system.serviceKey);
    const plainUser = await service.token(uniqueId("plain"));
    for (const token of [notifyKey, plainUser]) {
      const refused = await setLimits(web, id, { requestsPerSecond: 1 }, token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe("forbidden");
    }
    expect((await request(`${web}/api/v1/admin/service-keys/${id}`, { method: "PATCH", body: { limits: { requestsPerSecond: 1 } } })).status).toBe(401);
    expect(await row()).toEqual({ r: 7, p: 70 });

    expect((await request(`${web}/api/v1/admin/service-keys/${id}`, { method: "DELETE", token: system.serviceKey })).status).toBe(200);
    expect((await setLimits(web, id, { requestsPerSecond: 1 })).status).toBe(404);
  });

  it("npm run keys -- limits sets, clears and refuses bad values; list shows them", async () => {
    const { id, key } = await newKeyWithId("cli-limited");
    const keys = (...args: string[]) => execFileSync(process.execPath, ["--import", "tsx", "scripts/service-keys.ts", ...args], { env: { ...system.env }, encoding: "utf8", stdio: "pipe" });
    const row = async () => (await db.query("SELECT requests_per_second AS r, recipients_per_second AS p FROM service_keys WHERE id = $1", [id])).rows[0];
    // Cached on a node first (at the default: 5/s, bursts of 10): the CLI's change must reach it through Redis too.
    expect((await burst([system.webUrls[1]!], key, 1))[0]!.status).toBe(202);
    expect(keys("limits", id, "--requests", "1000", "--recipients", "40")).toContain("1,000 requests/s, 40 recipients/s");
    expect(await row()).toEqual({ r: 1000, p: 40 });
    expect(keys("list")).toMatch(new RegExp(`${id} .*cli-limited .*limits 1,000 requests/s, 40 recipients/s`));
    await promptly("the node still holds the key to the default", 3000, async () => (await burst([system.webUrls[1]!], key, 14)).every((r) => r.status === 202));
    expect(keys("limits", id, "--recipients", "default")).toContain("1,000 requests/s, 50 recipients/s (default)");
    expect(keys("limits", id, "--default")).toContain("5 requests/s (default), 50 recipients/s (default)");
    expect(await row()).toEqual({ r: null, p: null });
    for (const bad of [["--requests", "-1"], ["--requests", "lots"], ["--recipients", "100000001"], [], ["--default", "--requests", "3"]]) {
      let status = 0;
      try {
        keys("limits", id, ...bad);
      } catch (error) {
        status = (error as { status: number }).status;
      }
      expect(status, bad.join(" ")).toBe(2);
    }
    expect(await row()).toEqual({ r: null, p: null });
    // About ten CLI runs of a few seconds each (tsx starting): 30 s on a quiet machine, twice that on a busy one.
  }, 150_000);
});
