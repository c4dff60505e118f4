// Using the inbox: the bell and dropdown with the keyboard only, action buttons (api_call, dismiss),
// a toast that opens its target, and the layout at phone width in light and dark mode.
import { expect, test, type Page } from "@playwright/test";
import { bell, openInbox, trigger, uniqueUserId } from "./fixtures";

type ListedNotification = { id: string; read: boolean; archived: boolean; clickedAt: string | null };

/** The signed-in user's notifications as the API has them (the page's session cookie). */
async function serverList(page: Page, filter = "all"): Promise<ListedNotification[]> {
  const response = await page.request.get(`/api/notifications?limit=100&filter=${filter}`);
  expect(response.status()).toBe(200);
  return ((await response.json()) as { notifications: ListedNotification[] }).notifications;
}

test("the bell and its dropdown work with the keyboard alone", async ({ browser }) => {
  const userId = uniqueUserId("keys");
  const page = await openInbox(browser, userId);
  for (const name of ["Ann", "Ben", "Cat"]) await trigger({ type: "like", to: [userId], actor: { id: name.toLowerCase(), name } });
  await expect(page.getByTestId("notification-badge")).toHaveText("3");

  const dialog = page.getByRole("dialog", { name: "Notifications" });
  const items = dialog.locator("[data-inbox-item]");
  await bell(page).focus();
  await page.keyboard.press("Enter");
  await expect(dialog).toBeVisible();
  await expect(items).toHaveCount(3);
  await expect(items.nth(0), "focus moves into the dropdown").toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(items.nth(1)).toBeFocused();
  await page.keyboard.press("End");
  await expect(items.nth(2)).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(items.nth(0), "wraps to the top").toBeFocused();
  await page.keyboard.press("ArrowUp");
  await expect(items.nth(2), "wraps to the bottom").toBeFocused();
  await page.keyboard.press("Home");
  await expect(items.nth(0)).toBeFocused();

  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(bell(page), "Escape gives focus back to the bell").toBeFocused();

  // ArrowDown on the bell opens it too; Enter on a notification opens it (marks it read) and
  // gives focus back to the bell.
  await page.keyboard.press("ArrowDown");
  await expect(items.nth(0)).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("notification-badge")).toHaveText("2");
  await expect(bell(page)).toBeFocused();

  // Tab walks through the dropdown's buttons and out of it, which closes it.
  await page.keyboard.press("Enter");
  await expect(dialog).toBeVisible();
  await dialog.getByRole("link", { name: "View all" }).focus();
  await page.keyboard.press("Tab");
  await expect(dialog).toHaveCount(0);
  await page.context().close();
});

test("action buttons: api_call posts with the session, dismiss archives, a failure says so", async ({ browser }) => {
  const userId = uniqueUserId("actions");
  const page = await openInbox(browser, userId);
  // The product's own endpoint that the action calls lives outside this system: a stand-in that
  // answers as that app would, and records what it received.
  const calls: { method: string; cookie: string; body: unknown }[] = [];
  let failNext = false;
  await page.route("**/api/app/invites/accept", async (route) => {
    const request = route.request();
    calls.push({ method: request.method(), cookie: (await request.allHeaders())["cookie"] ?? "", body: request.postDataJSON() });
    if (failNext) return route.fulfill({ status: 500, contentType: "application/json", body: '{"error":"down"}' });
    return route.fulfill({ status: 200, contentType: "application/json", body: '{"ok":true}' });
  });
  const actions = [
    { id: "accept", label: "Accept", kind: "api_call", url: "/api/app/invites/accept" },
    { id: "later", label: "Not now", kind: "dismiss" },
  ];
  await trigger({ type: "system", to: [userId], title: "Invite from Dana", body: "Join the design team", actions });
  await expect(page.getByTestId("notification-badge")).toHaveText("1");
  const [invite] = await serverList(page);

  await bell(page).click();
  const dialog = page.getByRole("dialog", { name: "Notifications" });
  await dialog.getByRole("button", { name: "Accept" }).click();
  await expect(dialog.getByRole("button", { name: "Accept ✓" })).toBeDisabled();
  expect(calls).toHaveLength(1);
  expect(calls[0]).toMatchObject({ method: "POST", body: { notificationId: invite!.id, actionId: "accept" } });
  expect(calls[0]!.cookie, "the user's session goes with the call").toContain("notify_session=");
  await expect(page.getByTestId("notification-badge")).toHaveCount(0);
  expect((await serverList(page))[0]).toMatchObject({ id: invite!.id, read: true });
  expect((await serverList(page))[0]!.clickedAt).not.toBeNull();

  // The app's endpoint fails: the item stays as it was and the user is told.
  failNext = true;
  await trigger({ type: "system", to: [userId], title: "Invite from Eli", actions });
  await expect(page.getByTestId("notification-badge")).toHaveText("1");
  const eli = dialog.getByTestId("notification-item").filter({ hasText: "Invite from Eli" });
  await eli.getByRole("button", { name: "Accept" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "did not go through" })).toContainText('"Accept" did not go through');
  await expect(eli.getByRole("button", { name: "Accept" }), "can be tried again").toBeEnabled();
  await expect(eli).toHaveAttribute("data-read", "false");
  await expect(page.getByTestId("notification-badge")).toHaveText("1");

  // Dismiss archives it: gone from the dropdown and the count, archived on the server.
  await eli.getByRole("button", { name: "Not now" }).click();
  await expect(eli).toHaveCount(0);
  await expect(page.getByTestId("notification-badge")).toHaveCount(0);
  await expect.poll(async () => (await serverList(page, "archived")).map((n) => n.archived)).toEqual([true]);
  await page.context().close();
});

