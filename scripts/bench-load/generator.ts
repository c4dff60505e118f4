// The load generator of `npm run bench:load`, a child process of its own (its CPU is reported apart
// from the system's). Open loop: triggers leave on schedule whether or not earlier ones were answered,
// so a slow system shows up as latency instead of as a lower offered rate. Driven over IPC:
//   → {type: "run", step, rate, seconds, urls, key, users, prefix}
//   ← {type: "done", sent, accepted, statuses, acceptLatencies, sendSeconds, behind}
// Each trigger goes to one recipient chosen at random among `users` (`<prefix><i>`), with its send
// time in `data.sentAt` (epoch ms, sub-millisecond) and its step in `data.step`, for the socket holders.
import http from "node:http";

type Run = { type: "run"; step: string; rate: number; seconds: number; urls: string[]; key: string; users: number; prefix: string };

const now = () => performance.timeOrigin + performance.now();
// node:http with kept-alive connections: fetch costs several times the CPU per request.
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

/** The HTTP status, or the error code of a request that got none (ECONNRESET, ...). */
function post(url: string, key: string, body: unknown): Promise<number | string> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      `${url}/api/v1/notifications`,
      { method: "POST", agent, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    req.end(payload);
  });
}

async function run({ step, rate, seconds, urls, key, users, prefix }: Run) {
  const total = Math.round(rate * seconds);
  const statuses: Record<string, number> = {};
  const acceptLatencies: number[] = [];
  const pending: Promise<void>[] = [];
  let sent = 0;
  let accepted = 0;
  // Worst lag of a send behind its schedule (ms): if it grows, the generator itself could not keep up.
  let behind = 0;
  const start = performance.now();
  while (sent < total) {
    const elapsed = performance.now() - start;
    const due = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
    if (sent < due) behind = Math.max(behind, elapsed - (sent * 1000) / rate);
    for (; sent < due; sent++) {
      const sentAt = now();
      const user = `${prefix}${Math.floor(Math.random() * users)}`;
      pending.push(
        post(urls[sent % urls.length]!, key, {
          type: "comment",
          to: [user],
          actor: { id: "load", name: "Load" },
          data: { sentAt, step, excerpt: "hello" },
        }).then((status) => {
          acceptLatencies.push(now() - sentAt);
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status === 202) accepted++;
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const sendSeconds = (performance.now() - start) / 1000;
  await Promise.all(pending);
  return { type: "done", sent, accepted, statuses, acceptLatencies, sendSeconds, behind };
}

process.on("message", (message: Run | { type: "close" }) => {
  if (message.type === "run") void run(message).then((result) => process.send!(result));
  else process.exit(0);
});
process.on("disconnect", () => process.exit(0));
process.send!({ type: "ready" });
