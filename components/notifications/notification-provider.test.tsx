// @vitest-environment jsdom
// The provider's first load against the running system (real web node, socket, PostgreSQL, Redis),
// connected with a user token: the history page and the dropdown's page are two reads, in two
// snapshots. When a notification commits between them, the history answers from before it and the
// dropdown's page from after; the inbox must still end with it in both, through `changes`.
import { QueryClient, QueryClientProvider, type InfiniteData } from "@tanstack/react-query";
import { cleanup, render } from "@testing-library/react";
import { afterEach, expect, inject, it } from "vitest";
import { eventually, serviceClient, uniqueId, userClient } from "@/tests/system/client";
import { NotificationProvider } from "@/components/notifications/notification-provider";
import { NotificationHistory } from "@/components/notifications/notification-history";
import type { InboxPage } from "@/components/notifications/inbox-api";

const system = inject("system");
const web = system.webUrls[0]!;
const service = serviceClient(web, system.serviceKey);

// The dropdown's first page (`limit=20`) is held back until the test lets it go.
let releaseLatest: () => void = () => undefined;
let latestHeld: Promise<void> = Promise.resolve();
const realFetch = globalThis.fetch;
globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = String(input instanceof Request ? input.url : input);
  if (/\/api\/notifications\?limit=20\b/.test(url)) await latestHeld;
  return realFetch(input, init);
}) as typeof fetch;

afterEach(() => cleanup());

const historyPages = (client: QueryClient) =>
  client
    .getQueriesData<InfiniteData<InboxPage>>({ queryKey: ["inbox", "history"] })
    .flatMap(([, data]) => data?.pages ?? []);

it("reconciles a history page read before a notification with a dropdown page read after it", async () => {
  const userId = uniqueId("snapshots");
  const token = await service.token(userId);
  latestHeld = new Promise((resolve) => (releaseLatest = resolve));
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <NotificationProvider connection={{ baseUrl: web, token }}>
        <NotificationHistory />
      </NotificationProvider>
    </QueryClientProvider>,
  );
  // The history has answered: nothing yet, at seq 0.
  await eventually(async () => (historyPages(client).length > 0 ? true : undefined), 10_000, "the history's first page");
  expect(historyPages(client).map((p) => [p.lastSeq, p.notifications.length])).toEqual([[0, 0]]);

  expect((await service.trigger({ type: "comment", to: [userId], actor: { id: "ann", name: "Ann" }, data: { excerpt: "between" } })).status).toBe(202);
  const inbox = userClient(web, token);
  await eventually(async () => ((await inbox.count()).body.count === 1 ? true : undefined), 15_000, "the notification committed");
  // Now the dropdown's page: it has the notification, at seq 1.
  releaseLatest();

  await eventually(
    async () => (historyPages(client).some((p) => p.notifications.some((n) => n.data.excerpt === "between")) ? true : undefined),
    10_000,
    "the notification in the history",
  );
  const latest = client.getQueryData<InboxPage>(["inbox", "latest"]);
  expect(latest?.notifications.map((n) => n.data.excerpt)).toEqual(["between"]);
});
