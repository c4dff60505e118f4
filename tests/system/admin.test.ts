// The admin API against the running system: who may use it, the type registry with template
// versions, the preview, service keys, and templates that try to run code or leak data.
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { eventually, request, serviceClient, uniqueId, userClient } from "./client";

const system = inject("system");
const [web1, web2] = system.webUrls as [string, string];
const service = serviceClient(web1, system.serviceKey);
const db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
afterAll(() => db.end());

const admin = (method: string, path: string, body?: unknown, token = system.serviceKey) => request(`${web1}/api/v1/admin${path}`, { method, token, body });

function typeBody(overrides: Record<string, unknown> = {}) {
  return {
    name: "Invoice paid",
    category: "billing",
    priority: "normal",
    channels: ["in_app", "email", "sms"],
    templates: {
      in_app: { title: "Invoice {{ data.number }} is paid", body: "Thank you, {{ recipient.name | default: 'customer' }}." },
      email: { subject: "Invoice {{ data.number }} paid", html: "<p>Hello {{ recipient.name }},</p><p>{{ data.note }}</p>" },
      sms: { body: "Invoice {{ data.number }} is paid." },
    },
    ...overrides,
  };
}

describe("access", () => {
  it("needs a key with the admin scope, or an admin's token; others get 401 or 403 and nothing", async () => {
    expect((await request(`${web1}/api/v1/admin/types`)).status).toBe(401);
    expect((await admin("GET", "/types", undefined, "nsk_not-a-real-key")).status).toBe(401);
    const created = await admin("POST", "/service-keys", { name: "billing service", scopes: ["notify"] });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^nsk_/);
    const notifyOnly = created.body.key as string;
    const refused = await admin("GET", "/types", undefined, notifyOnly);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("forbidden");
    expect((await admin("PUT", `/types/${uniqueId("t")}`, typeBody(), notifyOnly)).status).toBe(403);
    // The notify key still works where it belongs.
    expect((await request(`${web1}/api/v1/users/${uniqueId("u")}/token`, { method: "POST", token: notifyOnly, body: {} })).status).toBe(200);

    const user = uniqueId("plain");
    const userToken = await service.token(user);
    expect((await admin("GET", "/types", undefined, userToken)).status).toBe(403);
    const boss = uniqueId("boss");
    expect((await service.call("PUT", `/api/v1/users/${boss}`, { role: "admin" })).status).toBe(200);
    const adminToken = await service.token(boss);
    const listed = await admin("GET", "/types", undefined, adminToken);
    expect(listed.status).toBe(200);
    expect(listed.body.types.map((t: { key: string }) => t.key)).toEqual(expect.arrayContaining(["comment", "like", "follow", "mention", "system"]));
    // Demoted: refused at once.
    expect((await service.call("PUT", `/api/v1/users/${boss}`, { role: "user" })).status).toBe(200);
    expect((await admin("GET", "/types", undefined, adminToken)).status).toBe(403);
  });

  it("lists, creates (shown once) and revokes service keys", async () => {
    const created = await admin("POST", "/service-keys", { name: "reports", scopes: ["notify", "admin"] });
    expect(created.status).toBe(201);
    const listed = await admin("GET", "/service-keys");
    const entry = listed.body.keys.find((k: { id: string }) => k.id === created.body.id);
    expect(entry).toMatchObject({ name: "reports", scopes: ["notify", "admin"], revokedAt: null });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
    expect((await admin("GET", "/types", undefined, created.body.key)).status).toBe(200);
    expect((await admin("DELETE", `/service-keys/${created.body.id}`)).status).toBe(200);
    expect((await admin("DELETE", `/service-keys/${created.body.id}`)).status).toBe(404);
    // Revoked: refused on every node once the short per-process cache expires.
    await eventually(async () => ((await request(`${web2}/api/v1/admin/types`, { token: created.body.key })).status === 401 ? true : undefined), 15_000, "revocation");
    expect((await admin("POST", "/service-keys", { name: "", scopes: [] })).status).toBe(422);
  });
});

