import type { z } from "zod";
import { AppError } from "@/server/app-error";
import { MAX_BODY_BYTES, readBodyBytes } from "@/server/http/read-body-bytes";

/** Reads a JSON body of at most `maxBytes`. An empty body is `emptyAs` when given, else 400. */
export async function readJsonBody(request: Request, maxBytes = MAX_BODY_BYTES, emptyAs?: unknown): Promise<unknown> {
  const contentType = request.headers.get("content-type");
  if (contentType && !/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
    throw new AppError("unsupported_media_type", "The request body must be JSON (Content-Type: application/json).");
  }
  const text = (await readBodyBytes(request, maxBytes)).toString("utf8");
  if (text.trim() === "" && emptyAs !== undefined) return emptyAs;
  if (text.trim() === "") throw new AppError("invalid_json", "The request body is empty; it must be a JSON object.");
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new AppError("invalid_json", "The request body is not valid JSON.");
  }
  // A NUL can only be in JSON as the escape \u0000: look closer only then.
  if (text.includes("\\u0000")) {
    const field = nulField(value, "");
    if (field !== null) throw nulRefused(field || "(body)");
  }
  return value;
}

/**
 * PostgreSQL cannot store the NUL character in text or JSON: an input holding one is refused here
 * (422 on the field), for every body and query, instead of failing in the database as a 500.
 */
function nulRefused(field: string): AppError {
  return new AppError("validation_failed", `Invalid input: ${field}.`, { details: [{ field, message: "must not contain the NUL character (U+0000)" }] });
}

/** The path of the first string (or key) holding a NUL, or null. */
function nulField(value: unknown, path: string): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path : null;
  if (typeof value !== "object" || value === null) return null;
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key.includes("\u0000")) return at;
    const found = nulField(item, at);
    if (found !== null) return found;
  }
  return null;
}

/** Reads and validates a JSON body; invalid input becomes a 422 naming each bad field. */
export async function parseJsonBody<S extends z.ZodType>(request: Request, schema: S): Promise<z.infer<S>> {
  return schema.parse(await readJsonBody(request));
}

/** Validates query parameters (repeated keys take the last value). */
export function parseQuery<S extends z.ZodType>(request: Request, schema: S): z.infer<S> {
  const params = Object.fromEntries(new URL(request.url).searchParams.entries());
  const field = nulField(params, "");
  if (field !== null) throw nulRefused(field);
  return schema.parse(params);
}

/** For endpoints whose body is optional: an empty body reads as `{}`. */
export async function readOptionalJsonBody(request: Request): Promise<unknown> {
  return readJsonBody(request, MAX_BODY_BYTES, {});
}
