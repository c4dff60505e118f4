// /e/u/{token} – unsubscribe from a category's emails. POST is RFC 8058 one-click (the mail client
// sends `List-Unsubscribe=One-Click`) and the button of the page that GET shows; GET changes nothing,
// so link scanners cannot unsubscribe anyone.
import { verifyLink } from "@/server/channels/signed-links";
import { updatePreferences } from "@/server/preferences/user-preferences";
import { escapeHtml } from "@/server/templates/escape-html";

const page = (title: string, body: string, status = 200) =>
  new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>` +
      `<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem"><h1 style="font-size:1.4rem">${title}</h1>${body}</body></html>`,
    { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } },
  );


export async function GET(_request: Request, { params }: { params: Promise<{ token: string }> }): Promise<Response> {
  const link = verifyLink((await params).token, "unsubscribe");
  if (!link) return page("Link not valid", "<p>This unsubscribe link is not valid. You can change what you receive in your notification settings.</p>", 400);
  return page(
    "Unsubscribe",
    `<p>Stop emails about <strong>${escapeHtml(link.cat)}</strong>? You will still see them in your inbox, and you can turn them back on in your notification settings.</p>` +
      `<form method="post"><button type="submit" style="padding:.5rem 1rem">Unsubscribe</button></form>`,
  );
}

export async function POST(_request: Request, { params }: { params: Promise<{ token: string }> }): Promise<Response> {
  const link = verifyLink((await params).token, "unsubscribe");
  if (!link) return page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 400);
  await updatePreferences(link.u, { categories: { [link.cat]: { email: false } } });
  return page("Unsubscribed", `<p>You will no longer get emails about <strong>${escapeHtml(link.cat)}</strong>.</p>`);
}
