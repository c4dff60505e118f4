// The admin overview (GET /api/v1/admin/overview) on a running system of its own (so no other test's
// traffic moves its numbers), with a local stand-in for the email provider: sent and failed per
// channel in the bucket of now, the queues (a retry waiting as a delayed job), and the in-app funnel
// as a device acknowledges, sees and clicks; who may read it, and a bad window.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Overview } from "@/server/metrics/overview.schema";
import { connectDevice, eventually, request, serviceClient, uniqueId, userClient } from "./client";
import { startProviderStandIns } from "./provider-stand-ins";
import { startSystem, type System } from "./start-system";

let system: System;
let providers: Awaited<ReturnType<typeof startProviderStandIns>>;
let service: ReturnType<typeof serviceClient>;
let web: string;

beforeAll(async () => {
  providers = await startProviderStandIns({ emailKey: "re_test_key", smsSid: "AC123", smsToken: "sms-token" });
  system = await startSystem({
    webNodes: 1,
    relays: 1,
    fanoutWorkers: 1,
    channelWorkers: 1,
    env: { RESEND_API_KEY: "re_test_key", RESEND_BASE_URL: providers.url, EMAIL_FROM: "Notify <notify@example.com>", CHANNEL_BACKOFF_MS: "100" },
  });
  web = system.webUrls[0]!;
  service = serviceClient(web, system.serviceKey);
});

afterAll(async () => {
  await system?.stop();
  await providers?.stop();
});

const overview = async (window = "1h", token = system.serviceKey) => request<Overview>(`${web}/api/v1/admin/overview?window=${window}`, { token });

/** Polls the overview until `check` accepts it (answers are shared for 2 s, and sends take a moment). */
function overviewWhere(check: (o: Overview) => boolean, what: string): Promise<Overview> {
  return eventually(
    async () => {
      const reply = await overview();
      expect(reply.status).toBe(200);
      return check(reply.body) ? reply.body : undefined;
    },
    20_000,
    what,
  );
}

async function recipient(prefix: string): Promise<string> {
  const userId = uniqueId(prefix);
  expect((await service.call("PUT", `/api/v1/users/${userId}`, { name: "Robin", email: `${userId}@example.com` })).status).toBe(200);
  return userId;
}

const comment = (to: string[]) => service.trigger({ type: "comment", to, actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "Nice" } });
const sum = (o: Overview, channel: keyof Overview["totals"], field: "sent" | "failed") => o.buckets.reduce((n, b) => n + b.channels[channel][field], 0);

