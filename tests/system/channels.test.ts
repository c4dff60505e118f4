// Email and SMS delivery on the running system, against local stand-ins for Resend and a
// Twilio-style SMS API (tests/system/provider-stand-ins.ts): sent exactly once, Retry-After honoured,
// an outage survived, permanent errors and exhausted attempts in the dead-letter queue, replayed.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, request, serviceClient, uniqueId } from "./client";
import { startProviderStandIns } from "./provider-stand-ins";
import { startSystem, type System } from "./start-system";

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

describe("sms", () => {
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
  });
});
