import { AppError } from "@/server/app-error";

/** An opaque position in the `(sortAt desc, id desc)` order. */
export type Position = { sortAt: string; id: string };

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.sortAt, position.id])).toString("base64url");
}

export function decodeCursorOrThrow(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string" && !Number.isNaN(Date.parse(value[0]))) {
      if (/^[0-9a-f-]{36}$/i.test(value[1])) return { sortAt: value[0], id: value[1] };
    }
  } catch {
    /* fall through */
  }
  throw new AppError("validation_failed", "The cursor is not one this API returned.", { details: [{ field: "cursor", message: "is invalid" }] });
}
