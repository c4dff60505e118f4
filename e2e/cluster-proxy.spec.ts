// Two web nodes behind the sticky proxy (server/cluster/sticky-proxy.ts, as `npm run start:cluster`
// runs them): one user in two browsers, each pinned by the proxy to a different node, sees every
// event and every read-state change on both, live.
import { expect, test } from "@playwright/test";
import { startStickyProxy, STICKY_COOKIE, type StickyProxy } from "../server/cluster/sticky-proxy";
import { baseUrl, baseUrl2, openInbox, trigger, uniqueUserId } from "./fixtures";

let proxy: StickyProxy;
test.beforeAll(async () => {
  proxy = await startStickyProxy([baseUrl(), baseUrl2()]);
});
test.afterAll(async () => {
  await proxy?.close();
});

test("one user on both web nodes through the proxy sees every event and every read on both", async ({ browser }) => {
  const userId = uniqueUserId("proxied");
  const pageA = await openInbox(browser, userId, { baseURL: proxy.url });
  const pageB = await openInbox(browser, userId, { baseURL: proxy.url });
  // The proxy pinned the two browsers to different nodes, and each one's socket is on its node.
  const pinned = async (page: typeof pageA) => (await page.context().cookies(proxy.url)).find((c) => c.name === STICKY_COOKIE)?.value;
  const [nodeA, nodeB] = [await pinned(pageA), await pinned(pageB)];
  expect(nodeA).toBeDefined();
  expect(nodeB).toBeDefined();
  expect(nodeA).not.toBe(nodeB);
  // Each browser's socket upgraded to WebSocket through the proxy to its own node (this proxy
  // serves only this test; Socket.IO connects by polling first, then upgrades).
  await expect.poll(() => proxy.upgrades.map((n) => n >= 1)).toEqual([true, true]);

  const badgeA = pageA.getByTestId("notification-badge");
  const badgeB = pageB.getByTestId("notification-badge");
  await trigger({ type: "comment", to: [userId], actor: { id: "alice", name: "Alice" }, target: { type: "post", id: "7" }, data: { excerpt: "First" } });
  await trigger({ type: "like", to: [userId], actor: { id: "bob", name: "Bob" } });
  await trigger({ type: "follow", to: [userId], actor: { id: "carol", name: "Carol" } });
  await Promise.all([expect(badgeA).toHaveText("3"), expect(badgeB).toHaveText("3")]);

  // A read on node A's browser reaches node B's.
  await pageA.getByRole("button", { name: /notifications/i }).click();
  const itemsA = pageA.getByRole("dialog", { name: "Notifications" }).getByTestId("notification-item");
  await expect(itemsA).toHaveCount(3);
  await itemsA.filter({ hasText: "Alice" }).click();
  await Promise.all([expect(badgeA).toHaveText("2"), expect(badgeB).toHaveText("2")]);

  // Node B's browser lists all three, the read one shown read; "Mark all as read" there clears both.
  await pageB.getByRole("button", { name: /notifications/i }).click();
  const dialogB = pageB.getByRole("dialog", { name: "Notifications" });
  await expect(dialogB.getByTestId("notification-item")).toHaveCount(3);
  await expect(dialogB.getByTestId("notification-item").filter({ hasText: "Alice" })).toHaveAttribute("data-read", "true");
  await expect(dialogB.locator('[data-testid="notification-item"][data-read="false"]')).toHaveCount(2);
  await dialogB.getByRole("button", { name: "Mark all as read" }).click();
  await Promise.all([expect(badgeA).toHaveCount(0), expect(badgeB).toHaveCount(0)]);

  await Promise.all([pageA.context().close(), pageB.context().close()]);
});
