// Web push in Chromium: the prompt appears only after the user engages, "Not now" is remembered,
// "Turn on" with the permission granted saves a subscription, a real push (VAPID-signed and
// encrypted, through a local HTTPS push service that decrypts it) reaches the service worker, and a
// click on the notification opens its target and records the click. Chromium cannot reach a real
// push service here, so `pushManager.subscribe` answers with a subscription at the local one.
import pg from "pg";
import { expect, test, type BrowserContext } from "@playwright/test";
import { pushSubscription } from "../tests/system/client";
import { startPushService } from "../tests/system/push-service-stand-in";
import { baseUrl, bell, signIn, socketConnected, trigger, uniqueUserId } from "./fixtures";

async function stubPushManager(context: BrowserContext, subscription: { endpoint: string; keys: { p256dh: string; auth: string } }) {
  await context.addInitScript((sub) => {
    let current: unknown = null;
    const make = () => ({ endpoint: sub.endpoint, expirationTime: null, options: {}, toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }), unsubscribe: async () => ((current = null), true) });
    PushManager.prototype.subscribe = async function () {
      current = make();
      return current as PushSubscription;
    };
    PushManager.prototype.getSubscription = async function () {
      return current as PushSubscription | null;
    };
  }, subscription);
}

test("push: asked after engagement, subscribed, delivered, and a click opens the target", async ({ browser }) => {
  const service = await startPushService({ certFile: process.env.E2E_PUSH_CERT_FILE!, keyFile: process.env.E2E_PUSH_KEY_FILE! });
  const db = new pg.Pool({ connectionString: process.env.E2E_DATABASE_URL, max: 1 });
  try {
    const device = pushSubscription(service.origin);
    service.subscribe(device.subscription.endpoint, device.ecdh, device.authSecret);
    const userId = uniqueUserId("pushy");
    const context = await browser.newContext({ baseURL: baseUrl() });
    await stubPushManager(context, device.subscription);
    await signIn(context, userId);
    const page = await context.newPage();
    const connected = socketConnected(page);
    await page.goto("/notifications");
    await connected;
    const prompt = page.getByRole("dialog", { name: "Push alerts" });
    // Not on page load.
    await page.waitForTimeout(500);
    await expect(prompt).toHaveCount(0);
    // After the user opens the bell, the prompt explains what push is for.
    await bell(page).click();
    await expect(prompt).toContainText("Get notified when this tab is closed?");
    await context.grantPermissions(["notifications"], { origin: baseUrl() });
    await prompt.getByRole("button", { name: "Turn on" }).click();
    await expect(prompt).toContainText("Push notifications are on");
    await expect
      .poll(async () => (await db.query("SELECT endpoint, device_id FROM push_subscriptions WHERE user_id = $1", [userId])).rows)
      .toEqual([{ endpoint: device.subscription.endpoint, device_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);

    // A real push: routed, signed, encrypted, decrypted by the push service, handed to the worker.
    await page.keyboard.press("Escape");
    await trigger({ type: "mention", to: [userId], actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "5", url: "/notifications?from=push" }, data: { excerpt: "ping" } });
    await expect.poll(() => service.received.length, { timeout: 10_000 }).toBe(1);
    expect(service.rejected).toEqual([]);
    const payload = service.received[0]!.payload;
    expect(payload).toMatchObject({ title: "Ann mentioned you", body: "ping", url: "/notifications?from=push", silent: false });

    const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
    const cdp = await context.newCDPSession(page);
    let registrationId = "";
    cdp.on("ServiceWorker.workerRegistrationUpdated", (event: { registrations: { registrationId: string; scopeURL: string }[] }) => {
      for (const r of event.registrations) if (r.scopeURL.startsWith(baseUrl())) registrationId = r.registrationId;
    });
    await cdp.send("ServiceWorker.enable");
    await expect.poll(() => registrationId).not.toBe("");
    await page.evaluate(async () => void (await navigator.serviceWorker.ready));
    // Delivered the way the browser's push client delivers it; again if the worker was still waking
    // up (the notification has a tag, so a second delivery replaces the first).
    await expect
      .poll(
        async () => {
          await cdp.send("ServiceWorker.deliverPushMessage", { origin: baseUrl(), registrationId, data: JSON.stringify(payload) });
          await page.waitForTimeout(300);
          return page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => [n.title, n.body]));
        },
        { timeout: 15_000 },
      )
      .toEqual([["Ann mentioned you", "ping"]]);
    // The same delivery again (as after a worker died mid-request): still one notification, shown
    // again without a sound.
    expect(payload.delivery).toEqual(expect.any(String));
    await cdp.send("ServiceWorker.deliverPushMessage", { origin: baseUrl(), registrationId, data: JSON.stringify({ ...payload, repeat: true }) });
    await expect
      .poll(() => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => [n.title, n.silent, (n.data as { repeat: boolean }).repeat])))
      .toEqual([["Ann mentioned you", true, true]]);

    // The click on the notification (dispatched in the worker, as the OS would).
    await worker.evaluate(async () => {
      const scope = self as unknown as { registration: ServiceWorkerRegistration; dispatchEvent(event: Event): boolean; NotificationEvent: new (type: string, init: { notification: Notification }) => Event };
      const [notification] = await scope.registration.getNotifications();
      scope.dispatchEvent(new scope.NotificationEvent("notificationclick", { notification: notification! }));
    });
    await expect(page).toHaveURL(/\/notifications\?from=push$/);
    await expect
      .poll(async () => {
        const response = await page.request.get("/api/notifications");
        return ((await response.json()) as { notifications: { clickedAt: string | null; read: boolean }[] }).notifications[0];
      })
      .toMatchObject({ clickedAt: expect.any(String), read: true });
    await context.close();
  } finally {
    await db.end();
    await service.stop();
  }
});

