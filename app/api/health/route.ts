// GET /api/health – liveness of the web node and its PostgreSQL and Redis
import { checkHealth } from "@/server/health/check-health";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  const health = await checkHealth();
  if (health.ok) return Response.json(health);
  const down = [health.db === "down" && "PostgreSQL", health.redis === "down" && "Redis"].filter(Boolean).join(" and ");
  return Response.json({ ...health, error: { code: "unavailable", message: `${down} ${down.includes("and") ? "are" : "is"} down.` } }, { status: 503 });
}
