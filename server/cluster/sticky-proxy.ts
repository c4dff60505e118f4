// A small sticky load balancer for running several web nodes locally without Docker or nginx
// (`npm run start:cluster`, and the tests of that path). Each browser is pinned to one web node by a
// cookie the proxy sets on its first response (as nginx `sticky` or HAProxy `cookie insert` do), so
// Socket.IO's long-polling requests and the WebSocket upgrade reach the node that holds the session;
// new clients are spread round-robin. A node that refuses connections is skipped. In production use
// your load balancer with the same stickiness; this is for one machine.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";

export const STICKY_COOKIE = "notify_node";
const PINNED = new RegExp(`(?:^|;\\s*)${STICKY_COOKIE}=(\\d+)`);

export type StickyProxy = {
  server: http.Server;
  url: string;
  /** WebSocket upgrades spliced to each node so far (index = node). */
  upgrades: number[];
  close: () => Promise<void>;
};

export async function startStickyProxy(backends: string[], port = 0, host = "127.0.0.1"): Promise<StickyProxy> {
  if (backends.length === 0) throw new Error("the proxy needs at least one web node");
  const targets = backends.map((b) => new URL(b));
  let next = 0;

  /** The pinned node, or the next one round-robin (and whether it is new to this client). */
  const choose = (req: IncomingMessage, skip = new Set<number>()): { index: number; fresh: boolean } => {
    const pinned = PINNED.exec(req.headers.cookie ?? "")?.[1];
    const index = pinned === undefined ? -1 : Number(pinned);
    if (index >= 0 && index < targets.length && !skip.has(index)) return { index, fresh: false };
    for (let i = 0; i < targets.length; i++) {
      const candidate = next++ % targets.length;
      if (!skip.has(candidate)) return { index: candidate, fresh: true };
    }
    return { index: -1, fresh: true };
  };

  const forward = (req: IncomingMessage, res: ServerResponse, skip = new Set<number>()) => {
    const { index, fresh } = choose(req, skip);
    if (index < 0) {
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "unavailable", message: "No web node is reachable." } }));
      return;
    }
    const target = targets[index]!;
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, "x-forwarded-for": req.socket.remoteAddress ?? "" } }, (answer) => {
      const headers = { ...answer.headers };
      if (fresh) headers["set-cookie"] = [...(answer.headers["set-cookie"] ?? []), `${STICKY_COOKIE}=${index}; Path=/; HttpOnly; SameSite=Lax`];
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      // A node that is down: try the others (only before anything was sent, and for bodiless requests).
      if (!res.headersSent && error.code === "ECONNREFUSED" && (req.method === "GET" || req.method === "HEAD") && skip.size + 1 < targets.length) {
        forward(req, res, new Set([...skip, index]));
      } else if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "unavailable", message: "The web node did not answer." } }));
      } else res.destroy();
    });
    // A client that goes away before the answer is complete takes the upstream request with it.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const server = http.createServer((req, res) => forward(req, res));
  const tunnels = new Set<net.Socket>();
  // WebSocket upgrades: the raw connection is spliced to the pinned node.
  const upgrades = targets.map(() => 0);
  server.on("upgrade", (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    const { index } = choose(req);
    const target = targets[Math.max(0, index)]!;
    upgrades[Math.max(0, index)]!++;
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join("\r\n") + "\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    tunnels.add(socket).add(upstream);
    const end = () => {
      upstream.destroy();
      socket.destroy();
      tunnels.delete(socket);
      tunnels.delete(upstream);
    };
    upstream.on("error", end);
    socket.on("error", end);
    upstream.on("close", end);
    socket.on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    server,
    url: `http://${host}:${address.port}`,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const tunnel of tunnels) tunnel.destroy();
        server.close(() => resolve());
      }),
  };
}
