// A message of events is written to each socket in one system call (HeldWrites in
// server/realtime/socket-server.ts), not one per packet: counted with the web node's own write
// system calls (/proc/<pid>/io, syscw), on a system of its own so that nothing else writes meanwhile.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectDevice, eventually, serviceClient, uniqueId } from "./client";
import { startSystem, useSystemInProcess, type System } from "./start-system";

let system: System;
let closeModules: () => Promise<void>;

beforeAll(async () => {
  system = await startSystem({ webNodes: 1, relays: 0, fanoutWorkers: 0 });
  closeModules = useSystemInProcess(system);
});

afterAll(async () => {
  await closeModules?.();
  await system?.stop();
});

function writeCalls(pid: number): number {
  return Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

it("sends a socket's packets of one message in one write, in order", async () => {
  const { publishToUser } = await import("@/server/realtime/publish");
  const web = system.processes.find((p) => p.name.startsWith("web"))!;
  const user = uniqueId("writes");
  const device = await connectDevice(system.webUrls[0]!, await serviceClient(system.webUrls[0]!, system.serviceKey).token(user));
  try {
    // Settle: the connection's own writes (presence, the handshake's) are done.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = writeCalls(web.child.pid!);
    // 100 notifications' pairs of events: 200 packets in one message.
    for (let count = 1; count <= 100; count++) {
      publishToUser(user, "unread_count", { count, unseen: count, seq: count });
      publishToUser(user, "unread_count", { count: -count, unseen: count, seq: count });
    }
    await eventually(async () => device.events.length >= 200 || undefined, 10_000, "200 events").catch(() => undefined);
    const writes = writeCalls(web.child.pid!) - before;
    const counts = device.events.map((e) => (e.payload as { count: number }).count);
    expect(counts).toEqual([...Array(100).keys()].flatMap((i) => [i + 1, -(i + 1)]));
    // One write for the 200 frames, plus whatever the node wrote meanwhile (a presence heartbeat, metrics).
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(20);
  } finally {
    device.socket.close();
  }
});
