// Starts one shared system for the system tests: two web nodes, two relays, two fan-out workers,
// on a fresh database and a private key prefix in the shared Redis.
import type { TestProject } from "vitest/node";
import { startSystem, type SystemInfo } from "./start-system";

declare module "vitest" {
  export interface ProvidedContext {
    system: SystemInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const system = await startSystem({ webNodes: 2, relays: 2, fanoutWorkers: 2 });
  const { webUrls, databaseUrl, redisUrl, redisPrefix, serviceKey, authSecret } = system;
  project.provide("system", { webUrls, databaseUrl, redisUrl, redisPrefix, serviceKey, authSecret });
  return () => system.stop();
}
