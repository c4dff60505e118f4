// A real Redis Cluster for the tests: `masters` redis-server processes in cluster mode (with
// `replicasPerMaster` replicas each), created with redis-cli and waited for until every node reports
// cluster_state:ok. Stopped (SIGKILL) and its files removed by `stop`.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { eventually } from "./client";
import { freePort, waitForRedis } from "./start-system";

const run = promisify(execFile);

export type RedisClusterNodes = {
  ports: number[];
  /** "127.0.0.1:port,…", for REDIS_CLUSTER_NODES. */
  nodesEnv: string;
  kill: (port: number) => void;
  stop: () => void;
};

export async function startRedisCluster(options: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {}): Promise<RedisClusterNodes> {
  const { masters = 3, replicasPerMaster = 0, nodeTimeoutMs } = options;
  const dir = mkdtempSync(path.join(tmpdir(), "notify-cluster-"));
  const processes = new Map<number, ChildProcess>();
  const stop = () => {
    for (const child of processes.values()) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      // --cluster-port: the default bus port (port + 10000) may not exist for a high free port.
      const args = ["--port", String(port), "--cluster-port", String(busPort), "--bind", "127.0.0.1", "--cluster-enabled", "yes"];
      if (nodeTimeoutMs) args.push("--cluster-node-timeout", String(nodeTimeoutMs));
      args.push("--cluster-config-file", path.join(dir, `nodes-${port}.conf`), "--dir", dir, "--save", "", "--appendonly", "no");
      processes.set(port, spawn("redis-server", args, { stdio: "ignore" }));
      await waitForRedis(port);
      ports.push(port);
    }
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicasPerMaster), "--cluster-yes"]);
    for (const port of ports) {
      await eventually(async () => {
        const client = new Redis(port, "127.0.0.1");
        try {
          return (await client.cluster("INFO")).includes("cluster_state:ok") ? true : undefined;
        } finally {
          client.disconnect();
        }
      }, 30_000, "cluster_state:ok");
    }
    // A replica can take over only once it has synced with its master (the first sync waits for
    // repl-diskless-sync-delay, 5 s): one whose master dies before that is never promoted.
    if (replicasPerMaster > 0) {
      for (const port of ports) {
        await eventually(async () => {
          const client = new Redis(port, "127.0.0.1");
          try {
            const info = await client.info("replication");
            return info.includes("role:master") || info.includes("master_link_status:up") ? true : undefined;
          } finally {
            client.disconnect();
          }
        }, 60_000, `the replica on ${port} synced with its master`);
      }
    }
    return { ports, nodesEnv: ports.map((p) => `127.0.0.1:${p}`).join(","), kill: (port) => processes.get(port)?.kill("SIGKILL"), stop };
  } catch (error) {
    stop();
    throw error;
  }
}
