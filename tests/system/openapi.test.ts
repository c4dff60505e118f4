// The OpenAPI document at /api/openapi.json describes exactly the routes that exist: every route
// file's handlers are in it, and every documented operation answers on the running web node (a
// handler's own answer, never the framework's 404 page or 405).
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { expect, inject, it } from "vitest";
import { request } from "./client";

const system = inject("system");
const web = system.webUrls[0]!;

// "METHOD /path/{param}" for every exported handler of every route.ts under app/.
function routeFiles(dir = "app"): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    // The catch-all for /api paths without a route (a 404 in API.md's format) is not an operation.
    if (entry === "[...path]") continue;
    if (statSync(full).isDirectory()) out.push(...routeFiles(full));
    else if (entry === "route.ts") {
      const route = ("/" + path.relative("app", dir)).replace(/\[([^\]]+)\]/g, "{$1}");
      const source = readFileSync(full, "utf8");
      for (const m of source.matchAll(/export (?:const|async function|function) (GET|POST|PUT|DELETE|PATCH)\b/g)) out.push(`${m[1]} ${route}`);
    }
  }
  return out;
}

it("documents every route handler, and nothing that does not exist", async () => {
  const reply = await request(`${web}/api/openapi.json`);
  expect(reply.status).toBe(200);
  const doc = reply.body;
  expect(doc.openapi).toBe("3.1.0");
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
  const implemented = routeFiles();
  expect(implemented.length).toBeGreaterThan(50);
  expect(implemented.filter((r) => !documented.includes(r)), "route handlers missing from the document").toEqual([]);
  expect(documented.filter((r) => !implemented.includes(r)), "documented routes without a handler").toEqual([]);
  // Request bodies come from the validating zod schemas.
  const trigger = doc.paths["/api/v1/notifications"].post.requestBody.content["application/json"].schema;
  expect(trigger.required).toEqual(expect.arrayContaining(["type", "to"]));
  expect(doc.components.schemas.Error.properties.error.required).toEqual(expect.arrayContaining(["code", "message"]));
});

it("every documented operation answers from its handler on the running system", async () => {
  const doc = (await request(`${web}/api/openapi.json`)).body;
  const wrong: string[] = [];
  for (const [p, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    const url = web + p.replace(/\{[^}]+\}/g, "probe-0");
    for (const method of Object.keys(methods)) {
      const response = await fetch(url, {
        method: method.toUpperCase(),
        redirect: "manual",
        headers: method === "get" ? {} : { "content-type": "application/json" },
        body: method === "get" ? undefined : "{}",
      });
      const text = await response.text();
      // The framework's own 404 is an HTML page, the catch-all's names no route, and 405 means no
      // handler for the method.
      const frameworkMiss = response.status === 405 || (response.status === 404 && (!text.startsWith("{") || text.includes("No API route answers")));
      if (frameworkMiss || response.status >= 500) wrong.push(`${method.toUpperCase()} ${p} → ${response.status}`);
    }
  }
  expect(wrong).toEqual([]);
});

it("an /api path that no route serves answers 404 in API.md's format, also where URL rules drop a dot segment", async () => {
  for (const [method, path] of [
    ["GET", "/api/v1/no-such-thing"],
    ["PUT", "/api/v1/topics/./subscribers"],
    ["DELETE", "/api/v1/topics/../x"],
  ] as const) {
    const response = await fetch(`${web}${path}`, { method, headers: { authorization: `Bearer ${system.serviceKey}`, "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" });
    expect(response.status, `${method} ${path}`).toBe(404);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("not_found");
    expect(body.error.message).toMatch(/^No API route answers /);
  }
});
