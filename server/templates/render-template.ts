import { Liquid } from "liquidjs";

/**
 * Templates use Liquid syntax in a sandbox: no file system, no includes, own properties only, and
 * variables are data that is never evaluated as template code. A missing variable renders empty.
 */
const liquid = new Liquid({
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
  parseLimit: 100_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
});

export type TemplateContext = Record<string, unknown>;

/** Throws when the template does not parse, so it can be refused before it is saved. */
export function parseTemplateOrThrow(template: string): void {
  liquid.parse(template);
}

export async function renderTemplate(template: string, context: TemplateContext): Promise<string> {
  return liquid.parseAndRender(template, context);
}