describe("types and templates", () => {
  it("creates a type, versions its templates only when they change, and uses it for triggers", async () => {
    const key = uniqueId("invoice");
    const first = await admin("PUT", `/types/${key}`, typeBody());
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ key, templateVersion: 1, optOut: true, respectQuietHours: true, archived: false });
    // Same templates, other settings: the same version.
    const renamed = await admin("PUT", `/types/${key}`, typeBody({ name: "Invoice settled" }));
    expect(renamed.body).toMatchObject({ name: "Invoice settled", templateVersion: 1 });
    const changed = typeBody();
    changed.templates.in_app.title = "Paid: invoice {{ data.number }}";
    expect((await admin("PUT", `/types/${key}`, changed)).body.templateVersion).toBe(2);
    const versions = await admin("GET", `/types/${key}/versions`);
    expect(versions.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);

    const user = uniqueId("payer");
    expect((await service.call("PUT", `/api/v1/users/${user}`, { name: "Pat", email: "pat@example.com" })).status).toBe(200);
    const reply = await service.trigger({ type: key, to: [user], data: { number: "A-7" } });
    expect(reply.status).toBe(202);
    const inbox = userClient(web1, await service.token(user));
    const listed = await eventually(async () => {
      const r = await inbox.list();
      return r.body.notifications.length === 1 ? r.body.notifications : undefined;
    });
    expect(listed[0]).toMatchObject({ title: "Paid: invoice A-7", body: "Thank you, Pat.", category: "billing" });
    // The send records the version it used; SMS is opt-in by default.
    const { rows } = await db.query("SELECT template_version FROM triggers WHERE id = $1", [reply.body.id]);
    expect(rows[0].template_version).toBe(2);
    const status = await eventually(async () => {
      const r = await service.status(reply.body.id);
      return r.body.status === "completed" ? r.body : undefined;
    });
    expect(status.channels.email).toMatchObject({ queued: 1 });
    expect(status.outcomes.find((o: { channel: string }) => o.channel === "sms")).toMatchObject({ status: "suppressed", reason: "channel_disabled" });
  });

  it("renders a template that reads the recipient once per recipient, each with only their own profile", async () => {
    const key = uniqueId("personal");
    const body = typeBody({ channels: ["in_app"], templates: { in_app: { title: "Hi {{ recipient.name }}", body: "{{ recipient.email }}{{ recipient.phone }}" } } });
    expect((await admin("PUT", `/types/${key}`, body)).status).toBe(200);
    const people = [
      { id: uniqueId("p"), name: "Noor" },
      { id: uniqueId("p"), name: "Ravi" },
    ];
    for (const p of people) expect((await service.call("PUT", `/api/v1/users/${p.id}`, { name: p.name, email: `${p.id}@example.com`, phone: "+4915112345678" })).status).toBe(200);
    expect((await service.trigger({ type: key, to: people.map((p) => p.id) })).status).toBe(202);
    for (const p of people) {
      const inbox = userClient(web1, await service.token(p.id));
      const n = await eventually(async () => (await inbox.list()).body.notifications[0]);
      // Their own name; contact details are not template variables at all.
      expect(n).toMatchObject({ title: `Hi ${p.name}`, body: "" });
    }
  });

  it("refuses a template that does not parse, naming the field, and stores nothing", async () => {
    const key = uniqueId("broken");
    const body = typeBody();
    body.templates.email.html = "<p>{% if data.x %}unclosed</p>";
    const reply = await admin("PUT", `/types/${key}`, body);
    expect(reply.status).toBe(422);
    expect(reply.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: "templates.email.html", message: expect.stringContaining("does not parse") })]));
    expect((await admin("GET", `/types/${key}`)).status).toBe(404);
    // A template for a channel the type does not send on; a bad duration; a bad category.
    const wrong = await admin("PUT", `/types/${key}`, typeBody({ channels: ["in_app"], batch: { email: "soon" }, category: "no spaces" }));
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(["templates.email", "batch.email", "category"]));
  });

  it("previews every channel with sample data and warns about missing variables", async () => {
    const key = uniqueId("preview");
    expect((await admin("PUT", `/types/${key}`, typeBody())).status).toBe(200);
    const email = await admin("POST", `/types/${key}/preview`, { channel: "email", data: { number: "B-1" }, recipient: { name: "Robin" } });
    expect(email.status).toBe(200);
    expect(email.body.content).toMatchObject({ subject: "Invoice B-1 paid", html: "<p>Hello Robin,</p><p></p>" });
    expect(email.body.content.text).toContain("Hello Robin,");
    expect(email.body.warnings).toEqual(["email.html: data.note is not set (it renders empty)"]);
    const sms = await admin("POST", `/types/${key}/preview`, { channel: "sms", data: { number: "B-1" } });
    expect(sms.body.content).toMatchObject({ body: "Invoice B-1 is paid.", characters: 20, segments: 1, encoding: "GSM-7" });
    // Unsaved templates from the editor.
    const draft = await admin("POST", `/types/${key}/preview`, { channel: "in_app", data: { number: "C" }, templates: { in_app: { title: "Draft {{ data.number }}", body: "" } } });
    expect(draft.body.content.title).toBe("Draft C");
    expect((await admin("POST", `/types/${key}/preview`, { channel: "push" })).status).toBe(422);
  });

  it("renders hostile variables as data: escaped in email HTML, never evaluated as template code", async () => {
    const key = uniqueId("hostile");
    expect((await admin("PUT", `/types/${key}`, typeBody())).status).toBe(200);
    const actor = { name: "<script>alert(1)</script>{{ recipient.email }}{% raw %}" };
    const reply = await admin("POST", `/types/${key}/preview`, {
      channel: "email",
      actor,
      data: { note: "<img src=x onerror=alert(1)> {{ 7 | times: 6 }}" },
      recipient: { name: "{% for i in (1..100000) %}x{% endfor %}" },
    });
    expect(reply.status).toBe(200);
    expect(reply.body.content.html).toBe("<p>Hello {% for i in (1..100000) %}x{% endfor %},</p><p>&lt;img src=x onerror=alert(1)&gt; {{ 7 | times: 6 }}</p>");
    expect(reply.body.content.html).not.toContain("42");
    // `| raw` is how an author marks a variable safe; only then does HTML pass.
    const raw = typeBody();
    raw.templates.email.html = "{{ data.note | raw }}";
    expect((await admin("PUT", `/types/${key}`, raw)).status).toBe(200);
    const trusted = await admin("POST", `/types/${key}/preview`, { channel: "email", data: { note: "<b>bold</b>" } });
    expect(trusted.body.content.html).toBe("<b>bold</b>");
  });

  it("refuses templates that reach outside the sandbox: no includes, no prototype access, bounded rendering", async () => {
    const key = uniqueId("sandbox");
    const include = typeBody();
    include.templates.in_app.title = "{% include '/etc/passwd' %}";
    const refused = await admin("PUT", `/types/${key}`, include);
    expect(refused.status).toBe(422);
    expect(refused.body.error.details[0]).toMatchObject({ field: "templates.in_app.title", message: expect.stringContaining("include tag is not available") });
    const proto = typeBody();
    proto.templates.in_app.title = "[{{ data.constructor.name }}{{ data.__proto__ }}{{ data.number.toString }}]";
    expect((await admin("PUT", `/types/${key}`, proto)).status).toBe(200);
    const reply = await admin("POST", `/types/${key}/preview`, { channel: "in_app", data: { number: 1 } });
    expect(reply.status).toBe(200);
    expect(reply.body.content.title).toBe("[]");
    const loop = typeBody();
    loop.templates.in_app.title = "{% for i in (1..100000000) %}{% for j in (1..100000000) %}x{% endfor %}{% endfor %}";
    expect((await admin("PUT", `/types/${key}`, loop)).status).toBe(200);
    // The render limit stops it: the preview says so instead of hanging the node.
    const stopped = await admin("POST", `/types/${key}/preview`, { channel: "in_app" });
    expect(stopped.status).toBe(422);
    expect(stopped.body.error.message).toContain("does not render");
    expect((await request(`${web1}/api/health`)).status).toBe(200);
  });

  it("an archived type accepts no new triggers, and comes back when restored", async () => {
    const key = uniqueId("old");
    expect((await admin("PUT", `/types/${key}`, typeBody({ archived: true }))).body.archived).toBe(true);
    const refused = await service.trigger({ type: key, to: [uniqueId("u")], data: { number: 1 } });
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toContain("archived");
    expect((await admin("PUT", `/types/${key}`, typeBody())).body.archived).toBe(false);
    expect((await service.trigger({ type: key, to: [uniqueId("u")], data: { number: 1 } })).status).toBe(202);
  });

  it("picks the recipient's locale, falling back to the language and then to the default", async () => {
    const key = uniqueId("hello");
    const body = typeBody({
      channels: ["in_app"],
      templates: { in_app: { title: "Hello", body: "" } },
      locales: { de: { in_app: { title: "Hallo", body: "" } }, "pt-BR": { in_app: { title: "Olá", body: "" } } },
    });
    expect((await admin("PUT", `/types/${key}`, body)).status).toBe(200);
    const users = { at: ["de-AT", "Hallo"], de: ["de", "Hallo"], br: ["pt-BR", "Olá"], pt: ["pt-PT", "Hello"], fr: ["fr", "Hello"], none: [null, "Hello"] } as const;
    const ids: Record<string, string> = {};
    for (const [name, [locale]] of Object.entries(users)) {
      ids[name] = uniqueId(name);
      expect((await service.call("PUT", `/api/v1/users/${ids[name]}`, locale ? { locale } : {})).status).toBe(200);
    }
    expect((await service.trigger({ type: key, to: Object.values(ids) })).status).toBe(202);
    for (const [name, [, title]] of Object.entries(users)) {
      const inbox = userClient(web1, await service.token(ids[name]!));
      const got = await eventually(async () => (await inbox.list()).body.notifications[0]?.title);
      expect(got, name).toBe(title);
    }
    // The same through a topic: an inbox-only topic fan-out picks the texts in PostgreSQL.
    const topic = uniqueId("hello-topic");
    expect((await service.call("PUT", `/api/v1/topics/${topic}/subscribers`, { userIds: Object.values(ids) })).status).toBe(200);
    const second = await service.trigger({ type: key, to: { topic } });
    expect(second.status).toBe(202);
    for (const [name, [, title]] of Object.entries(users)) {
      const inbox = userClient(web1, await service.token(ids[name]!));
      const got = await eventually(async () => {
        const list = (await inbox.list()).body.notifications;
        return list.length === 2 ? list.map((n: { title: string }) => n.title) : undefined;
      });
      expect(got, name).toEqual([title, title]);
    }
  });
});
