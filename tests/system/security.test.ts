// Authentication and scopes for every operation of the OpenAPI document: without credentials every
// protected route answers 401; a service key without the route's scope 403; a user token on the
// service API 401 and, for a non-admin, 403 on the admin API; a revoked key 401 on every web node at
// once — all in API.md's error format.
import pg from "pg";
import { afterAll, expect, inject, it } from "vitest";
import { request, serviceClient, uniqueId } from "./client";

const system = inject("system");
const web = system.webUrls[0]!;
const service = serviceClient(web, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
afterAll(() => db.end());

type Op = { security: Record<string, string[]>[] };

async function operations(): Promise<{ method: string; path: string; schemes: Record<string, string[]> }[]> {
  const doc = (await request(`${web}/api/openapi.json`)).body;
  return Object.entries(doc.paths as Record<string, Record<string, Op>>).flatMap(([template, methods]) =>
    Object.entries(methods)
      .filter(([, op]) => op.security.length > 0)
      .map(([method, op]) => ({ method, path: template.replace(/\{[^}]+\}/g, "probe-1"), schemes: Object.assign({}, ...op.security) as Record<string, string[]> })),
  );
}

async function call(method: string, path: string, token?: string) {
  return request(`${web}${path}`, { method: method.toUpperCase(), token, body: method === "get" ? undefined : {} });
}

async function newKey(scopes: string[]) {
  const reply = await request(`${web}/api/v1/admin/service-keys`, { method: "POST", token: system.serviceKey, body: { name: uniqueId("sec"), scopes } });
  expect(reply.status).toBe(201);
  return reply.body as { id: string; key: string };
}

it("every protected operation: 401 without credentials, 403 with a key lacking its scope or a non-admin's token", async () => {
  const ops = await operations();
  expect(ops.length).toBeGreaterThan(35);
  const notifyOnly = await newKey(["notify"]);
  const adminOnly = await newKey(["admin"]);
  const user = await service.token(uniqueId("plain"));
  const wrong: string[] = [];
  const expectStatus = async (what: string, reply: Awaited<ReturnType<typeof call>>, status: number) => {
    if (reply.status !== status || typeof reply.body?.error?.code !== "string") wrong.push(`${what}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 120)}`);
  };
  for (const op of ops) {
    const name = `${op.method.toUpperCase()} ${op.path}`;
    await expectStatus(`${name} without credentials`, await call(op.method, op.path), 401);
    if (op.schemes.serviceKey?.includes("notify")) {
      await expectStatus(`${name} with an admin-only key`, await call(op.method, op.path, adminOnly.key), 403);
      await expectStatus(`${name} with a user token`, await call(op.method, op.path, user), 401);
    }
    if (op.schemes.serviceKey?.includes("admin")) {
      await expectStatus(`${name} with a notify-only key`, await call(op.method, op.path, notifyOnly.key), 403);
      await expectStatus(`${name} with a non-admin's token`, await call(op.method, op.path, user), 403);
    }
  }
  expect(wrong).toEqual([]);
  // A valid trigger with a key lacking the scope is refused before anything is stored.
  const body = { type: "system", to: [uniqueId("scoped")], title: "Hi" };
  expect((await request(`${web}/api/v1/notifications`, { method: "POST", token: adminOnly.key, body })).status).toBe(403);
  const { rows } = await db.query("SELECT count(*)::int AS n FROM triggers WHERE recipient_ids @> $1::text[]", [body.to]);
  expect(rows[0].n).toBe(0);
});

it("a revoked key is refused at once on the node that revoked it, and on the other within a moment", async () => {
  const key = await newKey(["notify"]);
  const other = system.webUrls[1]!;
  const send = (base: string) => request(`${base}/api/v1/notifications`, { method: "POST", token: key.key, body: { type: "system", to: [uniqueId("r")], title: "Hi" } });
  // Both nodes have the key cached as valid.
  expect((await send(web)).status).toBe(202);
  expect((await send(other)).status).toBe(202);
  expect((await request(`${web}/api/v1/admin/service-keys/${key.id}`, { method: "DELETE", token: system.serviceKey })).status).toBe(200);
  const refused = await send(web);
  expect(refused.status).toBe(401);
  expect(refused.body.error.code).toBe("unauthorized");
  // The other node heard it through Redis: well before its 10 s cache would have run out.
  const started = Date.now();
  while ((await send(other)).status !== 401) {
    expect(Date.now() - started, "the other node still accepts the revoked key").toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 50));
  }
});
