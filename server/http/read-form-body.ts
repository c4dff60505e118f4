import { AppError } from "@/server/app-error";
import { MAX_BODY_BYTES } from "@/server/http/read-json-body";

/** Reads an urlencoded or multipart form with the same size cap as JSON bodies. */
export async function readFormBody(request: Request, maxBytes = MAX_BODY_BYTES): Promise<URLSearchParams | FormData> {
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) {
    throw new AppError("payload_too_large", `The request body is larger than ${maxBytes / 1024} KiB.`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new AppError("payload_too_large", `The request body is larger than ${maxBytes / 1024} KiB.`);
      }
      chunks.push(value);
    }
  }
  const bytes = Buffer.concat(chunks);
  const contentType = request.headers.get("content-type") ?? "";
  if (contentType.startsWith("multipart/form-data")) {
    return new Response(bytes, { headers: { "content-type": contentType } }).formData().catch(() => {
      throw new AppError("bad_request", "The multipart form could not be read.");
    });
  }
  if (contentType === "" || contentType.startsWith("application/x-www-form-urlencoded")) return new URLSearchParams(bytes.toString("utf8"));
  throw new AppError("unsupported_media_type", "Send a form (application/x-www-form-urlencoded or multipart/form-data).");
}
