// The history scrolls through 10,000 notifications that share one timestamp: every one shows once,
// in order, and the DOM never holds more than a screenful of rows.
import { expect, test } from "@playwright/test";
import pg from "pg";
import { baseUrl, signIn, uniqueUserId } from "./fixtures";

const TOTAL = 10_000;

test("scrolls to the end of 10,000 notifications with the same timestamp, keeping fewer than 100 rows in the DOM", async ({ browser }) => {
  test.setTimeout(180_000);
  const userId = uniqueUserId("history");
  const db = new pg.Client({ connectionString: process.env.E2E_DATABASE_URL });
  await db.connect();
  try {
    // Seeded directly (one statement): 10,000 notifications of one user at the very same instant.
    await db.query("INSERT INTO users (id, last_seq, unread_count, unseen_count) VALUES ($1, $2::int, $2::int, $2::int)", [userId, TOTAL]);
    await db.query(
      `INSERT INTO notifications (id, user_id, trigger_id, type, category, priority, title, body, seq, created_at, sort_at)
       SELECT gen_random_uuid(), $1, gen_random_uuid(), 'comment', 'engagement', 'normal', 'Comment ' || g, 'body ' || g, g, now(), now()
         FROM generate_series(1, $2) g`,
      [userId, TOTAL],
    );
  } finally {
    await db.end();
  }
  const context = await browser.newContext({ baseURL: baseUrl(), viewport: { width: 1000, height: 800 } });
  await signIn(context, userId, baseUrl());
  const page = await context.newPage();
  await page.goto("/notifications");
  const scroller = page.getByTestId("history-scroller");
  await expect(scroller.getByTestId("notification-item").first()).toBeVisible();

  const seen = new Set<string>();
  let order: string[] = [];
  let maxRows = 0;
  let stable = 0;
  for (let step = 0; step < 5000 && stable < 30; step++) {
    const snapshot = await scroller.evaluate((element) => {
      const ids = [...element.querySelectorAll("[data-testid=notification-item]")].map((item) => item.getAttribute("data-id") ?? "");
      const atEnd = element.scrollTop + element.clientHeight >= element.scrollHeight - 2;
      element.scrollTop += element.clientHeight * 1.5;
      return { ids, atEnd, rows: element.querySelectorAll("[data-index]").length };
    });
    maxRows = Math.max(maxRows, snapshot.rows);
    const before = seen.size;
    for (const id of snapshot.ids) {
      if (!seen.has(id)) {
        seen.add(id);
        order.push(id);
      }
    }
    stable = snapshot.atEnd && seen.size === before ? stable + 1 : 0;
    await page.waitForTimeout(snapshot.atEnd ? 100 : 16);
  }
  expect(seen.size).toBe(TOTAL);
  expect(maxRows).toBeLessThan(100);
  // The same order as the API: (sortAt desc, id desc), so by id descending here.
  expect(order).toEqual([...order].sort().reverse());
  order = [];
  await context.close();
});
