// The admin dashboard and the user's settings page in a real browser: an admin creates and edits a
// type and watches the preview follow; a user turns a type off and the next trigger records it;
// an admin signs in with a one-time link; an admin gives a service key its own ingestion limits.
import { execFileSync } from "node:child_process";
import { expect, test } from "@playwright/test";
import { baseUrl, openInbox, serviceKey, signIn, trigger, uniqueUserId } from "./fixtures";

async function service(method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl()}${path}`, { method, headers: { authorization: `Bearer ${serviceKey()}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(response.status, `${method} ${path}`).toBeLessThan(300);
  return response.json();
}

test("an admin creates a type, edits its template and sees the preview change, and saves a new version", async ({ browser }) => {
  const adminId = uniqueUserId("admin");
  await service("PUT", `/api/v1/users/${adminId}`, { name: "Ada Admin", role: "admin" });
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, adminId);
  const page = await context.newPage();
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Admin" })).toBeVisible();

  const key = `welcome_${Date.now()}`;
  await page.getByRole("button", { name: "New type" }).click();
  await page.getByLabel("Key").fill(key);
  await page.getByLabel("Name", { exact: true }).fill("Welcome");
  const title = page.getByRole("textbox", { name: "In-app title" });
  await title.fill("Welcome, {{ recipient.name | default: 'friend' }}! {{ actor.name }} invited you.");
  const preview = page.getByTestId("preview-in_app").getByTestId("preview-title");
  await expect(preview).toHaveText("Welcome, Jane Roe! John Doe invited you.");
  await page.getByLabel("Actor name").fill("Grace");
  await expect(preview).toHaveText("Welcome, Jane Roe! Grace invited you.");
  await page.getByRole("button", { name: "Create type" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Created" })).toContainText("template version 1");

  // Edit: the preview follows every keystroke; a template that does not parse is refused by name.
  await page.getByRole("button", { name: new RegExp(`^Welcome ${key}`) }).click();
  const editTitle = page.getByRole("textbox", { name: "In-app title" });
  await editTitle.fill("Hello {{ actor.name }}");
  await expect(page.getByTestId("preview-in_app").getByTestId("preview-title")).toHaveText("Hello John Doe");
  // As a group: the sample actors and the count, as aggregation would render them.
  await editTitle.fill("{{ actors | actor_names: actorCount }} said hello");
  await page.getByLabel("People in the group").fill("7");
  await expect(page.getByTestId("preview-in_app").getByTestId("preview-title")).toHaveText("John Doe, Mary Major and 5 others said hello");
  await page.getByLabel("People in the group").fill("1");
  await editTitle.fill("Hello {{ actor.name }}");
  await expect(page.getByTestId("preview-in_app").getByTestId("preview-title")).toHaveText("Hello John Doe");
  await editTitle.fill("Hello {% if actor %}");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Not saved" })).toBeVisible();
  await expect(page.getByText(/does not parse/).first()).toBeVisible();
  await editTitle.fill("Hello {{ actor.name }}, welcome aboard");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toContainText("template version 2");

  // Email and SMS previews: the email as a mail client shows it, SMS with its segments.
  await page.getByRole("checkbox", { name: "SMS" }).check();
  await page.getByRole("tab", { name: "SMS" }).click();
  await page.getByRole("textbox", { name: "SMS body" }).fill("{{ actor.name }} says hi €");
  await expect(page.getByTestId("sms-count")).toHaveText("18 characters · 1 segment (GSM-7)");

  // The saved version is what triggers use.
  const user = uniqueUserId("welcomed");
  await trigger({ type: key, to: [user], actor: { id: "g", name: "Grace" } });
  const token = (await service("POST", `/api/v1/users/${user}/token`, {})).token as string;
  await expect
    .poll(async () => {
      const response = await fetch(`${baseUrl()}/api/notifications`, { headers: { authorization: `Bearer ${token}` } });
      return ((await response.json()) as { notifications: { title: string }[] }).notifications[0]?.title;
    })
    .toBe("Hello Grace, welcome aboard");
  await context.close();
});

test("an admin adds a language variant and an action button, duplicates and archives a type", async ({ browser }) => {
  const adminId = uniqueUserId("admin");
  await service("PUT", `/api/v1/users/${adminId}`, { name: "Ada Admin", role: "admin" });
  const key = `promo_${Date.now()}`;
  await service("PUT", `/api/v1/admin/types/${key}`, { name: "Promo", category: "promotional", channels: ["in_app"], templates: { in_app: { title: "Sale: {{ data.pct }}% off", body: "" } } });
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, adminId);
  const page = await context.newPage();
  page.on("dialog", (dialog) => void dialog.accept(dialog.message().startsWith("Language") ? "de" : `${key}_copy`));
  await page.goto("/admin");
  await page.getByRole("button", { name: new RegExp(`^Promo ${key}`) }).click();
  await page.getByLabel("data (JSON)").fill('{ "pct": 20 }');
  const preview = page.getByTestId("preview-in_app").getByTestId("preview-title");
  await expect(preview).toHaveText("Sale: 20% off");

  // A German variant: the preview shows it for "de", the default stays.
  await page.getByRole("button", { name: "Add language" }).click();
  await expect(page.getByLabel("Language")).toHaveValue("de");
  await page.getByRole("textbox", { name: "In-app title" }).fill("Angebot: {{ data.pct }} % Rabatt");
  await expect(preview).toHaveText("Angebot: 20 % Rabatt");
  await page.getByLabel("Language").selectOption("");
  await expect(preview).toHaveText("Sale: 20% off");
  // An action button, rendered in the preview.
  await page.getByRole("button", { name: "Add a button" }).click();
  await page.getByLabel("Action 1 label").fill("Shop now");
  await page.getByLabel("Action 1 URL").fill("/shop?pct={{ data.pct }}");
  await expect(page.getByTestId("preview-in_app")).toContainText("Shop now");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toContainText("template version 2");
  const saved = (await service("GET", `/api/v1/admin/types/${key}`)) as { locales: Record<string, { in_app: { title: string } }>; templates: { in_app: { actions: { label: string; url: string }[] } } };
  expect(saved.locales.de?.in_app.title).toBe("Angebot: {{ data.pct }} % Rabatt");
  expect(saved.templates.in_app.actions).toEqual([{ id: "action_1", label: "Shop now", kind: "navigate", url: "/shop?pct={{ data.pct }}" }]);

  // Duplicate, then archive the copy: it stays listed as archived and takes no triggers.
  await page.getByRole("button", { name: "Duplicate" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Duplicated as ${key}_copy` })).toBeVisible();
  await page.getByRole("button", { name: "Archive", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "Archived" })).toBeVisible();
  await expect(page.getByRole("button", { name: new RegExp(`${key}_copy · v1 · archived`) })).toBeVisible();
  const refused = await fetch(`${baseUrl()}/api/v1/notifications`, {
    method: "POST",
    headers: { authorization: `Bearer ${serviceKey()}`, "content-type": "application/json" },
    body: JSON.stringify({ type: `${key}_copy`, to: [uniqueUserId("u")] }),
  });
  expect(refused.status).toBe(422);
  await context.close();
});

test("a user turns a type off on the settings page; the next trigger records it suppressed, and the other tab follows", async ({ browser }) => {
  const userId = uniqueUserId("settings");
  await service("PUT", `/api/v1/users/${userId}`, { name: "Sam", email: `${userId}@example.com` });
  const inbox = await openInbox(browser, userId);
  const page = await inbox.context().newPage();
  await page.goto("/settings/notifications");
  await expect(page.getByRole("heading", { name: "Notification settings" })).toBeVisible();
  const commentEmail = page.getByRole("checkbox", { name: "Comment: Email" });
  await expect(commentEmail).toBeChecked();
  // A required type cannot be turned off.
  await expect(page.getByRole("checkbox", { name: "System message: Email" })).toBeDisabled();

  // A second tab of the same user has the page open too.
  const other = await inbox.context().newPage();
  await other.goto("/settings/notifications");
  await expect(other.getByRole("checkbox", { name: "Comment: Email" })).toBeChecked();

  await commentEmail.uncheck();
  await expect(page.getByText("Saved. Applies to the next notification.")).toBeVisible();
  await expect(other.getByRole("checkbox", { name: "Comment: Email" }), "the other tab hears preferences:updated").not.toBeChecked();

  const accepted = await trigger({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "hi" } });
  const status = await expect
    .poll(async () => {
      const s = (await service("GET", `/api/v1/notifications/${accepted.id}`)) as { status: string; outcomes: { channel: string; status: string; reason?: string }[] };
      return s.status === "completed" ? s.outcomes.find((o) => o.channel === "email") : undefined;
    })
    .toEqual(expect.objectContaining({ status: "suppressed", reason: "type_muted" }));
  void status;
  // The inbox still got it.
  await expect(inbox.getByTestId("notification-badge")).toHaveText("1");

  // Quiet hours and do-not-disturb are saved from the page too.
  await page.getByRole("checkbox", { name: "Use quiet hours" }).check();
  await expect(page.getByLabel("From")).toHaveValue("22:00");
  await page.getByRole("button", { name: "For 1 hour" }).click();
  await expect(page.getByTestId("dnd-status")).toContainText("On until");
  const saved = (await (await page.request.get("/api/preferences")).json()) as { quietHours: { start: string; end: string } | null; dndUntil: string | null };
  expect(saved.quietHours).toMatchObject({ start: "22:00", end: "07:00" });
  expect(Date.parse(saved.dndUntil!)).toBeGreaterThan(Date.now());
  await inbox.context().close();
});

test("an admin signs in with a one-time link from `npm run admin:link`, which works once", async ({ browser }) => {
  const adminId = uniqueUserId("linked");
  const output = execFileSync("npx", ["tsx", "scripts/admin-link.ts", adminId, "--grant"], {
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL, REDIS_URL: process.env.E2E_REDIS_URL, PUBLIC_URL: baseUrl(), LOG_LEVEL: "silent" },
    encoding: "utf8",
  });
  const link = output.trim().split("\n").find((line) => line.includes("/auth/sign-in#"))!;
  expect(link).toMatch(new RegExp(`^${baseUrl()}/auth/sign-in#[A-Za-z0-9_-]{40,}$`));
  const context = await browser.newContext({ baseURL: baseUrl() });
  const page = await context.newPage();
  await page.goto(link);
  // The token leaves the address bar before anything else happens.
  await expect(page).toHaveURL(`${baseUrl()}/auth/sign-in`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${baseUrl()}/admin`);
  await expect(page.getByRole("heading", { name: "Admin" })).toBeVisible();

  // Used up: a second browser gets an explanation, not a session.
  const again = await (await browser.newContext({ baseURL: baseUrl() })).newPage();
  await again.goto(link);
  await again.getByRole("button", { name: "Sign in" }).click();
  await expect(again).toHaveURL(/\/auth\/sign-in\?error=link$/);
  await expect(again.getByRole("alert").filter({ hasText: "sign-in link" })).toContainText("already used or has expired");
  // And a non-admin never sees the dashboard.
  const plain = await browser.newContext({ baseURL: baseUrl() });
  await signIn(plain, uniqueUserId("plain"));
  const plainPage = await plain.newPage();
  expect((await plainPage.goto("/admin"))?.status()).toBe(404);
  await context.close();
  await again.context().close();
  await plain.close();
});

test("an admin reads a sent email in the local outbox and handles a dead letter", async ({ browser }) => {
  const adminId = uniqueUserId("admin");
  await service("PUT", `/api/v1/users/${adminId}`, { name: "Ada Admin", role: "admin" });
  const reader = uniqueUserId("reader");
  await service("PUT", `/api/v1/users/${reader}`, { name: "Rita", email: `${reader}@example.com` });
  await trigger({ type: "comment", to: [reader], actor: { id: "a", name: "Ann" }, data: { excerpt: "See you at 5" } });
  // A number stored before E.164 was enforced: the SMS fails for good and lands in the dead letters.
  const texter = uniqueUserId("texter");
  await service("PUT", `/api/v1/users/${texter}`, { name: "Tess" });
  const { default: pg } = await import("pg");
  const db = new pg.Pool({ connectionString: process.env.E2E_DATABASE_URL, max: 1 });
  await db.query("UPDATE users SET phone = '12345', preferences = '{\"channels\":{\"sms\":true}}' WHERE id = $1", [texter]);
  await db.end();
  await trigger({ type: "system", to: [texter], title: "Code 1234" });

  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, adminId);
  const page = await context.newPage();
  await page.goto("/admin");
  await page.getByRole("tab", { name: "Local outbox" }).click();
  await page.getByRole("button", { name: /Ann commented on your post/ }).first().click();
  await expect(page.frameLocator('iframe[title="Email"]').getByText("See you at 5")).toBeVisible();

  await page.getByRole("tab", { name: "Dead letters" }).click();
  const row = page.getByRole("row").filter({ hasText: texter });
  await expect(row).toContainText("not an E.164 phone number");
  await row.getByRole("button", { name: "Inspect" }).click();
  await expect(row).toContainText('"reason": "invalid_address"');
  await row.getByRole("button", { name: "Discard" }).click();
  await expect(page.getByRole("row").filter({ hasText: texter })).toHaveCount(0);

  // Activity: the comment to the reader, recipient by recipient, on every channel.
  await page.getByRole("tab", { name: "Activity" }).click();
  await page.getByRole("list", { name: "Recent triggers" }).getByRole("button", { name: /^comment · 1 recipient/ }).first().click();
  await page.getByRole("button", { name: reader }).click();
  const timeline = page.getByRole("list", { name: `Timeline of ${reader}` });
  await expect(timeline).toContainText("accepted");
  await expect(timeline).toContainText("stored and published");
  await expect(timeline).toContainText(/email\s*sent/);
  await context.close();
});

test("an admin lifts a suppressed address and replays a dead letter", async ({ browser }) => {
  const adminId = uniqueUserId("admin");
  await service("PUT", `/api/v1/users/${adminId}`, { name: "Ada Admin", role: "admin" });
  const address = `${uniqueUserId("bounced")}@example.com`;
  const { default: pg } = await import("pg");
  const db = new pg.Pool({ connectionString: process.env.E2E_DATABASE_URL, max: 1 });
  await db.query("INSERT INTO suppressions (channel, address, reason) VALUES ('email', $1, 'bounced')", [address]);
  const texter = uniqueUserId("retry");
  await service("PUT", `/api/v1/users/${texter}`, { name: "Rae" });
  await db.query("UPDATE users SET phone = '999', preferences = '{\"channels\":{\"sms\":true}}' WHERE id = $1", [texter]);
  await trigger({ type: "system", to: [texter], title: "Code 999" });

  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, adminId);
  const page = await context.newPage();
  await page.goto("/admin");
  await page.getByRole("tab", { name: "Suppressed addresses" }).click();
  const item = page.getByRole("listitem").filter({ hasText: address });
  await expect(item).toContainText("bounced");
  await item.getByRole("button", { name: "Remove" }).click();
  await expect(page.getByRole("listitem").filter({ hasText: address })).toHaveCount(0);
  expect((await db.query("SELECT 1 FROM suppressions WHERE address = $1", [address])).rowCount).toBe(0);

  await page.getByRole("tab", { name: "Dead letters" }).click();
  const row = page.getByRole("row").filter({ hasText: texter });
  await expect(row).toBeVisible();
  await row.getByRole("button", { name: "Replay" }).click();
  await expect(page.getByRole("status").filter({ hasText: "queued again" })).toContainText("1 queued again.");
  // Replayed: attempted again (the number is still wrong, so it fails for good again).
  await expect
    .poll(async () => (await db.query("SELECT count(*)::int AS n FROM dead_letters WHERE user_id = $1", [texter])).rows[0].n, { timeout: 10_000 })
    .toBe(2);
  await db.end();
  await context.close();
});

test("an admin gives a service key its own ingestion limits inline, with clear messages for bad input, and clears them", async ({ browser }) => {
  const adminId = uniqueUserId("admin");
  await service("PUT", `/api/v1/users/${adminId}`, { name: "Ada Admin", role: "admin" });
  const name = uniqueUserId("marketing");
  const { id } = (await service("POST", "/api/v1/admin/service-keys", { name, scopes: ["notify"] })) as { id: string };
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, adminId);
  const page = await context.newPage();
  await page.goto("/admin");
  await page.getByRole("tab", { name: "Service keys" }).click();

  // Without its own limits a key shows the deployment's defaults.
  const limits = page.getByTestId(`key-${id}`).getByTestId("key-limits");
  await expect(limits).toHaveText("requests: default (1,000/s)recipients: default (1,000,000/s)");

  await page.getByRole("button", { name: `Edit limits of ${name}` }).click();
  const form = page.getByRole("form", { name: `Limits of ${name}` });
  const requests = form.getByLabel("Requests per second");
  const recipients = form.getByLabel("Recipients per second");
  await requests.fill("fast");
  await recipients.fill("2000000000");
  await form.getByRole("button", { name: "Save limits" }).click();
  await expect(requests).toHaveAttribute("aria-invalid", "true");
  await expect(form).toContainText("Enter a whole number (0 for unlimited), or leave it empty for the default.");
  await expect(form).toContainText("At most 100,000,000 per second.");

  await requests.fill("50");
  await recipients.fill("0");
  await form.getByRole("button", { name: "Save limits" }).click();
  await expect(form).toHaveCount(0);
  await expect(limits).toHaveText("requests: 50/srecipients: unlimited");
  // Stored, and what the API lists.
  const listed = (await service("GET", "/api/v1/admin/service-keys")) as { keys: { id: string; limits: unknown; effectiveLimits: unknown }[] };
  expect(listed.keys.find((k) => k.id === id)).toMatchObject({ limits: { requestsPerSecond: 50, recipientsPerSecond: 0 }, effectiveLimits: { requestsPerSecond: 50, recipientsPerSecond: 0 } });

  // Emptied: back to the default.
  await page.getByRole("button", { name: `Edit limits of ${name}` }).click();
  await expect(requests).toHaveValue("50");
  await requests.fill("");
  await form.getByRole("button", { name: "Save limits" }).click();
  await expect(limits).toHaveText("requests: default (1,000/s)recipients: unlimited");
  await context.close();
});
