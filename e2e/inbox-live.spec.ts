// The inbox stays live across devices: two browser contexts of one user (one per web node, so the
// event crosses nodes through Redis) see a trigger and a read without a reload.
import { expect, test } from "@playwright/test";
import { baseUrl, baseUrl2, openInbox, serviceKey, signIn, socketConnected, trigger, uniqueUserId } from "./fixtures";

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

test("likes of one post are grouped: the item updates in place, moves up, and the badge stays at 1", async ({ browser }) => {
  const type = `grouped_${Date.now().toString(36)}`;
  const created = await fetch(`${baseUrl()}/api/v1/admin/types/${type}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${serviceKey()}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Grouped like",
      category: "engagement",
      channels: ["in_app"],
      aggregate: { window: "1h" },
      templates: { in_app: { title: "{{ actors | actor_names: actorCount }} liked your {{ target.type }}", body: "" } },
    }),
  });
  expect(created.status).toBe(200);
  const userId = uniqueUserId("grouped");
  const page = await openInbox(browser, userId);
  const badge = page.getByTestId("notification-badge");
  await trigger({ type, to: [userId], actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "p1" } });
  await expect(badge).toHaveText("1", { timeout: 2_000 });
  await trigger({ type: "follow", to: [userId], actor: { id: "zed", name: "Zed" } });
  await expect(badge).toHaveText("2", { timeout: 2_000 });
  await page.getByRole("button", { name: /notifications/i }).click();
  const items = page.getByRole("dialog", { name: "Notifications" }).getByTestId("notification-item");
  await expect(items).toHaveCount(2);
  await expect(items.first()).toContainText("Zed");

  for (const [id, name] of [["ben", "Ben"], ["cat", "Cat"], ["dan", "Dan"]]) await trigger({ type, to: [userId], actor: { id, name }, target: { type: "post", id: "p1" } });
  // Updated in place while the dropdown is open: still two items, the group on top, the count unchanged.
  // (The three may be fanned out in any order: the newest two are named.)
  await expect(items.first()).toContainText(/(Ben|Cat|Dan), (Ben|Cat|Dan) and 2 others liked your post/, { timeout: 2_000 });
  await expect(items).toHaveCount(2);
  await expect(badge).toHaveText("2");
  await page.reload();
  await expect(badge).toHaveText("2", { timeout: 5_000 });
  await page.context().close();
});
