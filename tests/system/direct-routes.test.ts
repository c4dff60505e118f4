// The web node serves the hottest API routes itself (server/http/direct-routes.ts), with the same
// route-handler modules Next.js serves. Every such route, answered by a shared web node (direct) and by
// a web node started with DIRECT_ROUTES=0 (Next.js's pipeline) on the same database and Redis, must
// give the same status, body and headers: for success, every kind of error, bodies that are empty,
// malformed, of the wrong type or too large, an idempotent replay, and another user's ids.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, request, serviceClient, uniqueId, userClient, type Reply } from "./client";
import { startSystem, type System } from "./start-system";
import { MAX_BODY_BYTES } from "@/server/http/read-body-bytes";

const shared = inject("system");
const direct = shared.webUrls[0]!;
let viaNext: string;
let nextOnly: System;
const service = serviceClient(direct, shared.serviceKey);
const owner = uniqueId("direct");
const stranger = uniqueId("direct-other");
let ownerToken: string;
let strangerToken: string;
const ids: string[] = [];

beforeAll(async () => {
  nextOnly = await startSystem({
    databaseUrl: shared.databaseUrl,
    redisUrl: shared.redisUrl,
    webNodes: 1,
    relays: 0,
    fanoutWorkers: 0,
    env: { REDIS_PREFIX: shared.redisPrefix, DIRECT_ROUTES: "0" },
  });
  viaNext = nextOnly.webUrls[0]!;
  ownerToken = await service.token(owner);
  strangerToken = await service.token(stranger);
  for (let i = 0; i < 3; i++) {
    const reply = await service.trigger({ type: "comment", to: [owner], actor: { id: `a${i}`, name: `Actor ${i}` }, data: { excerpt: `hello ${i}` } });
    expect(reply.status).toBe(202);
    await eventually(async () => ((await service.status(reply.body.id)).body.status === "completed" ? true : undefined));
  }
  const page = await userClient(direct, ownerToken).list("?limit=10");
  ids.push(...page.body.notifications.map((n) => n.id));
  expect(ids).toHaveLength(3);
});

afterAll(async () => {
  await nextOnly?.stop();
});

type Call = { method?: string; path: string; token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> };

/** Status, headers (but the date) and body, with what differs by nature (new ids, clocks) masked. */
function normalise(reply: Reply, masks: RegExp[] = []) {
  const headers: Record<string, string> = {};
  reply.headers.forEach((value, key) => {
    // Framing (a length or chunks) is the transport's; Next.js adds Vary for its router's cache keys.
    if (!["date", "vary", "keep-alive", "connection", "content-length", "transfer-encoding"].includes(key)) headers[key] = value;
  });
  let body = JSON.stringify(reply.body);
  for (const mask of masks) body = body.replace(mask, "<masked>");
  return { status: reply.status, headers, body: JSON.parse(body) as unknown };
}

