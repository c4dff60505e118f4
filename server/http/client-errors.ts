import { STATUS_CODES, type Server } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Answers, in API.md's error format, the requests that Node's HTTP parser refuses before any route
 * sees them: a request line and headers past its limit (16 KiB: 431), a request that took too long
 * to arrive (408), anything that is not HTTP (400). Without this Node answers them with an empty body.
 */
export function answerClientErrors(server: Server): void {
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "headers_too_large", "The request line and headers are larger than this server accepts (16 KiB)."]
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "request_timeout", "The request took too long to arrive."]
          : [400, "bad_request", "The request is not valid HTTP."];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
