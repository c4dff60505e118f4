// Reads an `EXPLAIN (ANALYZE, FORMAT JSON)` plan: which notifications partitions a statement read
// (scans that ran at least once; pruned or never-executed ones do not count), and how every
// relation was scanned. Used by the partition tests (system and slow tier).

export type PlanNode = {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
};

export function partitionsRead(plan: PlanNode): { partitions: string[]; indexScans: string[]; seqScans: string[] } {
  const partitions = new Set<string>();
  const indexScans = new Set<string>();
  const seqScans = new Set<string>();
  const visit = (node: PlanNode) => {
    const relation = node["Relation Name"];
    if (relation && (node["Actual Loops"] ?? 0) > 0) {
      // (notifications_archive is cold storage, not a partition.)
      if (relation.startsWith("notifications_") && relation !== "notifications_archive") partitions.add(relation);
      if (/Seq Scan/.test(node["Node Type"])) seqScans.add(relation);
      else if (/Index|Bitmap/.test(node["Node Type"])) indexScans.add(relation);
    }
    node.Plans?.forEach(visit);
  };
  visit(plan);
  return { partitions: [...partitions].sort(), indexScans: [...indexScans].sort(), seqScans: [...seqScans].sort() };
}
