// Email and SMS delivery on the running system, against local stand-ins for Resend and a
// Twilio-style SMS API (tests/system/provider-stand-ins.ts): sent exactly once, Retry-After honoured,
// an outage survived, permanent errors and exhausted attempts in the dead-letter queue, replayed.
import { createHmac, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, request, serviceClient, uniqueId } from "./client";
import { startProviderStandIns } from "./provider-stand-ins";
import { startSystem, type System } from "./start-system";

const WEBHOOK_SECRET = `whsec_${Buffer.from("a webhook secret for the tests").toString("base64")}`;
let system: System;
let providers: Awaited<ReturnType<typeof startProviderStandIns>>;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  providers = await startProviderStandIns({ emailKey: "re_test_key", smsSid: "AC123", smsToken: "sms-token" });
  system = await startSystem({
    webNodes: 1,
    relays: 1,
    fanoutWorkers: 1,
    channelWorkers: 2,
    env: {
      RESEND_API_KEY: "re_test_key",
      RESEND_BASE_URL: providers.url,
      EMAIL_FROM: "Notify <notify@example.com>",
      SMS_BASE_URL: providers.url,
      SMS_ACCOUNT_SID: "AC123",
      SMS_AUTH_TOKEN: "sms-token",
      SMS_FROM: "+15005550006",
      CHANNEL_BACKOFF_MS: "100",
      CHANNEL_BACKOFF_MAX_MS: "1500",
      EMAIL_MAX_ATTEMPTS: "4",
      // Low enough to see it hold across both worker processes.
      EMAIL_RATE_PER_SECOND: "10",
      PROVIDER_TIMEOUT_MS: "700",
      RESEND_WEBHOOK_SECRET: WEBHOOK_SECRET,
      // Links in emails and the signed SMS callback URL use it.
      PUBLIC_URL: "https://notify.test",
    },
  });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
  await providers?.stop();
});

beforeEach(() => {
  providers.failWith("email", null);
  providers.failWith("sms", null);
  providers.slow("email", 0);
});

async function recipient(prefix: string, profile: Record<string, unknown> = {}) {
  const userId = uniqueId(prefix);
  expect((await service.call("PUT", `/api/v1/users/${userId}`, { name: "Robin", email: `${userId}@example.com`, ...profile })).status).toBe(200);
  return userId;
}

const emailsTo = (userId: string) => providers.sent.email.filter((e) => (e.body.to as string[])[0] === `${userId}@example.com`);

async function delivery(triggerId: string, userId: string, channel: string) {
  const { rows } = await db.query("SELECT status, reason, attempts, provider_id, last_error FROM deliveries WHERE trigger_id = $1 AND user_id = $2 AND channel = $3", [triggerId, userId, channel]);
  return rows[0] as { status: string; reason: string | null; attempts: number; provider_id: string | null; last_error: string | null } | undefined;
}

