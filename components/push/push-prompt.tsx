"use client";

import { useEffect, useRef, useState } from "react";

const LATER_KEY = "notify.push.later";
const DEVICE_KEY = "notify.device";
const LATER_MS = 14 * 24 * 3600_000;

/** Tells the prompt that the user has engaged with notifications (the bell opened, one clicked). */
export function markEngaged(): void {
  window.dispatchEvent(new Event("notify:engaged"));
}

function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const padded = (value + "===".slice((value.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function deviceId(): string {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

/** Subscribes this browser (or reuses its subscription) and registers it; each visit refreshes it. */
async function register(registration: ServiceWorkerRegistration, publicKey: string): Promise<void> {
  const subscription = (await registration.pushManager.getSubscription()) ?? (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(publicKey) }));
  const response = await fetch("/api/push-subscriptions", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...subscription.toJSON(), deviceId: deviceId() }),
  });
  if (!response.ok) throw new Error(`registering the subscription failed (${response.status})`);
}

/**
 * Web push for this browser. Registers the service worker; when permission is already granted,
 * keeps the subscription registered (and the device's last-active time fresh). Otherwise it asks
 * only once the user has engaged with notifications (never on page load), explains what they get,
 * and remembers "Not now" for two weeks.
 */
export function PushPrompt() {
  const [state, setState] = useState<"hidden" | "ask" | "busy" | "on" | "blocked" | "error">("hidden");
  const context = useRef<{ registration: ServiceWorkerRegistration; publicKey: string } | null>(null);

  useEffect(() => {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
    let cancelled = false;
    // Engagement may come before the set-up below has finished: remember it.
    let engaged = false;
    let canAsk = false;
    const maybeAsk = () => {
      if (!cancelled && engaged && canAsk && Notification.permission === "default") setState("ask");
    };
    const onEngaged = () => {
      engaged = true;
      maybeAsk();
    };
    window.addEventListener("notify:engaged", onEngaged);
    void (async () => {
      const config = (await fetch("/api/push/config")
        .then((r) => r.json())
        .catch(() => null)) as { publicKey: string | null } | null;
      if (!config?.publicKey || cancelled) return;
      const registration = await navigator.serviceWorker.register("/sw.js");
      context.current = { registration, publicKey: config.publicKey };
      if (Notification.permission === "granted") {
        await register(registration, config.publicKey).catch(() => undefined);
        return;
      }
      if (Notification.permission === "denied") return;
      if (Date.now() - Number(localStorage.getItem(LATER_KEY) ?? 0) < LATER_MS) return;
      canAsk = true;
      maybeAsk();
    })();
    return () => {
      cancelled = true;
      window.removeEventListener("notify:engaged", onEngaged);
    };
  }, []);

  const turnOn = async () => {
    if (!context.current) return;
    setState("busy");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      setState(permission === "denied" ? "blocked" : "hidden");
      return;
    }
    try {
      await register(context.current.registration, context.current.publicKey);
      setState("on");
      setTimeout(() => setState("hidden"), 5000);
    } catch {
      setState("error");
    }
  };
  const later = () => {
    localStorage.setItem(LATER_KEY, String(Date.now()));
    setState("hidden");
  };

  if (state === "hidden") return null;
  return (
    <div role="dialog" aria-label="Push alerts" className="fixed bottom-4 left-4 z-30 w-80 max-w-[calc(100vw-2rem)] rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-lg dark:border-slate-700 dark:bg-slate-900">
      {state === "on" ? (
        <p role="status">Push notifications are on for this browser. Choose what you get in Settings.</p>
      ) : state === "blocked" ? (
        <p>Notifications are blocked for this site. You can allow them in your browser&apos;s site settings.</p>
      ) : state === "error" ? (
        <p role="alert">Push could not be turned on. Try again later.</p>
      ) : (
        <>
          <p className="font-medium">Get notified when this tab is closed?</p>
          <p className="mt-1 text-slate-500 dark:text-slate-400">
            We&apos;ll send a push for what you choose in Settings, like mentions and comments. Only your most recently used device makes a sound.
          </p>
          <div className="mt-3 flex gap-2">
            <button type="button" disabled={state === "busy"} onClick={() => void turnOn()} className="rounded-md bg-brand-600 px-3 py-1.5 font-medium text-white hover:bg-brand-700 disabled:opacity-50">
              Turn on
            </button>
            <button type="button" onClick={later} className="rounded-md px-3 py-1.5 text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800">
              Not now
            </button>
          </div>
        </>
      )}
      {state !== "ask" && state !== "busy" && (
        <button type="button" aria-label="Close" onClick={() => setState("hidden")} className="absolute right-2 top-1 text-slate-400">
          ×
        </button>
      )}
    </div>
  );
}
