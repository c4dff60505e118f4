// Property-based abuse of every route in the OpenAPI document (fast-check): random JSON bodies,
// hostile and oversized strings, random path ids and query strings, sent with the credentials each
// route expects. Whatever comes in, the answer is never a 5xx, and every refusal has API.md's error
// body.
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
