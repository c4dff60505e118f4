// The inbox stays live across devices: two browser contexts of one user (one per web node, so the
// event crosses nodes through Redis) see a trigger and a read without a reload.
import { expect, test } from "@playwright/test";
import { baseUrl, baseUrl2, openInbox, signIn, socketConnected, trigger, uniqueUserId } from "./fixtures";

test("a trigger raises the badge in two contexts of the same user without a reload", async ({ browser }) => {
  const userId = uniqueUserId("live");
  const pageA = await openInbox(browser, userId);
  const pageB = await openInbox(browser, userId, { baseURL: baseUrl2() });
  const badgeA = pageA.getByTestId("notification-badge");
  const badgeB = pageB.getByTestId("notification-badge");
  await expect(badgeA).toHaveCount(0);
  await expect(badgeB).toHaveCount(0);

  await trigger({
    type: "comment",
    to: [userId],
    actor: { id: "alice", name: "Alice" },
    // No target.url: clicking the item then only marks it clicked and read; page A does not navigate away.
    target: { type: "post", id: "42" },
    data: { excerpt: "Nice!" },
  });
  await Promise.all([expect(badgeA).toHaveText("1", { timeout: 1_000 }), expect(badgeB).toHaveText("1", { timeout: 1_000 })]);
  await expect(pageA.getByRole("button", { name: /notifications/i })).toHaveAccessibleName(/1 unread/i);

  await pageA.getByRole("button", { name: /notifications/i }).click();
  const item = pageA.getByRole("dialog", { name: "Notifications" }).getByTestId("notification-item").first();
  await expect(item).toBeVisible();
  await item.click();
  await expect(badgeB).toHaveCount(0, { timeout: 2_000 });

  // Two more, then "Mark all as read" in page B clears both.
  await trigger({ type: "like", to: [userId], actor: { id: "bob", name: "Bob" } });
  await trigger({ type: "follow", to: [userId], actor: { id: "carol", name: "Carol" } });
  await Promise.all([expect(badgeA).toHaveText("2", { timeout: 2_000 }), expect(badgeB).toHaveText("2", { timeout: 2_000 })]);
  await pageB.getByRole("button", { name: /notifications/i }).click();
  await pageB.getByRole("button", { name: "Mark all as read" }).click();
  await Promise.all([expect(badgeA).toHaveCount(0, { timeout: 2_000 }), expect(badgeB).toHaveCount(0, { timeout: 2_000 })]);

  await Promise.all([pageA.context().close(), pageB.context().close()]);
});

test("a title full of HTML shows as text and runs nothing", async ({ browser }) => {
  const userId = uniqueUserId("xss");
  const page = await openInbox(browser, userId);
  let dialogs = 0;
  page.on("dialog", (dialog) => {
    dialogs++;
    void dialog.dismiss();
  });
  const hostile = "<img src=x onerror=alert(1)>";
  await trigger({ type: "system", to: [userId], title: hostile, body: "<script>alert(2)</script>" });
  await expect(page.getByTestId("notification-badge")).toHaveText("1", { timeout: 2_000 });
  await page.getByRole("button", { name: /notifications/i }).click();
  const item = page.getByRole("dialog", { name: "Notifications" }).getByTestId("notification-item").first();
  await expect(item).toContainText(hostile);
  await expect(item).toContainText("<script>alert(2)</script>");
  expect(await page.locator("img[src='x']").count()).toBe(0);
  await page.waitForTimeout(300);
  expect(dialogs).toBe(0);
  await page.context().close();
});

test("two tabs of one browser stay consistent", async ({ browser }) => {
  const userId = uniqueUserId("tabs");
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, userId, baseUrl());
  const tabs = await Promise.all(
    [0, 1].map(async () => {
      const page = await context.newPage();
      const connected = socketConnected(page);
      await page.goto("/notifications");
      await connected;
      return page;
    }),
  );
  await trigger({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "one" } });
  await trigger({ type: "like", to: [userId], actor: { id: "b", name: "Ben" } });
  for (const tab of tabs) await expect(tab.getByTestId("notification-badge")).toHaveText("2", { timeout: 2_000 });
  // Archive one from the first tab's history: the second tab's history and badge follow.
  await tabs[0]!.getByTestId("history-scroller").getByRole("button", { name: "Archive" }).first().click({ force: true });
  for (const tab of tabs) {
    await expect(tab.getByTestId("notification-badge")).toHaveText("1", { timeout: 2_000 });
    await expect(tab.getByTestId("history-scroller").getByTestId("notification-item")).toHaveCount(1, { timeout: 2_000 });
  }
  await context.close();
});
