// Web push on the running system, end to end through a local HTTPS push service that verifies the
// VAPID JWT and decrypts every payload with the subscriber's keys (tests/system/push-service-stand-in.ts).
import pg from "pg";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, pushSubscription, request, serviceClient, uniqueId } from "./client";
import { selfSignedCertificate, startPushService } from "./push-service-stand-in";
import { startSystem, type System } from "./start-system";

let system: System;
let push: Awaited<ReturnType<typeof startPushService>>;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;
let web: string;

beforeAll(async () => {
  const cert = selfSignedCertificate();
  push = await startPushService(cert);
  const vapid = webpush.generateVAPIDKeys();
  system = await startSystem({
    webNodes: 1,
    relays: 1,
    fanoutWorkers: 1,
    channelWorkers: 1,
    env: {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: "mailto:ops@example.com",
      NODE_EXTRA_CA_CERTS: cert.certFile,
      CHANNEL_BACKOFF_MS: "100",
    },
  });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
  web = system.webUrls[0]!;
  service = serviceClient(web, system.serviceKey);
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
  await push?.stop();
});

/** A user with `n` devices registered one after the other (the last one is the primary). */
async function userWithDevices(n: number) {
  const userId = uniqueId("pushed");
  const token = await service.token(userId);
  const devices = [];
  for (let i = 0; i < n; i++) {
    const device = pushSubscription(push.origin);
    push.subscribe(device.subscription.endpoint, device.ecdh, device.authSecret);
    const reply = await request(`${web}/api/push-subscriptions`, { method: "POST", token, body: { ...device.subscription, deviceId: `device-${i}` } });
    expect(reply.status).toBe(201);
    devices.push(device.subscription.endpoint);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { userId, token, devices };
}

const pushesTo = (endpoint: string) => push.received.filter((r) => r.subscription === push.idOf(endpoint));

async function pushStatus(triggerId: string, userId: string) {
  const { rows } = await db.query("SELECT status, reason FROM deliveries WHERE trigger_id = $1 AND user_id = $2 AND channel = 'push'", [triggerId, userId]);
  return rows[0] as { status: string; reason: string | null } | undefined;
}

describe("web push", () => {
  it("reaches every device, VAPID-signed and encrypted; only the primary one rings", async () => {
    const { userId, devices } = await userWithDevices(2);
    const reply = await service.trigger({ type: "mention", to: [userId], actor: { id: "a", name: "Ann" }, target: { type: "post", id: "3", url: "/posts/3" }, data: { excerpt: "look" } });
    await eventually(async () => ((await pushStatus(reply.body.id, userId))?.status === "sent" ? true : undefined), 10_000, "push sent");
    expect(push.rejected).toEqual([]);
    const [older, primary] = devices as [string, string];
    expect(pushesTo(primary)).toHaveLength(1);
    expect(pushesTo(older)).toHaveLength(1);
    const ringing = pushesTo(primary)[0]!;
    expect(ringing.payload).toMatchObject({ title: "Ann mentioned you", body: "look", url: "/posts/3", silent: false });
    expect(ringing.payload.notificationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(pushesTo(older)[0]!.payload).toMatchObject({ title: "Ann mentioned you", silent: true });
    // mention is `high`: high urgency, kept 12 h; a Topic collapses updates of the same notification.
    expect(ringing.headers).toMatchObject({ urgency: "high", ttl: 43_200, topic: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) });
    const { rows } = await db.query('SELECT status, "primary" FROM device_deliveries WHERE trigger_id = $1 ORDER BY "primary"', [reply.body.id]);
    expect(rows).toEqual([
      { status: "sent", primary: false },
      { status: "sent", primary: true },
    ]);
  });

  it("a device whose last attempt's outcome was lost (its worker died mid-request) gets the push again, marked as a repeat of the same delivery", async () => {
    const { userId, devices } = await userWithDevices(2);
    const [older, primary] = devices as [string, string];
    // Scheduled a few seconds ahead, so the state a killed worker leaves can be set up before it runs.
    const reply = await service.trigger({ type: "mention", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "again" }, sendAt: new Date(Date.now() + 3000).toISOString() });
    expect(reply.status).toBe(202);
    const { rows: subs } = await db.query<{ id: string; endpoint: string }>("SELECT id, endpoint FROM push_subscriptions WHERE user_id = $1", [userId]);
    const primaryId = subs.find((s) => s.endpoint === primary)!.id;
    await db.query(`INSERT INTO device_deliveries (trigger_id, user_id, subscription_id, status, attempts, "primary") VALUES ($1, $2, $3, 'sending', 1, true)`, [reply.body.id, userId, primaryId]);
    await eventually(async () => ((await pushStatus(reply.body.id, userId))?.status === "sent" ? true : undefined), 15_000, "push sent");
    expect(pushesTo(primary)).toHaveLength(1);
    expect(pushesTo(primary)[0]!.payload).toMatchObject({ delivery: `${reply.body.id}/${userId}`, repeat: true, body: "again" });
    expect(pushesTo(older)).toHaveLength(1);
    expect(pushesTo(older)[0]!.payload).toMatchObject({ delivery: `${reply.body.id}/${userId}`, body: "again" });
    expect(pushesTo(older)[0]!.payload.repeat).toBeUndefined();
    const { rows } = await db.query('SELECT status, attempts FROM device_deliveries WHERE trigger_id = $1 ORDER BY "primary"', [reply.body.id]);
    expect(rows).toEqual([
      { status: "sent", attempts: 1 },
      { status: "sent", attempts: 2 },
    ]);
  });

  it("a device not seen for longer than PUSH_DEVICE_ACTIVE_DAYS gets nothing; a user with only such devices is no_address", async () => {
    const { userId, devices } = await userWithDevices(2);
    const [stale, active] = devices as [string, string];
    await db.query("UPDATE push_subscriptions SET last_active_at = now() - interval '100 days' WHERE endpoint = $1", [stale]);
    const reply = await service.trigger({ type: "follow", to: [userId], actor: { id: "c", name: "Cid" } });
    await eventually(async () => ((await pushStatus(reply.body.id, userId))?.status === "sent" ? true : undefined), 10_000, "push sent");
    expect(pushesTo(active)).toHaveLength(1);
    expect(pushesTo(stale)).toHaveLength(0);
    await db.query("UPDATE push_subscriptions SET last_active_at = now() - interval '100 days' WHERE user_id = $1", [userId]);
    const none = await service.trigger({ type: "follow", to: [userId], actor: { id: "d", name: "Dee" } });
    await eventually(async () => ((await pushStatus(none.body.id, userId))?.reason === "no_address" ? true : undefined), 10_000, "no active device");
  });

  it("a 410 removes exactly that device; the others still get it", async () => {
    const { userId, devices } = await userWithDevices(2);
    const [stale, fresh] = devices as [string, string];
    push.markGone(stale);
    const reply = await service.trigger({ type: "follow", to: [userId], actor: { id: "b", name: "Ben" } });
    await eventually(async () => ((await pushStatus(reply.body.id, userId))?.status === "sent" ? true : undefined), 10_000, "push sent");
    expect(pushesTo(fresh)).toHaveLength(1);
    const { rows } = await db.query("SELECT endpoint FROM push_subscriptions WHERE user_id = $1", [userId]);
    expect(rows.map((r) => r.endpoint)).toEqual([fresh]);
    // The trigger status shows push per device as well as for the channel.
    const outcomes = ((await service.status(reply.body.id)).body.outcomes as { channel: string; deviceId?: string; status: string; reason?: string }[]).filter((o) => o.channel === "push");
    expect(outcomes).toHaveLength(3);
    expect(outcomes.find((o) => !("deviceId" in o))).toMatchObject({ status: "sent" });
    expect(outcomes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: "sent", deviceId: "device-1" }),
        expect.objectContaining({ status: "failed", reason: "subscription_gone", deviceId: expect.stringMatching(/^[0-9a-f-]{36}$/) }),
      ]),
    );
  });

  it("a 429 with Retry-After on one device retries that device only, and nothing arrives twice", async () => {
    const { userId, devices } = await userWithDevices(2);
    const [slow, fine] = devices as [string, string];
    push.failNext(slow, 429, "1");
    const started = Date.now();
    const reply = await service.trigger({ type: "system", to: [userId], title: "Build failed", body: "main is red", priority: "urgent" });
    await eventually(async () => ((await pushStatus(reply.body.id, userId))?.status === "sent" ? true : undefined), 10_000, "push sent");
    expect(pushesTo(fine)).toHaveLength(1);
    expect(pushesTo(slow)).toHaveLength(1);
    expect(pushesTo(slow)[0]!.at - started).toBeGreaterThanOrEqual(1000);
    expect(pushesTo(slow)[0]!.headers).toMatchObject({ urgency: "high", ttl: 86_400 });
  });

  it("a batching window sends one push summing it up; an aggregated type uses one Topic per group", async () => {
    const key = uniqueId("pbatch");
    const type = {
      name: "Reaction",
      category: "engagement",
      channels: ["in_app", "push"],
      aggregate: { window: "1h" },
      batch: { push: "2s" },
      templates: {
        in_app: { title: "{{ actors | actor_names: actorCount }} reacted", body: "" },
        push: { title: "{% if batchCount > 1 %}{{ batchCount }} reactions{% else %}A reaction{% endif %} from {{ actors | actor_names: actorCount }}", body: "" },
      },
    };
    expect((await request(`${web}/api/v1/admin/types/${key}`, { method: "PUT", token: system.serviceKey, body: type })).status).toBe(200);
    const { userId, devices } = await userWithDevices(1);
    const ids: string[] = [];
    for (const name of ["Ann", "Bo", "Cy"]) {
      const reply = await service.trigger({ type: key, to: [userId], actor: { id: name, name }, target: { type: "post", id: "p" } });
      ids.push(reply.body.id);
    }
    await eventually(async () => ((await Promise.all(ids.map((id) => pushStatus(id, userId)))).every((d) => d?.status === "sent") ? true : undefined), 15_000, "summary sent");
    const pushes = pushesTo(devices[0]!);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.payload.title).toMatch(/^3 reactions from (Ann|Bo|Cy), (Ann|Bo|Cy) and (Ann|Bo|Cy)$/);
    // Another target is another group: another Topic; the same target keeps its Topic.
    const other = await service.trigger({ type: key, to: [userId], actor: { id: "Dee", name: "Dee" }, target: { type: "post", id: "q" }, priority: "urgent" });
    const same = await service.trigger({ type: key, to: [userId], actor: { id: "Eve", name: "Eve" }, target: { type: "post", id: "p" }, priority: "urgent" });
    await eventually(async () => ((await pushStatus(other.body.id, userId))?.status === "sent" && (await pushStatus(same.body.id, userId))?.status === "sent" ? true : undefined), 10_000, "urgent pushes");
    const topics = pushesTo(devices[0]!).map((p) => p.headers.topic);
    expect(topics).toHaveLength(3);
    expect(new Set(topics).size).toBe(2);
    expect(pushesTo(devices[0]!).find((p) => p.payload.title === "A reaction from Dee")!.headers.topic).not.toBe(topics[0]);
  });

  it("refuses a subscription that is not an https push endpoint, and removes one on request", async () => {
    const userId = uniqueId("subs");
    const token = await service.token(userId);
    const device = pushSubscription(push.origin);
    for (const bad of [{ ...device.subscription, endpoint: "http://push.example/x" }, { ...device.subscription, keys: { p256dh: "short", auth: "x" } }, { endpoint: device.subscription.endpoint }]) {
      const reply = await request(`${web}/api/push-subscriptions`, { method: "POST", token, body: bad });
      expect(reply.status, JSON.stringify(bad)).toBe(422);
    }
    expect((await request(`${web}/api/push-subscriptions`, { method: "POST", token, body: device.subscription })).status).toBe(201);
    expect((await request(`${web}/api/push-subscriptions`, { method: "DELETE", token, body: { endpoint: device.subscription.endpoint } })).status).toBe(200);
    expect((await request(`${web}/api/push-subscriptions`, { method: "DELETE", token, body: { endpoint: device.subscription.endpoint } })).status).toBe(404);
    expect((await request(`${web}/api/push/config`)).body.publicKey).toMatch(/^[A-Za-z0-9_-]{80,}$/);
  });
});
