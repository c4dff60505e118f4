// The web node: one HTTP server on PORT hosting the Next.js app (pages and the REST API) and the
// Socket.IO server. Run any number of them behind a load balancer; Redis connects them.
import { env } from "@/server/env";
import { createServer } from "node:http";
import next from "next";
import { attachSocketServer } from "@/server/realtime/socket-server";
import { closeDb } from "@/server/db";
import { closeRedis } from "@/server/redis";
import { closePublisher } from "@/server/realtime/publish";
import { closeQueues } from "@/server/queues";
import { logger } from "@/server/logger";
import { createMetricsHandler } from "@/server/metrics/exposition";
import { flushMetrics } from "@/server/metrics/metrics";
import { directRoute, loadDirectRoutes, serveDirect } from "@/server/http/direct-routes";
import { answerClientErrors } from "@/server/http/client-errors";
import { setFlagsFromString } from "node:v8";

process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));

// Fewer major GCs for a heap that is mostly long-lived sockets, for more memory (see env.ts). V8
// reads this flag whenever it sets the next GC's limit, so setting it here, at start, takes effect.
if (env.WEB_HEAP_GROWING_PERCENT > 0) setFlagsFromString(`--heap-growing-percent=${env.WEB_HEAP_GROWING_PERCENT}`);

const dev = env.NODE_ENV !== "production";
const app = next({ dev, hostname: "localhost", port: env.PORT, turbopack: dev });
const handle = app.getRequestHandler();

await app.prepare();
if (env.DIRECT_ROUTES) await loadDirectRoutes();
let serveMetrics: ReturnType<typeof createMetricsHandler> | null = null;
const httpServer = createServer((req, res) => {
  if (serveMetrics && req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) void serveMetrics(req, res);
  else {
    const direct = env.DIRECT_ROUTES ? directRoute(req) : null;
    void (direct ? serveDirect(direct, req, res) : handle(req, res));
  }
});
answerClientErrors(httpServer);
httpServer.keepAliveTimeout = env.HTTP_KEEP_ALIVE_MS;
// The headers' deadline past the keep-alive one, as advised for Node behind a load balancer.
httpServer.headersTimeout = env.HTTP_KEEP_ALIVE_MS + 1000;
const sockets = attachSocketServer(httpServer);
serveMetrics = createMetricsHandler(() => sockets.io.engine.clientsCount);
// Subscribed to the users' events before the first socket can connect; a Redis that is down does
// not keep the node from starting (the subscription waits for it; /api/health reports Redis down).
await Promise.race([sockets.ready, new Promise((resolve) => setTimeout(resolve, 5_000))]);

httpServer.listen(env.PORT, env.BIND_ADDRESS, () => {
  const address = httpServer.address();
  const port = typeof address === "object" && address ? address.port : env.PORT;
  logger.info({ port }, `web node ready on http://localhost:${port}`);
  // Lets a parent process (npm start, tests) learn the port when PORT=0.
  process.send?.({ type: "ready", port });
});

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  logger.info({ signal }, "web node shutting down");
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  await sockets.close();
  await flushMetrics().catch(() => undefined);
  await Promise.allSettled([closeQueues(), closeDb(), closeRedis(), closePublisher()]);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
