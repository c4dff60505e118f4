// GET /e/c/{token} – a link in an email: records `clicked` and redirects to the signed target.
// An unsigned or tampered token redirects nowhere (no open redirect).
import { publicBaseUrl, verifyLink } from "@/server/channels/signed-links";
import { advanceEmail } from "@/server/channels/email-events";

export async function GET(_request: Request, { params }: { params: Promise<{ token: string }> }): Promise<Response> {
  const link = verifyLink((await params).token, "click");
  if (!link) {
    return new Response("This link is not valid. Open the email again, or go to the site directly.", { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  await advanceEmail(link.t, link.u, "clicked").catch(() => false);
  const target = link.url.startsWith("/") ? `${publicBaseUrl()}${link.url}` : link.url;
  return new Response(null, { status: 302, headers: { location: target, "cache-control": "no-store" } });
}
