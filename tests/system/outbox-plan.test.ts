// The fan-out marks its trigger's outbox row done in the statement that stores the trigger (and the
// cancel, the relay's failures and a skipped job do the same): "WHERE trigger_id = $1 AND done_at IS
// NULL". Planned generically, as the fan-out's keyed pool plans it, that must read the one row
// through the partial index on pending rows by trigger, not every pending row (plus the dead index
// entries of rows done since the last vacuum) through the index of pending rows by time.
import pg from "pg";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { PlanNode } from "@/server/notifications/plan-partitions";

type Node = PlanNode & { "Index Name"?: string; Plans?: Node[] };

let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: inject("system").databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
});

function scans(node: Node): string[] {
  const own = node["Relation Name"] === "outbox" && node["Node Type"].endsWith("Scan") ? [`${node["Node Type"]}${node["Index Name"] ? ` ${node["Index Name"]}` : ""}`] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scans)];
}

it("marks a trigger's outbox row done through the index of pending rows by trigger, in a generic plan", async () => {
  await db.query("SET plan_cache_mode = force_generic_plan");
  await db.query("SET enable_seqscan = off");
  await db.query("PREPARE outbox_done(uuid) AS UPDATE outbox SET done_at = now() WHERE trigger_id = $1 AND done_at IS NULL");
  try {
    const { rows } = await db.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>("EXPLAIN (FORMAT JSON) EXECUTE outbox_done('00000000-0000-7000-8000-000000000000')");
    expect(scans(rows[0]!["QUERY PLAN"][0].Plan)).toEqual(["Index Scan outbox_pending_trigger_idx"]);
  } finally {
    await db.query("DEALLOCATE outbox_done");
    await db.query("RESET plan_cache_mode; RESET enable_seqscan");
  }
});
