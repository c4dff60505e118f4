// A child process of `npm run bench:load` that holds its share of the idle Socket.IO clients (real
// socket.io-client, WebSocket transport), so their CPU is not counted as the web node's or the load
// generator's. Driven over IPC by scripts/bench-load.ts:
//   → {type: "connect", devices: [{userId, token, url}]}   ← {type: "connected", count, failed}
//   → {type: "collect", step}                              ← {type: "samples", latencies, ingest, onward, late, …}
//   → {type: "close"}                                      (closes every socket and exits)
// Each trigger carries its send time (epoch ms, sub-millisecond, same machine clock) in `data.sentAt`
// and its rate step in `data.step`; a `notification:new` that carries them records now − sentAt under
// its step (a straggler of an earlier step never counts in a later one), so no message per event
// crosses IPC. `late` counts the deliveries past 100 ms by the second (epoch) their trigger was sent,
// which shows whether a step's slow deliveries were spread out or a stall.
import { io, type Socket } from "socket.io-client";

type Message = { type: "connect"; devices: { userId: string; token: string; url: string }[] } | { type: "collect"; step: string } | { type: "close" };

const now = () => performance.timeOrigin + performance.now();
const sockets: Socket[] = [];
const latencies = new Map<string, number[]>();
// The same deliveries cut in two at the trigger's `createdAt` (ms), the time the web node's handler
// made its row: send → handler (the request's way in) and handler → received (insert, fan-out,
// publish, socket).
const ingest = new Map<string, number[]>();
const onward = new Map<string, number[]>();
const late = new Map<string, Record<number, number>>();
let unexpectedDisconnects = 0;

function connectOne(url: string, token: string): Promise<Socket | null> {
  const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false, forceNew: true });
  socket.on("notification:new", (n: { createdAt?: string; data?: { sentAt?: number; step?: string } }) => {
    const { sentAt, step } = n.data ?? {};
    if (typeof sentAt !== "number" || typeof step !== "string") return;
    const list = latencies.get(step) ?? [];
    if (list.length === 0) latencies.set(step, list);
    const at = now();
    const latency = at - sentAt;
    list.push(latency);
    const stored = Date.parse(n.createdAt ?? "");
    if (Number.isFinite(stored)) {
      if (!ingest.has(step)) ingest.set(step, []);
      if (!onward.has(step)) onward.set(step, []);
      ingest.get(step)!.push(stored - sentAt);
      onward.get(step)!.push(at - stored);
    }
    if (latency > 100) {
      const bySecond = late.get(step) ?? {};
      late.set(step, bySecond);
      const second = Math.floor(sentAt / 1000);
      bySecond[second] = (bySecond[second] ?? 0) + 1;
    }
  });
  return new Promise((resolve) => {
    socket.once("connect", () => {
      socket.on("disconnect", (reason) => {
        if (reason !== "io client disconnect") unexpectedDisconnects++;
      });
      resolve(socket);
    });
    socket.once("connect_error", () => {
      socket.close();
      resolve(null);
    });
  });
}

process.on("message", (message: Message) => {
  if (message.type === "connect") {
    void (async () => {
      let failed = 0;
      // A bounded number of handshakes in flight: thousands at once would only measure the queue.
      let next = 0;
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          while (next < message.devices.length) {
            const device = message.devices[next++]!;
            const socket = await connectOne(device.url, device.token);
            if (socket) sockets.push(socket);
            else failed++;
          }
        }),
      );
      process.send!({ type: "connected", count: sockets.length, failed });
    })();
  } else if (message.type === "collect") {
    const connected = sockets.reduce((n, s) => n + (s.connected ? 1 : 0), 0);
    process.send!({
      type: "samples",
      latencies: latencies.get(message.step) ?? [],
      ingest: ingest.get(message.step) ?? [],
      onward: onward.get(message.step) ?? [],
      late: late.get(message.step) ?? {},
      connected,
      unexpectedDisconnects,
    });
    latencies.delete(message.step);
    ingest.delete(message.step);
    onward.delete(message.step);
    late.delete(message.step);
  } else if (message.type === "close") {
    for (const s of sockets) s.close();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
process.send!({ type: "ready" });
