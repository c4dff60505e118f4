// The admin overview in a real browser: an admin reaches it from the dashboard's navigation, sees
// the charts with their titles, legends and time labels, and watches the numbers move when a
// notification is triggered through the API, without reloading the page: pushed over the page's
// socket (admin:activity), as a live page polls only once a minute.
import { expect, test } from "@playwright/test";
import { baseUrl, serviceKey, signIn, trigger, uniqueUserId } from "./fixtures";

async function service(method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl()}${path}`, { method, headers: { authorization: `Bearer ${serviceKey()}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  expect(response.status, `${method} ${path}`).toBeLessThan(300);
  return response.json();
}

test("an admin opens the overview, sees the charts, and sees a new notification counted without a reload", async ({ browser }) => {
  const adminId = uniqueUserId("admin");
  await service("PUT", `/api/v1/users/${adminId}`, { name: "Ada Admin", role: "admin" });
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, adminId);
  const page = await context.newPage();
  await page.goto("/admin");
  await page.getByRole("navigation", { name: "Admin sections" }).getByRole("link", { name: "Overview" }).click();
  await expect(page).toHaveURL(/\/admin\/overview$/);
  await expect(page.getByRole("heading", { name: "Overview", level: 1 })).toBeVisible();

  // The charts, each with its title and legend; the live line says when the numbers were read.
  await expect(page.getByRole("heading", { name: "Sent per minute" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Failed per minute" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Queue depth now" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "In-app funnel" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Queue depth while this page is open" })).toBeVisible();
  await expect(page.getByRole("list", { name: "Sent per minute: legend" }).getByRole("listitem")).toHaveText(["In-app", "Push", "Email", "SMS"]);
  await expect(page.getByTestId("overview-updated")).toContainText(/^Live · updated \d\d:\d\d:\d\d · moves as activity happens$/);
  for (const queue of ["fanout", "push", "email", "sms"]) await expect(page.getByTestId(`queue-${queue}`)).toBeVisible();

  const count = async (testId: string) => Number(await page.getByTestId(testId).textContent());
  const inAppBefore = await count("total-in_app-sent");
  const emailBefore = await count("total-email-sent");
  // Anything after this that reloads the page would lose the marker.
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

  // Two recipients with an email address (no provider configured: the local outbox counts as sent).
  const recipients = [uniqueUserId("reader"), uniqueUserId("reader")];
  for (const id of recipients) await service("PUT", `/api/v1/users/${id}`, { name: "Reader", email: `${id}@example.com` });
  await trigger({ type: "comment", to: recipients, actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "7", url: "/posts/7" }, data: { excerpt: "Hi" } });

  // Well within the minute a live page waits between its own reads: only the push can move these.
  await expect(page.getByTestId("total-in_app-sent")).toHaveText(String(inAppBefore + 2), { timeout: 15_000 });
  await expect(page.getByTestId("total-email-sent")).toHaveText(String(emailBefore + 2), { timeout: 15_000 });
  // A chart is drawn (not the empty state), described for screen readers, with the same numbers as a table.
  const sentChart = page.getByRole("img", { name: /^Sent per minute, \d\d:\d\d to \d\d:\d\d\. Totals: In-app \d+, Push \d+, Email \d+, SMS \d+\.$/ });
  await expect(sentChart).toBeVisible();
  await expect(page.getByRole("table", { name: "Sent per minute" })).toBeAttached();
  await expect(page.getByTestId("funnel-sent-count")).toHaveText(String(inAppBefore + 2));
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

  // A longer window: coarser buckets, same totals.
  await page.getByRole("button", { name: "Last 6 hours" }).click();
  await expect(page.getByRole("heading", { name: "Sent per 5 minutes" })).toBeVisible();
  await expect(page.getByTestId("total-in_app-sent")).toHaveText(String(inAppBefore + 2));
  await context.close();
});

test("a signed-in user who is not an admin does not get the overview", async ({ browser }) => {
  const userId = uniqueUserId("plain");
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, userId);
  const page = await context.newPage();
  const response = await page.goto("/admin/overview");
  expect(response?.status()).toBe(404);
  await context.close();
});