test("push: \"Not now\" is remembered, and nothing is asked on load", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, uniqueUserId("later"));
  const page = await context.newPage();
  await page.goto("/notifications");
  const prompt = page.getByRole("dialog", { name: "Push alerts" });
  await bell(page).click();
  await prompt.getByRole("button", { name: "Not now" }).click();
  await expect(prompt).toHaveCount(0);
  await page.reload();
  await bell(page).click();
  await page.waitForTimeout(500);
  await expect(prompt).toHaveCount(0);
  await context.close();
});

test("push: when the browser replaces the subscription, the service worker registers the new one and drops the old", async ({ browser }) => {
  const db = new pg.Pool({ connectionString: process.env.E2E_DATABASE_URL, max: 1 });
  try {
    const first = pushSubscription("https://push.invalid");
    const second = pushSubscription("https://push.invalid");
    const userId = uniqueUserId("rotated");
    const context = await browser.newContext({ baseURL: baseUrl() });
    await stubPushManager(context, first.subscription);
    await context.grantPermissions(["notifications"], { origin: baseUrl() });
    await signIn(context, userId);
    const page = await context.newPage();
    await page.goto("/notifications");
    // Permission already granted: the page registers its subscription without asking.
    const saved = async () => (await db.query("SELECT endpoint FROM push_subscriptions WHERE user_id = $1", [userId])).rows.map((r) => r.endpoint);
    await expect.poll(saved).toEqual([first.subscription.endpoint]);
    const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
    // The browser's push client hands the worker a new subscription (what `pushsubscriptionchange` carries).
    await worker.evaluate(
      ({ next, oldEndpoint }) => {
        const fresh = { endpoint: next.endpoint, toJSON: () => ({ endpoint: next.endpoint, expirationTime: null, keys: next.keys }) };
        const scope = self as unknown as { ExtendableEvent: new (type: string) => Event };
        const event = new scope.ExtendableEvent("pushsubscriptionchange");
        Object.defineProperty(event, "newSubscription", { value: fresh });
        Object.defineProperty(event, "oldSubscription", { value: { endpoint: oldEndpoint } });
        self.dispatchEvent(event);
      },
      { next: second.subscription, oldEndpoint: first.subscription.endpoint },
    );
    await expect.poll(saved).toEqual([second.subscription.endpoint]);
    await context.close();
  } finally {
    await db.end();
  }
});
