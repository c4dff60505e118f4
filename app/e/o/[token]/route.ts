// GET /e/o/{token} – the open pixel of an email: records `opened`, answers a 1×1 transparent GIF
import { verifyLink } from "@/server/channels/signed-links";
import { advanceEmail } from "@/server/channels/email-events";

const GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

export async function GET(_request: Request, { params }: { params: Promise<{ token: string }> }): Promise<Response> {
  const link = verifyLink((await params).token, "open");
  if (link) await advanceEmail(link.t, link.u, "opened").catch(() => false);
  // The same pixel either way: a forged token learns nothing.
  return new Response(GIF, { headers: { "content-type": "image/gif", "cache-control": "no-store, private" } });
}