async function both(call: Call, masks?: RegExp[]) {
  const send = (base: string) => request(`${base}${call.path}`, { method: call.method, token: call.token, body: call.body, rawBody: call.rawBody, headers: call.headers });
  const [a, b] = [await send(direct), await send(viaNext)];
  // Which pipeline answered: Next.js marks every answer with its router's Vary; the direct path does not.
  const oversized = (call.rawBody ?? JSON.stringify(call.body ?? "")).length > MAX_BODY_BYTES;
  if (!oversized) expect(a.headers.get("vary"), "answered directly").toBeNull();
  expect(b.headers.get("vary"), "answered by Next.js").toContain("rsc");
  const [na, nb] = [normalise(a, masks), normalise(b, masks)];
  expect(na, `${call.method ?? "GET"} ${call.path}`).toEqual(nb);
  return na;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

describe("a direct route answers exactly as Next.js does", () => {
  it("POST /api/v1/notifications: accepted, and every refusal", async () => {
    const trigger = { type: "comment", to: [uniqueId("direct-r")], actor: { id: "x", name: "X" } };
    expect((await both({ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, body: trigger }, [UUID])).status).toBe(202);
    const refusals: [Call, number][] = [
      [{ method: "POST", path: "/api/v1/notifications", body: trigger }, 401],
      [{ method: "POST", path: "/api/v1/notifications", token: "not-a-key-0123456789", body: trigger }, 401],
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, body: { type: "comment" } }, 422],
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, body: { ...trigger, type: "no-such-type" } }, 422],
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, rawBody: "{not json", headers: { "content-type": "application/json" } }, 400],
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, rawBody: "", headers: { "content-type": "application/json" } }, 400],
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, rawBody: "type=comment", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415],
      // Past the body limit: both hand it to the same handler's 413 (the direct path leaves it to Next.js).
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, body: { ...trigger, data: { big: "x".repeat(300 * 1024) } } }, 413],
      [{ method: "POST", path: "/api/v1/notifications", token: shared.serviceKey, body: trigger, headers: { "idempotency-key": "" } }, 422],
    ];
    for (const [call, status] of refusals) expect((await both(call)).status, JSON.stringify(call).slice(0, 200)).toBe(status);
  });

  it("an Idempotency-Key accepted directly is replayed through Next.js, and the reverse", async () => {
    const trigger = { type: "comment", to: [uniqueId("direct-i")], actor: { id: "x", name: "X" } };
    for (const [first, second] of [
      [direct, viaNext],
      [viaNext, direct],
    ] as const) {
      const headers = { "idempotency-key": uniqueId("key") };
      const a = await request(`${first}/api/v1/notifications`, { method: "POST", token: shared.serviceKey, body: trigger, headers });
      const b = await request(`${second}/api/v1/notifications`, { method: "POST", token: shared.serviceKey, body: trigger, headers });
      expect(a.status).toBe(202);
      expect(normalise(b)).toEqual(normalise(a));
      const conflict = await request(`${second}/api/v1/notifications`, { method: "POST", token: shared.serviceKey, body: { ...trigger, title: "other" }, headers });
      expect(conflict.status).toBe(409);
    }
  });

  it("the inbox reads: page, cursor, filters, count, changes, and their refusals", async () => {
    const page = await both({ path: "/api/notifications?limit=2", token: ownerToken });
    expect(page.status).toBe(200);
    const cursor = (page.body as { nextCursor: string }).nextCursor;
    expect(cursor).toBeTruthy();
    for (const path of [
      `/api/notifications?limit=2&cursor=${encodeURIComponent(cursor)}`,
      "/api/notifications?status=unread&limit=5",
      "/api/notifications?limit=abc",
      "/api/notifications?cursor=forged",
      "/api/notifications/unread-count",
      "/api/notifications/changes?afterSeq=0",
      "/api/notifications/changes?afterSeq=-1",
    ]) {
      await both({ path, token: ownerToken });
      await both({ path, token: strangerToken });
      expect((await both({ path })).status).toBe(401);
    }
  });

  it("state changes: another user's ids change nothing, the owner's take effect, malformed bodies are refused", async () => {
    for (const path of ["/api/notifications/read", "/api/notifications/unread", "/api/notifications/seen", "/api/notifications/archive", "/api/notifications/unarchive"]) {
      await both({ method: "POST", path, token: strangerToken, body: { ids } });
      await both({ method: "POST", path, token: ownerToken, body: { ids: "nope" } });
      await both({ method: "POST", path, token: ownerToken, rawBody: "[", headers: { "content-type": "application/json" } });
      expect((await both({ method: "POST", path, body: { ids } })).status).toBe(401);
    }
    // The owner's changes: the same change to a different notification on each node answers alike.
    const onEach = async (path: string, bodyDirect: unknown, bodyNext: unknown) => {
      const a = normalise(await request(`${direct}${path}`, { method: "POST", token: ownerToken, body: bodyDirect }));
      const b = normalise(await request(`${viaNext}${path}`, { method: "POST", token: ownerToken, body: bodyNext }));
      expect(a, path).toEqual(b);
      return a;
    };
    expect((await onEach("/api/notifications/read", { ids: [ids[0]] }, { ids: [ids[1]] })).body).toEqual({ count: 1 });
    expect((await onEach("/api/notifications/unread", { ids: [ids[0]] }, { ids: [ids[1]] })).body).toEqual({ count: 1 });
    await onEach("/api/notifications/archive", { ids: [ids[0]] }, { ids: [ids[1]] });
    await onEach("/api/notifications/unarchive", { ids: [ids[0]] }, { ids: [ids[1]] });
    expect((await request(`${direct}/api/notifications/read-all`, { method: "POST", token: ownerToken, body: {} })).status).toBe(200);
    const count = await both({ path: "/api/notifications/unread-count", token: ownerToken });
    expect(count.body).toMatchObject({ count: 0 });
  });

  it("an odd Host or header value gets the same answer, never a 5xx", async () => {
    // node:http, which sends what it is given (fetch sets Host itself).
    const send = (base: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = http.get(`${base}/api/notifications/unread-count`, { headers: { authorization: `Bearer ${ownerToken}`, ...headers } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
      });
    const odd: Record<string, string>[] = [{ host: "a b" }, { host: "evil.example:99999" }, { host: "" }, { "x-note": "caf\u00e9 \u00ff" }, { origin: "null" }];
    for (const headers of odd) {
      const [a, b] = [await send(direct, headers), await send(viaNext, headers)];
      expect(a, JSON.stringify(headers)).toBeLessThan(500);
      expect(a, JSON.stringify(headers)).toBe(b);
    }
  });

  it("a path or method it does not serve still reaches Next.js", async () => {
    expect((await request(`${direct}/api/notifications/`, { token: ownerToken })).status).toBe((await request(`${viaNext}/api/notifications/`, { token: ownerToken })).status);
    const del = await request(`${direct}/api/v1/notifications`, { method: "DELETE", token: shared.serviceKey });
    expect(del.status).toBe(405);
    expect(del.status).toBe((await request(`${viaNext}/api/v1/notifications`, { method: "DELETE", token: shared.serviceKey })).status);
  });
});
