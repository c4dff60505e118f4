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
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError("invalid_json", "The request body is not valid JSON.");
  }
}

/** Reads and validates a JSON body; invalid input becomes a 422 naming each bad field. */
export async function parseJsonBody<S extends z.ZodType>(request: Request, schema: S): Promise<z.infer<S>> {
  return schema.parse(await readJsonBody(request));
}

/** Validates query parameters (repeated keys take the last value). */
export function parseQuery<S extends z.ZodType>(request: Request, schema: S): z.infer<S> {
  const params = Object.fromEntries(new URL(request.url).searchParams.entries());
  return schema.parse(params);
}

/** For endpoints whose body is optional: an empty body reads as `{}`. */
export async function readOptionalJsonBody(request: Request): Promise<unknown> {
  return readJsonBody(request, MAX_BODY_BYTES, {});
}
