import { Liquid, type LiquidOptions, type Template } from "liquidjs";
import { actorsPhrase, type Actor } from "@/server/aggregation/aggregate";

/**
 * Templates use Liquid syntax in a sandbox: no file system, no includes, own properties only, limits
 * on parse size, render steps and memory, and variables are data that is never evaluated as template
 * code. A missing variable renders empty. The HTML engine (email bodies) escapes every output unless
 * the template author marks it safe with `| raw`.
 */
const options: LiquidOptions = {
  ownPropertyOnly: true,
  strictFilters: true,
  strictVariables: false,
  relativeReference: false,
  fs: {
    readFileSync: () => "",
    readFile: async () => "",
    existsSync: () => false,
    exists: async () => false,
    contains: async () => false,
    containsSync: () => false,
    resolve: (_root: string, file: string) => file,
    sep: "/",
  },
  parseLimit: 300_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
};
const liquid = new Liquid(options);
const htmlLiquid = new Liquid({ ...options, outputEscape: "escape" });
// Templates are one string each: nothing to include, render or lay out, so those tags are refused
// when a template is saved (they would only ever reach for files).
for (const engine of [liquid, htmlLiquid]) {
  // `{{ actors | actor_names: actorCount }}` reads "John, Mary and 5 others" for an aggregated notification.
  engine.registerFilter("actor_names", (actors: unknown, count: unknown) => {
    const list = Array.isArray(actors) ? actors.filter((a): a is Actor => Boolean(a) && typeof a === "object" && typeof (a as Actor).id === "string") : [];
    return actorsPhrase(list, typeof count === "number" ? count : list.length);
  });
  for (const tag of ["include", "render", "layout", "block"]) {
    engine.registerTag(tag, {
      parse() {
        throw new Error(`the ${tag} tag is not available in notification templates`);
      },
      render() {
        return "";
      },
    });
  }
}

export type TemplateContext = Record<string, unknown>;

/** Why a template does not parse, or null when it does. */
export function templateParseError(template: string): string | null {
  try {
    liquid.parse(template);
    return null;
  } catch (error) {
    return (error as Error).message.split("\n")[0]!.slice(0, 300);
  }
}

/** Throws when the template does not parse, so it can be refused before it is saved. */
export function parseTemplateOrThrow(template: string): void {
  liquid.parse(template);
}

// Parsed templates, by source: a fan-out renders the same few templates thousands of times.
const parsed = new Map<string, Template[]>();
function parse(template: string): Template[] {
  let hit = parsed.get(template);
  if (!hit) {
    hit = liquid.parse(template);
    if (parsed.size > 2000) parsed.clear();
    parsed.set(template, hit);
  }
  return hit;
}

export async function renderTemplate(template: string, context: TemplateContext): Promise<string> {
  return liquid.render(parse(template), context);
}

export async function renderHtmlTemplate(template: string, context: TemplateContext): Promise<string> {
  return htmlLiquid.parseAndRender(template, context);
}

// The variable paths each template reads, by source: every fan-out job asks whether its templates
// read `recipient`, and analysing a template costs more than rendering it.
const analysed = new Map<string, { segments: ReturnType<Liquid["globalVariableSegmentsSync"]>; roots: ReadonlySet<string> }>();
function analyse(template: string) {
  let hit = analysed.get(template);
  if (!hit) {
    const segments = liquid.globalVariableSegmentsSync(parse(template));
    hit = { segments, roots: new Set(segments.map((s) => String(s[0]))) };
    if (analysed.size > 2000) analysed.clear();
    analysed.set(template, hit);
  }
  return hit;
}

/** The top-level variables a template reads (`recipient`, `actor`, ...). */
export function templateRoots(template: string): ReadonlySet<string> {
  return analyse(template).roots;
}

/** The variable paths a template reads that `context` does not have, e.g. `data.excerpt`. */
export function missingVariables(template: string, context: TemplateContext): string[] {
  const missing = new Set<string>();
  for (const segments of analyse(template).segments) {
    let value: unknown = context;
    for (const segment of segments) {
      if (value === null || typeof value !== "object" || !Object.hasOwn(value, segment as PropertyKey)) {
        missing.add(segments.join("."));
        break;
      }
      value = (value as Record<string | number, unknown>)[segment as string | number];
    }
  }
  return [...missing];
}
