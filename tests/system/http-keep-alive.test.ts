// A web node keeps an idle kept-alive connection open for HTTP_KEEP_ALIVE_MS (65 s by default), longer
// than a load balancer's usual idle timeout (60 s), so the balancer closes it first. With Node's own
// 5 s, the node closed connections a balancer (or `bench:load`'s client) was about to reuse, and the
// request sent on one failed with a reset.
import { connect, type Socket } from "node:net";
import { expect, inject, it } from "vitest";

const system = inject("system");

/** Reads one HTTP response off the socket (its body by Content-Length, or chunked: left as sent). */
function readResponse(socket: Socket): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let data = "";
    const onData = (chunk: Buffer) => {
      data += chunk.toString();
      const end = data.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = data.slice(0, end);
      const length = /^content-length: *(\d+)/im.exec(head)?.[1];
      if (length === undefined ? !data.endsWith("\r\n0\r\n\r\n") : data.length - end - 4 < Number(length)) return;
      socket.off("data", onData);
      socket.off("close", onClose);
      resolve({ head, body: data.slice(end + 4) });
    };
    const onClose = () => reject(new Error(`connection closed before a whole response: ${JSON.stringify(data.slice(0, 200))}`));
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

it("keeps an idle kept-alive connection open past Node's default 5 s, and says for how long", { timeout: 20_000 }, async () => {
  const { hostname, port } = new URL(system.webUrls[0]!);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let closedAt: number | null = null;
  socket.once("close", () => (closedAt = Date.now()));
  try {
    const ask = `GET /api/health HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`;
    socket.write(ask);
    const first = await readResponse(socket);
    expect(first.head.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    expect(first.head).toMatch(/^keep-alive: *timeout=65\b/im);

    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(closedAt).toBeNull();
    socket.write(ask);
    const second = await readResponse(socket);
    expect(second.head.split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    expect(second.body).toContain('"ok":true');
  } finally {
    socket.destroy();
  }
});
