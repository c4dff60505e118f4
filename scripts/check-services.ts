// Checks that PostgreSQL and Redis answer; where one does not, says so in one line with how to start it.
import net from "node:net";
import { env } from "@/server/env";

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || "127.0.0.1", port: Number(port || defaultPort) });
    socket.setTimeout(2000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

const problems: string[] = [];
if (!(await reachable(env.DATABASE_URL, 5432))) {
  problems.push(
    `PostgreSQL is not reachable at ${new URL(env.DATABASE_URL).host}: start it with \`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\` (or \`docker compose up -d\`), or set DATABASE_URL in .env.`,
  );
}
if (!(await reachable(env.REDIS_URL, 6379))) {
  problems.push(
    `Redis is not reachable at ${new URL(env.REDIS_URL).host}: start it with \`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no\` (or \`docker compose up -d\`), or set REDIS_URL in .env.`,
  );
}
for (const line of problems) console.error(line);
process.exit(problems.length > 0 ? 1 : 0);
