// Local stand-ins for the providers outside our system, checking what the real ones check:
// - email: Resend's `POST /emails` (Bearer key, JSON body with from/to/subject and html or text,
//   `Idempotency-Key`: the same key and body answer the first response and send nothing new, the
//   same key with another body is 409);
// - SMS: a Twilio-style `POST /2010-04-01/Accounts/{sid}/Messages.json` (basic auth, form body with
//   E.164 To/From and a Body, `I-Twilio-Idempotency-Token` likewise).
// Each can be told to fail (a status, Retry-After, n times or until told otherwise) or to be slow.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Failure = { status: number; retryAfter?: string; times?: number };
export type Received = { idempotencyKey: string; body: Record<string, unknown>; at: number };

type Behaviour = { failure: Failure | null; delayMs: number };

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const FROM = /^(?:[^<>]+ <[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;

export async function startProviderStandIns(options: { emailKey: string; smsSid: string; smsToken: string }) {
  const behaviour: Record<"email" | "sms", Behaviour> = { email: { failure: null, delayMs: 0 }, sms: { failure: null, delayMs: 0 } };
  const sent: Record<"email" | "sms", Received[]> = { email: [], sms: [] };
  const attempts: Record<"email" | "sms", number> = { email: 0, sms: 0 };
  /** Requests answered from an earlier one with the same idempotency key (nothing sent again). */
  const replayed: Record<"email" | "sms", number> = { email: 0, sms: 0 };
  const seen = new Map<string, { body: string; response: string }>();

  const reply = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  /** A configured failure answers this attempt, if any is left. */
  const failNow = (channel: "email" | "sms", res: http.ServerResponse): boolean => {
    const failure = behaviour[channel].failure;
    if (!failure) return false;
    if (failure.times !== undefined) {
      if (failure.times <= 0) return false;
      failure.times--;
    }
    reply(res, failure.status, { statusCode: failure.status, name: "stand_in_failure", message: `told to fail with ${failure.status}` }, failure.retryAfter ? { "retry-after": failure.retryAfter } : {});
    return true;
  };

  const server = http.createServer(async (req, res) => {
    const raw = await readBody(req);
    const channel = req.url === "/emails" ? "email" : /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(req.url ?? "") ? "sms" : null;
    if (req.method !== "POST" || !channel) return reply(res, 404, { message: "not found" });
    attempts[channel]++;
    if (behaviour[channel].delayMs > 0) await new Promise((r) => setTimeout(r, behaviour[channel].delayMs));
    let body: Record<string, unknown>;
    let key: string;
    if (channel === "email") {
      if (req.headers.authorization !== `Bearer ${options.emailKey}`) return reply(res, 401, { statusCode: 401, name: "missing_api_key", message: "invalid API key" });
      if (!String(req.headers["content-type"]).startsWith("application/json")) return reply(res, 415, { statusCode: 415, message: "json only" });
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return reply(res, 400, { statusCode: 400, name: "invalid_json", message: "body is not JSON" });
      }
      const to = body.to;
      const valid = typeof body.from === "string" && FROM.test(body.from) && Array.isArray(to) && to.length > 0 && to.every((t) => typeof t === "string" && EMAIL.test(t)) && typeof body.subject === "string" && body.subject.length > 0 && (typeof body.html === "string" || typeof body.text === "string");
      if (!valid) return reply(res, 422, { statusCode: 422, name: "validation_error", message: "from, to, subject and html or text are required" });
      key = String(req.headers["idempotency-key"] ?? "");
    } else {
      const auth = Buffer.from(String(req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
      if (auth !== `${options.smsSid}:${options.smsToken}`) return reply(res, 401, { code: 20003, message: "Authenticate" });
      body = Object.fromEntries(new URLSearchParams(raw));
      if (!/^\+[1-9]\d{6,14}$/.test(String(body.To)) || !/^\+[1-9]\d{6,14}$/.test(String(body.From)) || !body.Body) return reply(res, 400, { code: 21211, message: "invalid To, From or Body" });
      key = String(req.headers["i-twilio-idempotency-token"] ?? "");
    }
    if (failNow(channel, res)) return;
    if (key) {
      const earlier = seen.get(`${channel}:${key}`);
      if (earlier) {
        if (earlier.body !== raw) return reply(res, 409, { statusCode: 409, name: "invalid_idempotent_request", message: "same key, other body" });
        replayed[channel]++;
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(earlier.response);
      }
    }
    const response = JSON.stringify(channel === "email" ? { id: `em_${sent.email.length + 1}` } : { sid: `SM${sent.sms.length + 1}`, status: "queued" });
    if (key) seen.set(`${channel}:${key}`, { body: raw, response });
    sent[channel].push({ idempotencyKey: key, body, at: Date.now() });
    res.writeHead(channel === "email" ? 200 : 201, { "content-type": "application/json" });
    res.end(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sent,
    attempts,
    replayed,
    failWith: (channel: "email" | "sms", failure: Failure | null) => void (behaviour[channel].failure = failure),
    slow: (channel: "email" | "sms", delayMs: number) => void (behaviour[channel].delayMs = delayMs),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
