// The pure rules of aggregation: which group an event joins, how a group's actors are merged, and
// how they read ("John, Mary and 5 others"). The fan-out (open-groups.ts) uses them to update an
// unread notification instead of creating another.
import { durationMs } from "@/server/types/types.schema";

export type Actor = { id: string; name?: string; avatarUrl?: string };
export type GroupSource = { type: string; target: { type: string; id: string } | null; actor: Actor | null; data: Record<string, unknown> };

export const DEFAULT_GROUP_KEY = "type:targetType:targetId";
export const MAX_ACTORS = 10;

/**
 * The group key of an event: the key template's parts (`type`, `targetType`, `targetId`, `actorId`,
 * `data.<path>`), joined with ':'. A part that is missing reads as `-`, so events without a target
 * still group by type.
 */
export function groupKey(source: GroupSource, template = DEFAULT_GROUP_KEY): string {
  return template
    .split(":")
    .map((part) => {
      const value =
        part === "type"
          ? source.type
          : part === "targetType"
            ? source.target?.type
            : part === "targetId"
              ? source.target?.id
              : part === "actorId"
                ? source.actor?.id
                : part.startsWith("data.")
                  ? part
                      .slice(5)
                      .split(".")
                      .reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), source.data)
                  : undefined;
      return value === undefined || value === null || value === "" ? "-" : String(value).replace(/:/g, "%3A");
    })
    .join(":");
}

/**
 * Adds an actor to a group: newest first, each actor once, at most MAX_ACTORS kept; the count grows
 * only for an actor the group has not had (`seen` holds every actor id the group ever had).
 */
export function mergeActors(group: { actors: Actor[]; actorCount: number; seen: ReadonlySet<string> }, actor: Actor | null): { actors: Actor[]; actorCount: number; isNewActor: boolean } {
  if (!actor) return { actors: group.actors, actorCount: group.actorCount, isNewActor: false };
  const isNewActor = !group.seen.has(actor.id);
  const actors = [actor, ...group.actors.filter((a) => a.id !== actor.id)].slice(0, MAX_ACTORS);
  return { actors, actorCount: group.actorCount + (isNewActor ? 1 : 0), isNewActor };
}

/** "John", "John and Mary", "John, Mary and Ann", "John, Mary and 5 others" (two names, then a count). */
export function actorsPhrase(actors: readonly Actor[], actorCount: number): string {
  const names = actors.map((a) => a.name || a.id);
  const total = Math.max(actorCount, names.length);
  if (total === 0) return "Someone";
  if (total === 1) return names[0] ?? "Someone";
  if (total === 2 && names.length >= 2) return `${names[0]} and ${names[1]}`;
  if (total === 3 && names.length >= 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  const others = total - 2;
  return `${names[0]}, ${names[1]} and ${others} other${others === 1 ? "" : "s"}`;
}

/** Whether an event at `at` still joins a group started at `startedAt`, for a window like `1h`. */
export function withinWindow(startedAt: Date, at: Date, window: string): boolean {
  return at.getTime() - startedAt.getTime() < durationMs(window);
}
