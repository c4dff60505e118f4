// Property-based abuse of every route in the OpenAPI document (fast-check): random JSON bodies,
// hostile and oversized strings, random path ids and query strings, sent with the credentials each
// route expects. Whatever comes in, the answer is never a 5xx, and every refusal has API.md's error
// body.
import { connect } from "node:net";
import fc from "fast-check";
import { expect, inject, it } from "vitest";
import { request, serviceClient, uniqueId } from "./client";

const system = inject("system");
const web = system.webUrls[0]!;
const service = serviceClient(web, system.serviceKey);

const hostile = fc.constantFrom(
  "<script>alert(1)</script>",
  "'; DROP TABLE notifications; --",
  "../../etc/passwd",
  "%00%ff",
  "\u0000\u202e\ud800",
  "{{ 7 * 7 }}{% include 'x' %}",
  "x".repeat(5000),
  "💥".repeat(300),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), hostile);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 5 }))),
  fc.constant({ ids: ["not-a-uuid"] }),
  fc.constant({ to: { topic: "<b>" }, type: "comment" }),
);
const pathId = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), hostile, fc.uuid());
const query = fc.dictionary(fc.constantFrom("limit", "cursor", "filter", "afterSeq", "channel", "address", "q", "type"), text, { maxKeys: 3 });

it("never answers a 5xx, and refuses in API.md's format, whatever the input", { timeout: 120_000 }, async () => {
  const doc = (await request(`${web}/api/openapi.json`)).body;
  const userToken = await service.token(uniqueId("fuzzer"));
  const failures: string[] = [];
  let sent = 0;
  const statuses = new Set<number>();
  for (const [template, methods] of Object.entries(doc.paths as Record<string, Record<string, { security: Record<string, unknown>[]; requestBody?: unknown }>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const schemes = op.security.flatMap((s) => Object.keys(s));
      const token = schemes.includes("serviceKey") ? system.serviceKey : schemes.includes("userToken") ? userToken : undefined;
      await fc.assert(
        fc.asyncProperty(pathId, body, query, async (id, payload, params) => {
          // (A lone surrogate cannot be put in a URL at all; it goes as U+FFFD.)
          const path = template.replace(/\{[^}]+\}/g, () => encodeURIComponent(Buffer.from(id, "utf8").toString("utf8")));
          const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("utf8")])).toString();
          const response = await fetch(`${web}${path}${qs ? `?${qs}` : ""}`, {
            method: method.toUpperCase(),
            redirect: "manual",
            headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(method === "get" ? {} : { "content-type": "application/json" }) },
            body: method === "get" ? undefined : JSON.stringify(payload),
          });
          const raw = await response.text();
          sent++;
          statuses.add(response.status);
          if (response.status >= 500) failures.push(`${method.toUpperCase()} ${path} → ${response.status}: ${raw.slice(0, 200)}`);
          else if (response.status >= 400) {
            // Every refusal is API.md's JSON error body, except the pages people open from an email
            // (/e/...), which answer a person with a page.
            type ErrorShape = { error?: { code?: unknown; message?: unknown } } | null;
            const parsed: ErrorShape = (() => {
              try {
                return JSON.parse(raw) as ErrorShape;
              } catch {
                return null;
              }
            })();
            const isPage = template.startsWith("/e/");
            if (!isPage && (typeof parsed?.error?.code !== "string" || typeof parsed.error.message !== "string")) {
              failures.push(`${method.toUpperCase()} ${path} → ${response.status} without the error format: ${raw.slice(0, 200)}`);
            }
          }
        }),
        { numRuns: 12 },
      );
    }
  }
  expect(failures).toEqual([]);
  // Every operation was reached, and the inputs got past authentication into validation.
  expect(sent).toBe(Object.values(doc.paths as Record<string, object>).reduce((n, methods) => n + Object.keys(methods).length, 0) * 12);
  expect([...statuses]).toEqual(expect.arrayContaining([400, 404, 422]));
});

it("the NUL character, which PostgreSQL cannot store, is refused with 422 on its field: in a query, a body, a key, on both web nodes", async () => {
  const token = await service.token(uniqueId("nul"));
  for (const base of system.webUrls) {
    for (const path of ["/api/notifications?q=a%00b", "/api/notifications?category=%00", "/api/notifications?type=x%00"]) {
      const reply = await request(`${base}${path}`, { token });
      expect(reply.status, path).toBe(422);
      expect(reply.body.error.code).toBe("validation_failed");
      expect(reply.body.error.details[0].message).toContain("NUL");
    }
    const cases: [unknown, string][] = [
      [{ type: "comment", to: [uniqueId("nul")], title: "a\u0000b" }, "title"],
      [{ type: "comment", to: [uniqueId("nul")], title: "t", data: { nested: ["ok", "x\u0000"] } }, "data.nested.1"],
      [{ type: "comment", to: [uniqueId("nul")], title: "t", data: { "k\u0000": 1 } }, "data.k\u0000"],
    ];
    for (const [body, field] of cases) {
      const reply = await request(`${base}/api/v1/notifications`, { method: "POST", token: system.serviceKey, body });
      expect(reply.status, field).toBe(422);
      expect(reply.body.error.details).toEqual([{ field, message: "must not contain the NUL character (U+0000)" }]);
    }
    // An escaped backslash before "u0000" is no NUL: accepted.
    expect((await request(`${base}/api/v1/notifications`, { method: "POST", token: system.serviceKey, body: { type: "comment", to: [uniqueId("nul")], title: "a\\u0000b" } })).status).toBe(202);
  }
});

it("answers what Node's HTTP parser refuses (headers past 16 KiB, not HTTP) in API.md's format too", async () => {
  const { hostname, port } = new URL(web);
  const raw = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.end(request));
      let answer = "";
      socket.on("data", (chunk) => (answer += chunk.toString()));
      socket.on("end", () => resolve(answer));
      socket.on("error", reject);
    });
  const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { error: { code: string; message: string } };

  const long = await raw(`POST /api/v1/users/${"x".repeat(20_000)}/token HTTP/1.1\r\nHost: ${hostname}\r\nContent-Length: 2\r\n\r\n{}`);
  expect(long.split("\r\n")[0]).toBe("HTTP/1.1 431 Request Header Fields Too Large");
  expect(bodyOf(long).error.code).toBe("headers_too_large");

  const garbage = await raw("NOT HTTP AT ALL\r\n\r\n");
  expect(garbage.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
  expect(bodyOf(garbage).error).toMatchObject({ code: "bad_request", message: expect.any(String) });
});
