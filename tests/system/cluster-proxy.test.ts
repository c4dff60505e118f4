// The scale-out path without Docker: two web nodes behind the sticky proxy (server/cluster/sticky-proxy.ts)
// and two of each worker. One user with a Socket.IO client pinned to each node (long-polling first,
// then the WebSocket upgrade, both through the proxy) sees every event and every read-state change on
// both, whichever node the change came through.
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { request, serviceClient, uniqueId } from "./client";
import { startSystem, type System } from "./start-system";
import { startStickyProxy, type StickyProxy } from "@/server/cluster/sticky-proxy";

let system: System;
let proxy: StickyProxy;

beforeAll(async () => {
  system = await startSystem({ webNodes: 2, relays: 2, fanoutWorkers: 2 });
  proxy = await startStickyProxy(system.webUrls);
});

afterAll(async () => {
  await proxy?.close();
  await system?.stop();
});

async function socketsOn(web: string): Promise<number> {
  const text = await (await fetch(`${web}/metrics`)).text();
  return Number(/^notify_sockets_connected (\d+)/m.exec(text)?.[1] ?? NaN);
}

function collect(socket: Socket, event: string): unknown[] {
  const seen: unknown[] = [];
  socket.on(event, (payload: unknown) => seen.push(payload));
  return seen;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("a user with a socket on each node, through the proxy, sees every event and read on both", async () => {
  const service = serviceClient(proxy.url, system.serviceKey);
  const userId = uniqueId("cluster");
  const token = await service.token(userId);
  // Each client is a new browser to the proxy: round-robin puts them on different nodes, and each
  // stays there (its cookie) from the polling handshake through the upgrade.
  const clients = [0, 1].map(() => io(proxy.url, { auth: { token }, withCredentials: true, forceNew: true, reconnection: false }));
  await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => c.once("connect", () => resolve()).once("connect_error", reject))));
  await until(() => clients.every((c) => c.io.engine.transport.name === "websocket"), "both clients upgraded to WebSocket");
  await until(async () => (await socketsOn(system.webUrls[0]!)) === 1 && (await socketsOn(system.webUrls[1]!)) === 1, "one socket on each web node");

  const created = clients.map((c) => collect(c, "notification:new"));
  const read = clients.map((c) => collect(c, "notifications:read"));
  for (let i = 0; i < 6; i++) expect((await service.trigger({ type: "system", to: [userId], title: `Event ${i}` })).status).toBe(202);
  await until(() => created.every((list) => list.length === 6), "six notifications on both sockets");
  for (const list of created) expect(new Set(list.map((n) => (n as { title: string }).title)).size).toBe(6);

  // Reads through the proxy (landing on either node) and through each node directly reach both sockets.
  const ids = (created[0] as { id: string }[]).map((n) => n.id);
  const via = [proxy.url, system.webUrls[0]!, system.webUrls[1]!];
  for (const [i, base] of via.entries()) {
    const reply = await request(`${base}/api/notifications/read`, { method: "POST", token, body: { ids: [ids[i]] } });
    expect(reply.status).toBe(200);
  }
  await until(() => read.every((list) => list.length === 3), "three reads on both sockets");
  const count = await request(`${proxy.url}/api/notifications/unread-count`, { token });
  expect(count.body.count).toBe(3);
  for (const c of clients) c.disconnect();
});
