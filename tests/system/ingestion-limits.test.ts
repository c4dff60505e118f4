// Ingestion limits per service key on the running system (2 web nodes sharing the buckets in Redis):
// past the requests or recipients budget the API answers 429 with Retry-After and stores nothing;
// everything it accepted is delivered; another key has its own budget; a topic's recipients are
// charged once it is stored and hold the key back until the budget has refilled.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
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

async function newKey(name: string): Promise<string> {
  const reply = await request(`${system.webUrls[0]}/api/v1/admin/service-keys`, { method: "POST", token: system.serviceKey, body: { name, scopes: ["notify"] } });
  expect(reply.status).toBe(201);
  return reply.body.key as string;
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