describe("access and input", () => {
  it("refuses missing credentials (401) and non-admins (403), and answers admins' tokens and keys", async () => {
    const anonymous = await request(`${web}/api/v1/admin/overview`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe("unauthorized");
    const plain = await overview("1h", await service.token(uniqueId("plain")));
    expect(plain.status).toBe(403);
    expect((plain.body as unknown as { error: { code: string } }).error.code).toBe("forbidden");
    const boss = uniqueId("boss");
    expect((await service.call("PUT", `/api/v1/users/${boss}`, { role: "admin" })).status).toBe(200);
    expect((await overview("1h", await service.token(boss))).status).toBe(200);
  });

  it("answers 422 naming the field for a window it does not offer", async () => {
    for (const bad of ["2h", "", "1h;DROP", "0"]) {
      const reply = await request(`${web}/api/v1/admin/overview?window=${encodeURIComponent(bad)}`, { token: system.serviceKey });
      expect(reply.status, bad).toBe(422);
      expect(reply.body.error.code).toBe("validation_failed");
      expect(reply.body.error.details).toEqual([expect.objectContaining({ field: "window" })]);
    }
  });

  it("covers each window with contiguous buckets, the last one holding now (1 h by default)", async () => {
    const byDefault = await request<Overview>(`${web}/api/v1/admin/overview`, { token: system.serviceKey });
    expect(byDefault.body).toMatchObject({ window: "1h", bucketSeconds: 60 });
    for (const [window, seconds, count] of [
      ["15m", 60, 15],
      ["1h", 60, 60],
      ["6h", 300, 72],
      ["24h", 900, 96],
    ] as const) {
      const { status, body } = await overview(window);
      expect(status).toBe(200);
      expect(body.window).toBe(window);
      expect(body.bucketSeconds).toBe(seconds);
      expect(body.buckets).toHaveLength(count);
      const starts = body.buckets.map((b) => Date.parse(b.at));
      starts.forEach((start, i) => i > 0 && expect(start - starts[i - 1]!).toBe(seconds * 1000));
      expect(body.from).toBe(body.buckets[0]!.at);
      const to = Date.parse(body.to);
      expect(to).toBeGreaterThanOrEqual(starts.at(-1)!);
      expect(to).toBeLessThan(starts.at(-1)! + seconds * 1000);
      expect(body.queues?.map((q) => q.queue)).toEqual(["fanout", "push", "email", "sms"]);
    }
  });
});

describe("numbers", () => {
  it("starts at zero on a fresh system, then counts sends and failures per channel, the queues and the funnel", async () => {
    const before = (await overview()).body;
    expect(before.totals).toEqual({ in_app: { sent: 0, failed: 0 }, push: { sent: 0, failed: 0 }, email: { sent: 0, failed: 0 }, sms: { sent: 0, failed: 0 } });
    expect(before.funnel).toEqual({ sent: 0, delivered: 0, opened: 0, clicked: 0 });
    for (const q of before.queues!) expect(q).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });

    // Two recipients with an email address: two in the inbox, two emails sent (push: no device, so no attempt).
    const [ann, bob] = [await recipient("ann"), await recipient("bob")];
    const annDevice = await connectDevice(web, await service.token(ann));
    try {
      expect((await comment([ann, bob])).status).toBe(202);
      const sent = await overviewWhere((o) => o.totals.email.sent === 2 && o.totals.in_app.sent === 2, "two in-app and two emails");
      expect(sent.totals).toEqual({ in_app: { sent: 2, failed: 0 }, push: { sent: 0, failed: 0 }, email: { sent: 2, failed: 0 }, sms: { sent: 0, failed: 0 } });
      // The buckets add up to the totals, and the sends fall in the last bucket or two (a minute may turn meanwhile).
      expect(sum(sent, "email", "sent")).toBe(2);
      expect(sum(sent, "in_app", "sent")).toBe(2);
      expect(sent.buckets.slice(0, -2).every((b) => b.channels.email.sent === 0 && b.channels.in_app.sent === 0)).toBe(true);
      expect(sent.funnel).toEqual({ sent: 2, delivered: 0, opened: 0, clicked: 0 });

      // The funnel: Ann's device acknowledges it (delivered), she sees it (opened) and clicks it.
      const note = await annDevice.waitFor("notification:new");
      expect(await annDevice.socket.timeout(5000).emitWithAck("notification:ack", { id: note.id })).toEqual({ ok: true, delivered: true });
      await overviewWhere((o) => o.funnel.delivered === 1, "delivered");
      const ui = userClient(web, await service.token(ann));
      expect((await ui.post("/api/notifications/seen", { ids: [note.id] })).body).toEqual({ count: 1 });
      const opened = await overviewWhere((o) => o.funnel.opened === 1, "opened");
      expect(opened.funnel).toEqual({ sent: 2, delivered: 1, opened: 1, clicked: 0 });
      expect((await ui.post(`/api/notifications/${note.id}/click`)).status).toBe(200);
      const clicked = await overviewWhere((o) => o.funnel.clicked === 1, "clicked");
      expect(clicked.funnel).toEqual({ sent: 2, delivered: 1, opened: 1, clicked: 1 });
    } finally {
      annDevice.close();
    }

    // A permanent refusal: one failed email attempt (and the delivery goes to the dead letters).
    providers.failWith("email", { status: 422 });
    const carol = await recipient("carol");
    expect((await comment([carol])).status).toBe(202);
    const refused = await overviewWhere((o) => o.totals.email.failed === 1, "one failed email");
    expect(refused.totals.email).toEqual({ sent: 2, failed: 1 });
    expect(refused.totals.in_app.sent).toBe(3);
    expect(sum(refused, "email", "failed")).toBe(1);

    // Rate limited with a long Retry-After: another failed attempt, and the job waits as delayed in the email queue.
    providers.failWith("email", { status: 429, retryAfter: "300" });
    const dan = await recipient("dan");
    expect((await comment([dan])).status).toBe(202);
    const limited = await overviewWhere((o) => o.totals.email.failed === 2 && o.queues?.find((q) => q.queue === "email")?.delayed === 1, "a delayed email retry");
    expect(limited.queues).toEqual([
      { queue: "fanout", waiting: 0, active: 0, delayed: 0, failed: 0 },
      { queue: "push", waiting: 0, active: 0, delayed: 0, failed: 0 },
      { queue: "email", waiting: 0, active: 0, delayed: 1, failed: 0 },
      { queue: "sms", waiting: 0, active: 0, delayed: 0, failed: 0 },
    ]);
    expect(limited.totals).toEqual({ in_app: { sent: 4, failed: 0 }, push: { sent: 0, failed: 0 }, email: { sent: 2, failed: 2 }, sms: { sent: 0, failed: 0 } });
    expect(limited.funnel).toEqual({ sent: 4, delivered: 1, opened: 1, clicked: 1 });
    providers.failWith("email", null);
  });
});

