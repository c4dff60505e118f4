// CPU time used by the processes of a running system, from /proc (Linux), for the benchmarks.
import { readdirSync, readFileSync } from "node:fs";
import type { System } from "../tests/system/start-system";

/** CPU time (ms) used so far by a process. */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * Time (ms) a process's main thread has spent runnable but waiting for a CPU (the run-queue delay
 * of /proc/<pid>/schedstat): on a saturated machine, latency that no profile of the process shows.
 */
export function waitMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
  } catch {
    return 0;
  }
}

function pidsOf(name: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/comm`, "utf8").trim().startsWith(name);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** CPU ms so far of each process of the system, the benchmark client, PostgreSQL and Redis. */
export function cpuSnapshot(system: System): Map<string, number> {
  const snapshot = new Map<string, number>();
  for (const p of system.processes) snapshot.set(p.name, cpuMs(p.child.pid!));
  snapshot.set("bench client", cpuMs(process.pid));
  snapshot.set("postgres (all)", pidsOf("postgres").reduce((sum, pid) => sum + cpuMs(pid), 0));
  snapshot.set("redis-server", pidsOf("redis-server").reduce((sum, pid) => sum + cpuMs(pid), 0));
  return snapshot;
}

/** "name 1234" for each process that used CPU between two snapshots, divided by `per`. */
export function cpuBetween(before: Map<string, number>, after: Map<string, number>, per = 1, digits = 0): string {
  return [...after]
    .map(([name, ms]) => [name, (ms - (before.get(name) ?? 0)) / per] as const)
    .filter(([, ms]) => ms > 0)
    .map(([name, ms]) => `${name} ${ms.toFixed(digits)}`)
    .join(", ");
}