describe("email", () => {
  it("renders the type's email template and sends it once, recorded as sent", async () => {
    const userId = await recipient("mail");
    const reply = await service.trigger({ type: "comment", to: [userId], actor: { id: "a", name: "Ann <b>" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "<script>x</script>" } });
    await eventually(async () => ((await delivery(reply.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000, "email sent");
    const [email] = emailsTo(userId);
    expect(emailsTo(userId)).toHaveLength(1);
    expect(email!.body).toMatchObject({ from: "Notify <notify@example.com>", to: [`${userId}@example.com`], subject: "Ann <b> commented on your post" });
    expect(email!.body.html).toContain("Hi Robin,");
    expect(email!.body.html).toContain("&lt;script&gt;x&lt;/script&gt;");
    expect(email!.body.html).not.toContain("<script>");
    expect(email!.body.text).toContain('"<script>x</script>"');
    expect(email!.idempotencyKey).toBe(`${reply.body.id}/email/${userId}`);
    expect(await delivery(reply.body.id, userId, "email")).toMatchObject({ attempts: 1, provider_id: email ? expect.stringMatching(/^em_/) : null });
    const status = (await service.status(reply.body.id)).body;
    expect(status.channels.email).toMatchObject({ sent: 1, queued: 0 });
  });

  it("honours Retry-After on a 429 and then sends once", async () => {
    providers.failWith("email", { status: 429, retryAfter: "1", times: 1 });
    const userId = await recipient("limited");
    const before = providers.attempts.email;
    const started = Date.now();
    const reply = await service.trigger({ type: "system", to: [userId], title: "Your code is 123456" });
    await eventually(async () => ((await delivery(reply.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000, "email sent");
    expect(emailsTo(userId)).toHaveLength(1);
    expect(emailsTo(userId)[0]!.at - started, "waited for Retry-After").toBeGreaterThanOrEqual(1000);
    // Each attempt is in the log, and in the admin timeline.
    const { rows: log } = await db.query("SELECT outcome, error FROM delivery_attempts WHERE trigger_id = $1 AND user_id = $2 AND channel = 'email' ORDER BY id", [reply.body.id, userId]);
    expect(log.map((l) => l.outcome)).toEqual(["failed", "sent"]);
    expect(log[0].error).toContain("429");
    const timeline = (await request(`${system.webUrls[0]}/api/v1/admin/activity/${reply.body.id}/${userId}`, { token: system.serviceKey })).body.events as { channel: string; event: string }[];
    expect(timeline.filter((e) => e.channel === "email").map((e) => e.event)).toEqual(expect.arrayContaining(["attempt: failed", "attempt: sent"]));
    expect(providers.attempts.email - before).toBe(2);
    expect(await delivery(reply.body.id, userId, "email")).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("an outage then recovery: every email is sent exactly once in the end", async () => {
    providers.failWith("email", { status: 503 });
    const users = await Promise.all(Array.from({ length: 5 }, (_, i) => recipient(`outage${i}`)));
    const reply = await service.trigger({ type: "system", to: users, title: "Maintenance tonight" });
    await eventually(async () => (providers.attempts.email > 0 ? true : undefined), 5000);
    await new Promise((r) => setTimeout(r, 800));
    providers.failWith("email", null);
    await eventually(
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM deliveries WHERE trigger_id = $1 AND channel = 'email' AND status = 'sent'", [reply.body.id]);
        return rows[0].n === 5 ? true : undefined;
      },
      20_000,
      "all five sent",
    );
    for (const user of users) expect(emailsTo(user), user).toHaveLength(1);
  });

  it("a permanent error fails at once into the dead-letter queue; a replay sends it once", async () => {
    providers.failWith("email", { status: 422, times: 1 });
    const userId = await recipient("refused");
    const reply = await service.trigger({ type: "system", to: [userId], title: "Welcome" });
    const failed = await eventually(async () => {
      const d = await delivery(reply.body.id, userId, "email");
      return d?.status === "failed" ? d : undefined;
    }, 10_000);
    expect(failed).toMatchObject({ reason: "invalid_request", attempts: 1 });
    const admin = (method: string, path: string, body?: unknown) => request(`${system.webUrls[0]}/api/v1/admin${path}`, { method, token: system.serviceKey, body });
    const listed = (await admin("GET", "/dead-letters?channel=email")).body.deadLetters as { id: number; userId: string; error: string }[];
    const letter = listed.find((l) => l.userId === userId)!;
    expect(letter.error).toContain("422");
    expect((await admin("POST", "/dead-letters/replay", { ids: [letter.id] })).body).toEqual({ replayed: 1 });
    await eventually(async () => ((await delivery(reply.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000, "replayed and sent");
    expect(emailsTo(userId)).toHaveLength(1);
    expect((await admin("GET", "/dead-letters?channel=email")).body.deadLetters.find((l: { userId: string }) => l.userId === userId)).toBeUndefined();
    expect((await admin("POST", "/dead-letters/replay", { ids: [letter.id] })).body).toEqual({ replayed: 0 });
  });

  it("after its last attempt a delivery stops (dead-letter queue), none is sent until a replay", async () => {
    providers.failWith("email", { status: 500 });
    const userId = await recipient("exhausted");
    const reply = await service.trigger({ type: "system", to: [userId], title: "Invoice" });
    const failed = await eventually(async () => {
      const d = await delivery(reply.body.id, userId, "email");
      return d?.status === "failed" ? d : undefined;
    }, 20_000);
    expect(failed).toMatchObject({ reason: "provider_error", attempts: 4 });
    providers.failWith("email", null);
    await new Promise((r) => setTimeout(r, 1000));
    expect(emailsTo(userId)).toHaveLength(0);
    const admin = (method: string, path: string, body?: unknown) => request(`${system.webUrls[0]}/api/v1/admin${path}`, { method, token: system.serviceKey, body });
    expect((await admin("POST", "/dead-letters/replay", { all: true, channel: "email" })).body.replayed).toBeGreaterThanOrEqual(1);
    await eventually(async () => ((await delivery(reply.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000, "replayed and sent");
    expect(emailsTo(userId)).toHaveLength(1);
  });
});

describe("a slow provider", () => {
  it("a call that times out is retried with the same idempotency key: the email goes out once", async () => {
    providers.slow("email", 1500);
    const userId = await recipient("slowpoke");
    const before = providers.attempts.email;
    const reply = await service.trigger({ type: "system", to: [userId], title: "Slow day" });
    // The first call times out after 700 ms (the provider still accepts it, late); the retry finds
    // the provider's answer for that key.
    await eventually(async () => (providers.attempts.email - before >= 2 ? true : undefined), 10_000, "a retry");
    providers.slow("email", 0);
    await eventually(async () => ((await delivery(reply.body.id, userId, "email"))?.status === "sent" ? true : undefined), 15_000, "email sent");
    expect(emailsTo(userId)).toHaveLength(1);
    expect((await delivery(reply.body.id, userId, "email"))!.attempts).toBeGreaterThanOrEqual(2);
  });
});

describe("provider rate limit", () => {
  it("holds across both channel worker processes: 30 emails at 10/s take at least 2 s, each sent once", async () => {
    const users = await Promise.all(Array.from({ length: 30 }, (_, i) => recipient(`rate${i}`)));
    const reply = await service.trigger({ type: "system", to: users, title: "Quarterly report" });
    await eventually(
      async () => {
        const { rows } = await db.query("SELECT count(*)::int AS n FROM deliveries WHERE trigger_id = $1 AND channel = 'email' AND status = 'sent'", [reply.body.id]);
        return rows[0].n === 30 ? true : undefined;
      },
      20_000,
      "all 30 sent",
    );
    const times = users.map((u) => {
      expect(emailsTo(u), u).toHaveLength(1);
      return emailsTo(u)[0]!.at;
    });
    // 10 per second per queue, whichever process takes the job: 30 need three windows.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(1800);
  });
});

describe("email links", () => {
  it("tracks opens and clicks through signed links, refuses tampered ones, and unsubscribes in one click", async () => {
    const userId = await recipient("links");
    const web = system.webUrls[0]!;
    const reply = await service.trigger({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" }, target: { type: "post", id: "9", url: "/posts/9" }, data: { excerpt: "hi" } });
    await eventually(async () => ((await delivery(reply.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000);
    const email = emailsTo(userId)[0]!;
    const html = email.body.html as string;
    const path = (kind: string) => new URL(html.match(new RegExp(`"(https?://[^"]+/e/${kind}/[^"]+)"`))![1]!).pathname;
    // The link to the post goes through a signed redirect; an open pixel is there.
    const click = path("c");
    const pixel = path("o");
    expect(html).not.toContain('href="/posts/9"');

    expect((await fetch(`${web}${pixel}`)).headers.get("content-type")).toBe("image/gif");
    expect(await delivery(reply.body.id, userId, "email")).toMatchObject({ status: "opened" });
    const redirected = await fetch(`${web}${click}`, { redirect: "manual" });
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get("location")).toMatch(/\/posts\/9$/);
    expect(await delivery(reply.body.id, userId, "email")).toMatchObject({ status: "clicked" });
    const status = (await service.status(reply.body.id)).body;
    expect(status.channels.email).toMatchObject({ sent: 1, opened: 1, clicked: 1 });

    // Tampered: another target with the old signature, or no signature: no redirect anywhere.
    const [data, signature] = click.split("/").pop()!.split(".");
    const payload = JSON.parse(Buffer.from(data!, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, url: "https://evil.example/phish" })).toString("base64url");
    for (const token of [`${forged}.${signature}`, forged, "x.y"]) {
      const answer = await fetch(`${web}/e/c/${token}`, { redirect: "manual" });
      expect(answer.status).toBe(400);
      expect(answer.headers.get("location")).toBeNull();
    }

    // RFC 8058: the header pair, and a one-click POST turns the category's email off.
    const headers = email.body.headers as Record<string, string>;
    expect(headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const unsubscribe = headers["List-Unsubscribe"]!.replace(/^<|>$/g, "");
    const unsubscribePath = new URL(unsubscribe).pathname;
    expect((await fetch(`${web}${unsubscribePath}`)).status).toBe(200); // GET only shows a page
    const token = await service.token(userId);
    expect((await request(`${web}/api/preferences`, { token })).body.categories).toEqual({});
    const oneClick = await fetch(`${web}${unsubscribePath}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    expect(oneClick.status).toBe(200);
    expect((await request(`${web}/api/preferences`, { token })).body.categories).toEqual({ engagement: { email: false } });
    const next = await service.trigger({ type: "mention", to: [userId], actor: { id: "a", name: "Ann" } });
    await eventually(async () => ((await service.status(next.body.id)).body.status === "completed" ? true : undefined));
    expect(await delivery(next.body.id, userId, "email")).toMatchObject({ status: "suppressed", reason: "category_muted" });
    // A type users cannot turn off carries no unsubscribe header.
    const system2 = await service.trigger({ type: "system", to: [userId], title: "Password changed" });
    await eventually(async () => ((await delivery(system2.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000);
    expect(emailsTo(userId).at(-1)!.body.headers).toBeUndefined();
  });
});

/** A webhook as Resend sends it: Svix headers over the exact body. */
function signedEmailWebhook(event: unknown, options: { secret?: string; id?: string; timestamp?: number } = {}) {
  const body = JSON.stringify(event);
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const key = Buffer.from((options.secret ?? WEBHOOK_SECRET).replace(/^whsec_/, ""), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { body, headers: { "content-type": "application/json", "svix-id": id, "svix-timestamp": timestamp, "svix-signature": `v1,${signature}` } };
}

describe("provider feedback", () => {
  it("a signed bounce suppresses the address; a forged or replayed one changes nothing; an admin can lift it", async () => {
    const userId = await recipient("bouncy");
    const web = system.webUrls[0]!;
    const first = await service.trigger({ type: "system", to: [userId], title: "Receipt" });
    const sent = await eventually(async () => {
      const d = await delivery(first.body.id, userId, "email");
      return d?.status === "sent" ? d : undefined;
    }, 10_000);
    const event = { type: "email.bounced", data: { email_id: sent.provider_id, to: [`${userId}@example.com`], bounce: { type: "Permanent" } } };
    const post = (signed: ReturnType<typeof signedEmailWebhook>) => fetch(`${web}/api/webhooks/email`, { method: "POST", headers: signed.headers, body: signed.body });

    // Forged: another secret, a stale timestamp, no signature.
    expect((await post(signedEmailWebhook(event, { secret: `whsec_${Buffer.from("wrong").toString("base64")}` }))).status).toBe(401);
    expect((await post(signedEmailWebhook(event, { timestamp: Math.floor(Date.now() / 1000) - 3600 }))).status).toBe(401);
    expect((await fetch(`${web}/api/webhooks/email`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(event) })).status).toBe(401);
    expect(await delivery(first.body.id, userId, "email")).toMatchObject({ status: "sent" });

    const signed = signedEmailWebhook(event);
    const accepted = await post(signed);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ result: "bounced" });
    expect(await delivery(first.body.id, userId, "email")).toMatchObject({ status: "failed", reason: "bounced" });
    expect((await post(signed)).status, "the same message again is a replay").toBe(409);

    const admin = (method: string, path: string) => request(`${web}/api/v1/admin${path}`, { method, token: system.serviceKey });
    expect((await admin("GET", "/suppressions")).body.suppressions).toEqual(expect.arrayContaining([expect.objectContaining({ channel: "email", address: `${userId}@example.com`, reason: "bounced" })]));
    const second = await service.trigger({ type: "system", to: [userId], title: "Another receipt" });
    await eventually(async () => ((await delivery(second.body.id, userId, "email"))?.status === "suppressed" ? true : undefined), 10_000);
    expect(await delivery(second.body.id, userId, "email")).toMatchObject({ reason: "bounced" });
    expect(emailsTo(userId)).toHaveLength(1);

    expect((await admin("DELETE", `/suppressions?channel=email&address=${encodeURIComponent(`${userId}@example.com`)}`)).status).toBe(200);
    const third = await service.trigger({ type: "system", to: [userId], title: "Third receipt" });
    await eventually(async () => ((await delivery(third.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000);
    // Delivered events move a sent email on.
    const delivered = await delivery(third.body.id, userId, "email");
    expect((await post(signedEmailWebhook({ type: "email.delivered", data: { email_id: delivered!.provider_id } }))).status).toBe(200);
    expect(await delivery(third.body.id, userId, "email")).toMatchObject({ status: "delivered" });
  });

  it("an SMS reply of STOP turns that user's SMS off; an unsigned one changes nothing", async () => {
    const userId = await recipient("stopper", { phone: "+4915199999999" });
    const token = await service.token(userId);
    const web = system.webUrls[0]!;
    expect((await request(`${web}/api/preferences`, { method: "PUT", token, body: { channels: { sms: true } } })).status).toBe(200);
    const params = new URLSearchParams({ From: "+4915199999999", To: "+15005550006", Body: "STOP", MessageSid: "" });
    params.delete("MessageSid");
    const sign = (p: URLSearchParams, authToken = "sms-token") =>
      createHmac("sha1", authToken).update(`https://notify.test/api/webhooks/sms${[...p.keys()].sort().map((k) => `${k}${p.get(k)}`).join("")}`).digest("base64");
    const forged = await fetch(`${web}/api/webhooks/sms`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sign(params, "not-the-token") }, body: params });
    expect(forged.status).toBe(401);
    expect((await request(`${web}/api/preferences`, { token })).body.channels.sms).toBe(true);
    const stop = await fetch(`${web}/api/webhooks/sms`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sign(params) }, body: params });
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ result: "sms_off" });
    expect((await request(`${web}/api/preferences`, { token })).body.channels.sms).toBe(false);
  });
});

describe("sms", () => {
  it("cuts a body to the segment budget of its type", async () => {
    const key = uniqueId("sms_alert");
    const type = { name: "Alert", category: "system", channels: ["sms"], optOut: false, templates: { sms: { body: "{{ data.text }}", maxSegments: 1 } } };
    expect((await request(`${system.webUrls[0]}/api/v1/admin/types/${key}`, { method: "PUT", token: system.serviceKey, body: type })).status).toBe(200);
    const userId = await recipient("budget", { phone: "+4915100000001" });
    // An SMS-only type needs no in-app template and no title.
    const reply = await service.trigger({ type: key, to: [userId], data: { text: "All systems are degraded. ".repeat(20) } });
    expect(reply.status).toBe(202);
    await eventually(async () => ((await delivery(reply.body.id, userId, "sms"))?.status === "sent" ? true : undefined), 10_000, "sms sent");
    const text = providers.sent.sms.find((s) => s.body.To === "+4915100000001")!.body.Body as string;
    expect(text.length).toBeLessThanOrEqual(160);
    expect(text.endsWith("...")).toBe(true);
  });

  it("sends to an E.164 number once the user turned SMS on, and refuses a malformed number at once", async () => {
    const good = await recipient("texted", { phone: "+4915112345678" });
    // The API only takes E.164 numbers; a number stored before that rule is refused by the worker.
    const refusedByApi = await service.call("PUT", `/api/v1/users/${uniqueId("x")}`, { phone: "0151 1234" });
    expect(refusedByApi.status).toBe(422);
    const bad = await recipient("badphone");
    await db.query("UPDATE users SET phone = '0151 1234' WHERE id = $1", [bad]);
    for (const user of [good, bad]) {
      const token = await service.token(user);
      expect((await request(`${system.webUrls[0]}/api/preferences`, { method: "PUT", token, body: { channels: { sms: true } } })).status).toBe(200);
    }
    const reply = await service.trigger({ type: "system", to: [good, bad], title: "Code", body: "Your sign-in code is 424242" });
    await eventually(async () => ((await delivery(reply.body.id, good, "sms"))?.status === "sent" ? true : undefined), 10_000, "sms sent");
    const texts = providers.sent.sms.filter((s) => s.body.To === "+4915112345678");
    expect(texts).toHaveLength(1);
    expect(texts[0]!.body).toMatchObject({ From: "+15005550006", Body: "Code: Your sign-in code is 424242" });
    const refused = await eventually(async () => {
      const d = await delivery(reply.body.id, bad, "sms");
      return d?.status === "failed" ? d : undefined;
    });
    expect(refused).toMatchObject({ reason: "invalid_address", attempts: 1 });
    // The carrier's status callback (Twilio-signed) records the SMS as delivered.
    const sid = (await delivery(reply.body.id, good, "sms"))!.provider_id!;
    const callback = new URLSearchParams({ MessageSid: sid, MessageStatus: "delivered", To: "+4915112345678" });
    const signature = createHmac("sha1", "sms-token").update(`https://notify.test/api/webhooks/sms${[...callback.keys()].sort().map((k) => `${k}${callback.get(k)}`).join("")}`).digest("base64");
    const answer = await fetch(`${system.webUrls[0]}/api/webhooks/sms`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature }, body: callback });
    expect(await answer.json()).toEqual({ result: "delivered" });
    expect(await delivery(reply.body.id, good, "sms")).toMatchObject({ status: "delivered" });
  });
});

describe("batching windows", () => {
  async function batchType(email: Record<string, string>): Promise<string> {
    const key = uniqueId("batched");
    const type = { name: "Comment", category: "engagement", channels: ["in_app", "email"], batch: { email: "3s" }, templates: { in_app: { title: "{{ actor.name }} commented", body: "" }, email } };
    const reply = await request(`${system.webUrls[0]}/api/v1/admin/types/${key}`, { method: "PUT", token: system.serviceKey, body: type });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return key;
  }
  const completed = (id: string) => eventually(async () => ((await service.status(id)).body.status === "completed" ? true : undefined));

  it("the first email opens a window, the window's end sends one summary of all of it; urgent never waits", async () => {
    const key = await batchType({ subject: "{{ actors | actor_names: actorCount }} commented on your post", html: "<p>{% if batchCount > 1 %}{{ batchCount }} new comments{% else %}A new comment{% endif %}</p>" });
    const userId = await recipient("window");
    const ids: string[] = [];
    for (const name of ["Al", "Bo", "Cy"]) {
      const reply = await service.trigger({ type: key, to: [userId], actor: { id: name.toLowerCase(), name } });
      expect(reply.status).toBe(202);
      await completed(reply.body.id);
      expect(await delivery(reply.body.id, userId, "email")).toMatchObject({ status: "batched", reason: "batch_window" });
      ids.push(reply.body.id);
    }
    // Urgent goes at once, outside the window.
    const urgent = await service.trigger({ type: key, to: [userId], actor: { id: "dee", name: "Dee" }, priority: "urgent" });
    await eventually(async () => ((await delivery(urgent.body.id, userId, "email"))?.status === "sent" ? true : undefined), 10_000, "urgent sent");
    expect(emailsTo(userId).map((e) => e.body.subject)).toEqual(["Dee commented on your post"]);
    // The window ends 3 s after the first: one email for the three, each delivery sent.
    const statuses = await eventually(async () => {
      const all = await Promise.all(ids.map((id) => delivery(id, userId, "email")));
      return all.every((d) => d?.status === "sent") ? all : undefined;
    }, 15_000, "summary sent");
    const emails = emailsTo(userId);
    expect(emails).toHaveLength(2);
    expect(emails[1]!.body).toMatchObject({ subject: "Cy, Bo and Al commented on your post" });
    expect(emails[1]!.body.html).toContain("3 new comments");
    // Every delivery of the window carries the summary's provider id (delivered/opened reach them all).
    expect(new Set(statuses.map((d) => d!.provider_id)).size).toBe(1);
    // The next event opens a new window.
    const later = await service.trigger({ type: key, to: [userId], actor: { id: "eve", name: "Eve" } });
    await completed(later.body.id);
    expect(await delivery(later.body.id, userId, "email")).toMatchObject({ status: "batched", reason: "batch_window" });
    await eventually(async () => ((await delivery(later.body.id, userId, "email"))?.status === "sent" ? true : undefined), 15_000, "next window");
    expect(emailsTo(userId).at(-1)!.body.subject).toBe("Eve commented on your post");
  });

  it("a template that does not speak of the batch gets '(+n more)' and the list of the others", async () => {
    const key = await batchType({ subject: "{{ actor.name }} commented", html: "<p>{{ actor.name }} commented</p>" });
    const userId = await recipient("plain");
    for (const name of ["Fay", "Gus"]) await completed((await service.trigger({ type: key, to: [userId], actor: { id: name, name } })).body.id);
    await eventually(async () => (emailsTo(userId).length === 1 ? true : undefined), 15_000, "summary");
    await new Promise((r) => setTimeout(r, 500));
    const [email] = emailsTo(userId);
    expect(emailsTo(userId)).toHaveLength(1);
    expect(email!.body.subject).toBe("Gus commented (+1 more)");
    expect(email!.body.html).toContain("Also since then:");
    expect(email!.body.html).toContain("<li>Fay commented</li>");
  });
});
