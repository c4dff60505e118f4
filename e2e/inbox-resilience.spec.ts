// The inbox stays right when the network does not: polling when the socket is blocked, rollback when
// the server refuses, and exact catch-up through `changes` after being offline.
import { expect, test } from "@playwright/test";
import { baseUrl, openInbox, signIn, socketConnected, trigger, uniqueUserId, userToken } from "./fixtures";

test("with /socket.io blocked, the page still updates by polling", async ({ browser }) => {
  const userId = uniqueUserId("polling");
  const page = await openInbox(browser, userId, { blockSocket: true });
  await expect(page.getByTestId("notification-badge")).toHaveCount(0);
  await trigger({ type: "mention", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "polled" } });
  // The catch-up polls every 5 s while the socket is down (allow three rounds on a busy machine).
  await expect(page.getByRole("list").getByText("Ann mentioned you").first()).toBeVisible({ timeout: 20_000 });
  await expect(page.getByTestId("notification-badge")).toHaveText("1", { timeout: 20_000 });
  await page.context().close();
});

test("a 500 on mark-read rolls the item back and says so", async ({ browser }) => {
  const userId = uniqueUserId("rollback");
  await trigger({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "first" } });
  const page = await openInbox(browser, userId);
  await expect(page.getByTestId("notification-badge")).toHaveText("1", { timeout: 5_000 });
  await page.route("**/api/notifications/*/click", (route) => route.fulfill({ status: 500, contentType: "application/json", body: '{"error":{"code":"internal_error","message":"boom"}}' }));
  await page.getByRole("button", { name: /notifications/i }).click();
  const item = page.getByRole("dialog", { name: "Notifications" }).getByTestId("notification-item").first();
  await item.getByRole("button").first().click();
  await expect(page.getByRole("alert").filter({ hasText: "Could not" })).toContainText("is back as it was");
  // Opening an item closes the dropdown; in the history and in the reopened dropdown it is unread again.
  await expect(page.getByTestId("history-scroller").getByTestId("notification-item").first()).toHaveAttribute("data-read", "false");
  await page.getByRole("button", { name: /notifications/i }).click();
  await expect(item).toHaveAttribute("data-read", "false");
  await expect(page.getByTestId("notification-badge")).toHaveText("1");
  await page.context().close();
});

test("offline while 30 arrive and another device reads and archives some: exact list and count on return, via changes", async ({ browser }) => {
  const userId = uniqueUserId("offline");
  const page = await openInbox(browser, userId);
  const requests: string[] = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/api/notifications")) requests.push(`${url.pathname}${url.search}`);
  });
  await page.context().setOffline(true);
  for (let i = 0; i < 30; i++) await trigger({ type: "comment", to: [userId], actor: { id: `a${i}`, name: `Actor ${i}` }, data: { excerpt: `message ${i}` } });
  // Another device reads 5 and archives 5 of them.
  const token = await userToken(userId);
  const api = (path: string, body: unknown) =>
    fetch(`${baseUrl()}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  let ids: string[] = [];
  await expect
    .poll(async () => {
      const reply = await fetch(`${baseUrl()}/api/notifications?limit=100`, { headers: { authorization: `Bearer ${token}` } });
      ids = ((await reply.json()) as { notifications: { id: string }[] }).notifications.map((n) => n.id);
      return ids.length;
    })
    .toBe(30);
  await api("/api/notifications/read", { ids: ids.slice(0, 5) });
  await api("/api/notifications/archive", { ids: ids.slice(5, 10) });
  requests.length = 0;
  await page.context().setOffline(false);
  await expect(page.getByTestId("notification-badge")).toHaveText("20", { timeout: 15_000 });
  await page.getByRole("button", { name: /notifications/i }).click();
  const dropdown = page.getByRole("dialog", { name: "Notifications" }).getByTestId("notification-item");
  await expect(dropdown).toHaveCount(10);
  // The dropdown shows the 10 latest not archived: ids[0..4] (read) then ids[10..14] (unread).
  const shown = await dropdown.evaluateAll((items) => items.map((item) => [item.getAttribute("data-id"), item.getAttribute("data-read")]));
  expect(shown).toEqual([...ids.slice(0, 5).map((id) => [id, "true"]), ...ids.slice(10, 15).map((id) => [id, "false"])]);
  // And the history (virtualised: only the rows in view are in the DOM) starts with the same order.
  await page.keyboard.press("Escape");
  const expected = [...ids.slice(0, 5), ...ids.slice(10)];
  const rendered = await page.getByTestId("history-scroller").getByTestId("notification-item").evaluateAll((items) => items.map((item) => item.getAttribute("data-id")));
  expect(rendered.length).toBeGreaterThan(5);
  expect(rendered).toEqual(expected.slice(0, rendered.length));
  // Caught up with `changes`, not by refetching the list.
  expect(requests.some((r) => r.startsWith("/api/notifications/changes?afterSeq="))).toBe(true);
  expect(requests.filter((r) => r.startsWith("/api/notifications?"))).toEqual([]);
  await page.context().close();
});

test("bulk select in the history marks read and archives, and the server agrees", async ({ browser }) => {
  const userId = uniqueUserId("bulk");
  for (let i = 0; i < 4; i++) await trigger({ type: "like", to: [userId], actor: { id: `a${i}`, name: `Actor ${i}` } });
  const page = await openInbox(browser, userId);
  await expect(page.getByTestId("notification-badge")).toHaveText("4", { timeout: 5_000 });
  const history = page.getByTestId("history-scroller");
  await history.getByRole("checkbox").nth(0).check();
  await history.getByRole("checkbox").nth(1).check();
  await page.getByRole("toolbar", { name: "Selected notifications" }).getByRole("button", { name: "Mark read" }).click();
  await expect(page.getByTestId("notification-badge")).toHaveText("2");
  await history.getByRole("checkbox").nth(2).check();
  await page.getByRole("toolbar", { name: "Selected notifications" }).getByRole("button", { name: "Archive" }).click();
  await expect(history.getByTestId("notification-item")).toHaveCount(3);
  await expect(page.getByTestId("notification-badge")).toHaveText("1");
  // The server agrees.
  const token = await userToken(userId);
  const count = await (await fetch(`${baseUrl()}/api/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } })).json();
  expect(count).toEqual({ count: 1, unseen: expect.any(Number), seq: expect.any(Number) });
  await page.context().close();
});

test("an event that arrives while the first page is loading is not lost", async ({ browser }) => {
  const userId = uniqueUserId("race");
  const context = await browser.newContext({ baseURL: baseUrl() });
  await signIn(context, userId, baseUrl());
  const page = await context.newPage();
  // The first page is computed by the server now, but reaches the browser only after the event.
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/api/notifications?limit=20", async (route) => {
    const response = await route.fetch();
    await released;
    await route.fulfill({ response });
  });
  const connected = socketConnected(page);
  await page.goto("/notifications");
  await connected;
  await trigger({ type: "mention", to: [userId], actor: { id: "a", name: "Early Bird" }, data: { excerpt: "first!" } });
  await page.waitForTimeout(500);
  release();
  await page.getByRole("button", { name: /notifications/i }).click();
  await expect(page.getByRole("dialog", { name: "Notifications" }).getByText("Early Bird mentioned you")).toBeVisible({ timeout: 5_000 });
  await context.close();
});
