// The service worker of the inbox: shows web push notifications, opens their target on a click (and
// records the click), and re-registers when the browser replaces the push subscription.
/* eslint-env serviceworker */

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/** Keeps the worker alive for `promise` when the event allows it (a synthetic event may not). */
function keepAlive(event, promise) {
  try {
    event.waitUntil(promise);
  } catch {
    /* the promise runs anyway */
  }
}

// Deliveries this device has shown (the last SHOWN_KEEP), so that a push sent again — the server
// could not know whether the first one left before its process died — does not ring twice.
const SHOWN_CACHE = "notify-shown-deliveries-v1";
const SHOWN_KEEP = 500;

/** Whether `delivery` was shown here before; remembers it either way. */
async function seenBefore(delivery) {
  if (!delivery || !self.caches) return false;
  const cache = await caches.open(SHOWN_CACHE);
  const key = new Request(`/__shown/${encodeURIComponent(delivery)}`);
  if (await cache.match(key)) return true;
  await cache.put(key, new Response(""));
  const keys = await cache.keys();
  for (const old of keys.slice(0, Math.max(0, keys.length - SHOWN_KEEP))) await cache.delete(old);
  return false;
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: event.data ? event.data.text() : "" };
  }
  const title = data.title || "New notification";
  keepAlive(
    event,
    seenBefore(data.delivery)
      .catch(() => false)
      .then((repeat) =>
        // A push must show something; a repeat shows the same notification again, without a sound.
        self.registration.showNotification(title, {
          body: data.body || "",
          icon: data.icon || "/icon.svg",
          tag: data.tag || data.delivery || undefined,
          // Only the user's primary device makes a sound; the others show it quietly.
          silent: Boolean(data.silent) || repeat,
          renotify: Boolean(data.tag) && !data.silent && !repeat,
          data: { url: data.url || "/notifications", notificationId: data.notificationId || null, delivery: data.delivery || null, repeat },
        }),
      ),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, notificationId } = event.notification.data || {};
  const target = new URL(url || "/notifications", self.location.origin);
  // Only this site: a target elsewhere opens the inbox instead.
  const href = target.origin === self.location.origin || target.protocol === "https:" ? target.href : new URL("/notifications", self.location.origin).href;
  keepAlive(
    event,
    (async () => {
      if (notificationId) {
        await fetch(`/api/notifications/${encodeURIComponent(notificationId)}/click`, { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}" }).catch(() => undefined);
      }
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const focus = (client) => client.focus().catch(() => client);
      const exact = windows.find((w) => w.url === href);
      if (exact) return focus(exact);
      // A tab of this site that this worker controls goes there; otherwise a new window opens.
      const ours = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (ours) {
        const navigated = await ours.navigate(href).catch(() => null);
        if (navigated) return focus(navigated);
      }
      return self.clients.openWindow(href);
    })(),
  );
});

function base64UrlToBytes(value) {
  const padded = (value + "===".slice((value.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

self.addEventListener("pushsubscriptionchange", (event) => {
  keepAlive(
    event,
    (async () => {
      const config = await (await fetch("/api/push/config")).json();
      if (!config.publicKey) return;
      const subscription = event.newSubscription || (await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(config.publicKey) }));
      await fetch("/api/push-subscriptions", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: JSON.stringify(subscription.toJSON()) });
      if (event.oldSubscription) {
        await fetch("/api/push-subscriptions", { method: "DELETE", credentials: "same-origin", headers: { "content-type": "application/json" }, body: JSON.stringify({ endpoint: event.oldSubscription.endpoint }) }).catch(() => undefined);
      }
    })(),
  );
});
