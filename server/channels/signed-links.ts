// Links in emails that must not be forged: open pixel, click redirect, one-click unsubscribe. The
// payload is signed with AUTH_SECRET (HMAC-SHA256); an unsigned, tampered or foreign token is
// refused and never redirects anywhere.
import { createHmac, timingSafeEqual } from "node:crypto";
import { env } from "@/server/env";
import { isSafeUrl } from "@/server/notifications/notifications.schema";

export type LinkPayload =
  | { k: "open"; t: string; u: string }
  | { k: "click"; t: string; u: string; url: string }
  | { k: "unsubscribe"; t: string; u: string; cat: string };

const mac = (data: string) => createHmac("sha256", `links:${env.AUTH_SECRET}`).update(data).digest("base64url");

export function signLink(payload: LinkPayload): string {
  const data = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${data}.${mac(data)}`;
}

export function verifyLink<K extends LinkPayload["k"]>(token: string, kind: K): Extract<LinkPayload, { k: K }> | null {
  const [data, signature, extra] = token.split(".");
  if (!data || !signature || extra !== undefined || token.length > 4096) return null;
  const expected = Buffer.from(mac(data));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const payload = JSON.parse(Buffer.from(data, "base64url").toString("utf8")) as LinkPayload;
    if (payload.k !== kind) return null;
    if (payload.k === "click" && !isSafeUrl(payload.url)) return null;
    return payload as Extract<LinkPayload, { k: K }>;
  } catch {
    return null;
  }
}

/** Where links in emails point: PUBLIC_URL, else this machine on PORT. */
export function publicBaseUrl(): string {
  return (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, "");
}

/**
 * Email HTML with tracking: every http(s) or relative link goes through a signed click redirect, and
 * an open pixel is added. Relative targets are made absolute against PUBLIC_URL.
 */
export function withTracking(html: string, ref: { triggerId: string; userId: string }): string {
  const base = publicBaseUrl();
  // Only relative and https links are tracked (mailto:, tel:, http: stay as written).
  const tracked = html.replace(/href="([^"]*)"/gi, (whole, raw: string) => {
    const url = raw.replace(/&amp;/g, "&");
    return isSafeUrl(url) ? `href="${base}/e/c/${signLink({ k: "click", t: ref.triggerId, u: ref.userId, url })}"` : whole;
  });
  const pixel = `<img src="${base}/e/o/${signLink({ k: "open", t: ref.triggerId, u: ref.userId })}" width="1" height="1" alt="" style="display:none">`;
  return /<\/body>/i.test(tracked) ? tracked.replace(/<\/body>/i, `${pixel}</body>`) : `${tracked}${pixel}`;
}