test("a toast for a new notification opens its target and records the click", async ({ browser }) => {
  const userId = uniqueUserId("toast");
  const page = await openInbox(browser, userId);
  await trigger({ type: "mention", to: [userId], actor: { id: "fay", name: "Fay" }, target: { type: "post", id: "7", url: "/notifications?post=7" }, data: { excerpt: "look" } });
  const toast = page.getByTestId("notification-toast");
  await expect(toast).toHaveCount(1);
  await expect(toast).toContainText("Fay mentioned you");
  await toast.getByRole("button").first().click();
  await expect(page).toHaveURL(/\/notifications\?post=7$/);
  await expect(toast).toHaveCount(0);
  await expect.poll(async () => (await serverList(page))[0]?.clickedAt ?? null).not.toBeNull();
  expect((await serverList(page))[0]!.read).toBe(true);
  await page.context().close();
});

for (const colorScheme of ["light", "dark"] as const) {
  test(`at phone width (375 px, ${colorScheme}) nothing overflows and the dropdown fits the screen`, async ({ browser }) => {
    const userId = uniqueUserId("phone");
    const page = await openInbox(browser, userId, { context: { viewport: { width: 375, height: 740 }, colorScheme } });
    const long = "A very long notification title that would push the layout sideways if nothing wrapped or truncated it";
    await trigger({ type: "comment", to: [userId], title: long, body: long, actions: [{ id: "open", label: "Open the discussion", kind: "navigate", url: "/notifications" }] });
    await expect(page.getByTestId("notification-badge")).toHaveText("1");

    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow(), "no horizontal scroll").toBeLessThanOrEqual(0);
    await bell(page).click();
    const dialog = page.getByRole("dialog", { name: "Notifications" });
    await expect(dialog.getByTestId("notification-item")).toHaveCount(1);
    const box = (await dialog.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    expect(await overflow(), "no horizontal scroll with the dropdown open").toBeLessThanOrEqual(0);

    // The theme follows the system: a dark page in dark mode, a light one otherwise.
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const luminance = await page.evaluate((color) => {
      // Whatever the notation (Tailwind 4 uses oklch), a canvas turns it into sRGB.
      const ctx = document.createElement("canvas").getContext("2d")!;
      ctx.fillStyle = color;
      ctx.fillRect(0, 0, 1, 1);
      const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
      return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
    }, background);
    if (colorScheme === "dark") expect(luminance, `body background ${background}`).toBeLessThan(0.2);
    else expect(luminance, `body background ${background}`).toBeGreaterThan(0.8);
    await page.context().close();
  });
}

test("past 99 unread the badge says 99+, an outside click closes the dropdown, toasts go away by themselves", async ({ browser }) => {
  const userId = uniqueUserId("many");
  for (let i = 0; i < 100; i++) await trigger({ type: "like", to: [userId], actor: { id: `f${i}`, name: `Fan ${i}` } });
  const page = await openInbox(browser, userId);
  await expect(page.getByTestId("notification-badge")).toHaveText("99+");
  await expect(bell(page)).toHaveAccessibleName("Notifications, 100 unread");

  await bell(page).click();
  const dialog = page.getByRole("dialog", { name: "Notifications" });
  await expect(dialog.getByTestId("notification-item")).toHaveCount(10);
  await page.getByRole("heading", { level: 1 }).click();
  await expect(dialog).toHaveCount(0);

  await trigger({ type: "follow", to: [userId], actor: { id: "gus", name: "Gus" } });
  const toast = page.getByTestId("notification-toast");
  await expect(toast).toHaveCount(1);
  await expect(toast).toHaveCount(0, { timeout: 10_000 });
  await page.context().close();
});
