// The sticky proxy alone (docker-compose's `proxy` service): WEB_NODES=http://web1:3000,http://web2:3000
// PORT=3000 tsx scripts/proxy.ts. `npm run start:cluster` starts it itself.
import { startStickyProxy } from "@/server/cluster/sticky-proxy";

const nodes = (process.env.WEB_NODES ?? "").split(",").map((s) => s.trim()).filter(Boolean);
if (nodes.length === 0) {
  console.error("WEB_NODES must list the web nodes, e.g. WEB_NODES=http://web1:3000,http://web2:3000");
  process.exit(2);
}
const proxy = await startStickyProxy(nodes, Number(process.env.PORT ?? 3000), process.env.BIND_ADDRESS ?? "0.0.0.0");
console.log(`sticky proxy on ${proxy.url} → ${nodes.join(", ")}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void proxy.close().then(() => process.exit(0)));