describe("live", () => {
  it("signals admin:activity to subscribed admins only, at most once a second per process, and `since` answers with numbers no older than the signal", async () => {
    const boss = uniqueId("boss");
    expect((await service.call("PUT", `/api/v1/users/${boss}`, { role: "admin" })).status).toBe(200);
    const admin = await connectDevice(web, await service.token(boss));
    const plain = await connectDevice(web, await service.token(uniqueId("plain")));
    const bossToken = await service.token(boss);
    try {
      expect(await admin.socket.timeout(5000).emitWithAck("admin:overview:subscribe", undefined)).toEqual({ ok: true });
      expect(await plain.socket.timeout(5000).emitWithAck("admin:overview:subscribe", undefined)).toEqual({
        ok: false,
        error: { code: "forbidden", message: "Only admins can watch the overview." },
      });
      const since = (at: string) => request<Overview>(`${web}/api/v1/admin/overview?window=1h&since=${encodeURIComponent(at)}`, { token: bossToken });
      expect((await request(`${web}/api/v1/admin/overview?since=yesterday`, { token: bossToken })).status).toBe(422);

      // A shared answer is read first; then one in-app notification for someone offline.
      const base = (await overview()).body.totals.in_app.sent;
      const readerId = uniqueId("reader");
      expect((await service.call("PUT", `/api/v1/users/${readerId}`, { name: "Robin" })).status).toBe(200);
      const start = Date.now();
      expect((await comment([readerId])).status).toBe(202);
      // Each signal is answered at once with since=its at, no polling: the fan-out's signal comes
      // after its commit, so one of the first few answers counts the notification.
      const activity = () => admin.events.filter((e) => e.event === "admin:activity" && e.at >= start);
      let counted = false;
      for (let i = 0; i < 10 && !counted; i++) {
        await eventually(async () => (activity().length > i ? true : undefined), 10_000, `admin:activity #${i + 1}`);
        const reply = await since((activity()[i]!.payload as { at: string }).at);
        expect(reply.status).toBe(200);
        counted = reply.body.totals.in_app.sent === base + 1;
      }
      expect(counted).toBe(true);

      // A burst of 30 triggers: the signals stay at most one a second from each process (web, fan-out, channels).
      const burstStart = Date.now();
      const before = admin.events.filter((e) => e.event === "admin:activity").length;
      await Promise.all(Array.from({ length: 30 }, () => comment([readerId])));
      await overviewWhere((o) => o.totals.in_app.sent === base + 31, "the burst stored");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const seconds = Math.ceil((Date.now() - burstStart) / 1000);
      const signals = admin.events.filter((e) => e.event === "admin:activity").length - before;
      expect(signals).toBeGreaterThan(0);
      expect(signals).toBeLessThanOrEqual(3 * (seconds + 1));
      // Nobody else heard any of it.
      expect(plain.events.filter((e) => e.event === "admin:activity")).toEqual([]);
    } finally {
      admin.close();
      plain.close();
    }
  });
});
