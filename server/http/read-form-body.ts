import { AppError } from "@/server/app-error";
import { MAX_BODY_BYTES, readBodyBytes } from "@/server/http/read-body-bytes";

/** Reads an urlencoded or multipart form with the same size cap as JSON bodies. */
export async function readFormBody(request: Request, maxBytes = MAX_BODY_BYTES): Promise<URLSearchParams | FormData> {
  const bytes = await readBodyBytes(request, maxBytes);
  const contentType = request.headers.get("content-type") ?? "";
  if (contentType.startsWith("multipart/form-data")) {
    return new Response(new Uint8Array(bytes), { headers: { "content-type": contentType } }).formData().catch(() => {
      throw new AppError("bad_request", "The multipart form could not be read.");
    });
  }
  if (contentType === "" || contentType.startsWith("application/x-www-form-urlencoded")) return new URLSearchParams(bytes.toString("utf8"));
  throw new AppError("unsupported_media_type", "Send a form (application/x-www-form-urlencoded or multipart/form-data).");
}
