import { AppError } from "@/server/app-error";

export const MAX_BODY_BYTES = 256 * 1024;

// Bodies the web node read off the socket before calling a route handler (server/http/direct-routes.ts):
// a Request built with a stream body costs several times the rest of accepting a small trigger.
const preread = new WeakMap<Request, Buffer>();

/** Gives `request` a body already read in full; `readBodyBytes` returns it (limits still apply). */
export function withReadBody(request: Request, body: Buffer): Request {
  preread.set(request, body);
  return request;
}

/** Reads at most `maxBytes` of a request body without buffering more; larger is 413. */
export async function readBodyBytes(request: Request, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = () => new AppError("payload_too_large", `The request body is larger than ${maxBytes / 1024} KiB.`);
  if (Number(request.headers.get("content-length") ?? "0") > maxBytes) throw tooLarge();
  const read = preread.get(request);
  if (read) {
    if (read.byteLength > maxBytes) throw tooLarge();
    return read;
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
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks);
}
