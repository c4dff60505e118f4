// Hostile strings in the text fields a service can send (actor name, target id, data read by
// templates, action labels, title, body) are shown as text in the dropdown and on the history page,
// and nothing in them runs. URLs that could run script are refused by the API before they get anywhere.
import { expect, test } from "@playwright/test";
import { baseUrl, openInbox, serviceKey, trigger, uniqueUserId } from "./fixtures";

const PAYLOADS = [
  `<img src=x onerror="window.__pwned='img'">`,
  `<script>window.__pwned='script'</script>`,
  `"><svg onload="window.__pwned='svg'">`,
  `{{ 7 * 7 }} <a href="javascript:window.__pwned='link'">click</a>`,
];

test("hostile text in every field shows as text and runs nothing; script URLs are refused", async ({ browser }) => {
  const userId = uniqueUserId("hostile");
  const page = await openInbox(browser, userId);
  let dialogs = 0;
  page.on("dialog", (dialog) => {
    dialogs++;
    void dialog.dismiss();
  });

  // URLs that could run script never get in.
  for (const url of ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x"]) {
    const refused = await fetch(`${baseUrl()}/api/v1/notifications`, {
      method: "POST",
      headers: { authorization: `Bearer ${serviceKey()}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "comment", to: [userId], target: { type: "post", id: "1", url } }),
    });
    expect(refused.status, url).toBe(422);
  }

  await trigger({
    type: "comment",
    to: [userId],
    actor: { id: "mallory", name: PAYLOADS[0] },
    target: { type: "post", id: PAYLOADS[2] },
    data: { excerpt: PAYLOADS[1] },
    actions: [{ id: "x", label: PAYLOADS[3], kind: "dismiss" }],
  });
  await trigger({ type: "system", to: [userId], title: PAYLOADS[2], body: PAYLOADS[3] });

  // The toast of the newest one, then the dropdown, then the history page.
  await expect(page.getByTestId("notification-badge")).toHaveText("2", { timeout: 3_000 });
  await page.getByRole("button", { name: /notifications/i }).click();
  const dropdown = page.getByRole("dialog", { name: "Notifications" });
  await expect(dropdown.getByTestId("notification-item")).toHaveCount(2);
  await expect(dropdown).toContainText(PAYLOADS[0]!);
  await expect(dropdown).toContainText(PAYLOADS[1]!);
  await expect(dropdown).toContainText(PAYLOADS[2]!);
  await expect(dropdown).toContainText(PAYLOADS[3]!);
  await page.keyboard.press("Escape");
  await page.reload();
  await expect(page.getByTestId("notification-item").first()).toBeVisible();
  await expect(page.locator("main")).toContainText(PAYLOADS[1]!);

  // Nothing ran, and no element came out of the text.
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  expect(dialogs).toBe(0);
  expect(await page.locator("img[src='x'], svg[onload], a[href^='javascript:']").count()).toBe(0);
  await page.context().close();
});
