// @vitest-environment jsdom
// The provider and the bell, rendered by React in jsdom against the running system (real web node,
// real socket, real PostgreSQL and Redis), connected with a user token. What is measured: which
// notification items re-render when one event arrives, that nothing is refetched for it, and that a
// change the server refuses is undone in the UI and said.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { memo, type ComponentProps, type FunctionComponent } from "react";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { eventually, serviceClient, signTestToken, uniqueId, userClient } from "@/tests/system/client";
import { NotificationProvider } from "@/components/notifications/notification-provider";
import { NotificationBell } from "@/components/notifications/notification-bell";
import { NotificationToasts } from "@/components/notifications/notification-toasts";

// Count how often each real NotificationItem renders: the real component, under the same memo, with
// a counter in front of it.
const renders = vi.hoisted(() => new Map<string, number>());
vi.mock("@/components/notifications/notification-item", async (importOriginal) => {
  const real = await importOriginal<typeof import("@/components/notifications/notification-item")>();
  const memoised = real.NotificationItem as unknown as { type: FunctionComponent<ComponentProps<typeof real.NotificationItem>>; compare: null | ((a: object, b: object) => boolean) };
  function Counted(props: ComponentProps<typeof real.NotificationItem>) {
    renders.set(props.notification.id, (renders.get(props.notification.id) ?? 0) + 1);
    return memoised.type(props);
  }
  return { NotificationItem: memo(Counted, memoised.compare ?? undefined) };
});

const system = inject("system");
const web = system.webUrls[0]!;
const service = serviceClient(web, system.serviceKey);

// Every request the provider makes, to show that events are applied without refetching.
const requests: string[] = [];
const realFetch = globalThis.fetch;
globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
  requests.push(String(input instanceof Request ? input.url : input));
  return realFetch(input, init);
}) as typeof fetch;

afterEach(() => cleanup());

async function userWith(n: number): Promise<{ userId: string; token: string }> {
  const userId = uniqueId("bell");
  for (let i = 0; i < n; i++) expect((await service.trigger({ type: "comment", to: [userId], actor: { id: `a${i}`, name: `Actor ${i}` }, data: { excerpt: `message ${i}` } })).status).toBe(202);
  const token = await service.token(userId);
  const inbox = userClient(web, token);
  await eventually(async () => ((await inbox.count()).body.count === n ? true : undefined), 15_000, `${n} notifications`);
  return { userId, token };
}

function mount(token: string, client = new QueryClient({ defaultOptions: { queries: { retry: false } } })) {
  return render(
    <QueryClientProvider client={client}>
      <NotificationProvider connection={{ baseUrl: web, token }}>
        <NotificationBell />
        <NotificationToasts />
      </NotificationProvider>
    </QueryClientProvider>,
  );
}

const items = () => screen.queryAllByTestId("notification-item");
const ids = () => items().map((el) => el.getAttribute("data-id")!);
const settle = (ms: number) => act(() => new Promise((r) => setTimeout(r, ms)));

describe("NotificationProvider and NotificationBell", () => {
  it("a new notification renders only the new item, and a read elsewhere re-renders only that item, with no refetch", async () => {
    const { userId, token } = await userWith(3);
    mount(token);
    await waitFor(() => expect(screen.getByTestId("notification-badge").textContent).toBe("3"), { timeout: 10_000 });
    fireEvent.click(screen.getByRole("button", { name: /notifications, 3 unread/i }));
    await waitFor(() => expect(items()).toHaveLength(3));
    const old = ids();
    // Opening records seen; let that and the server's echo of it settle before counting.
    await settle(1500);
    renders.clear();
    const listRequests = () => requests.filter((url) => url.startsWith(`${web}/api/notifications?`)).length;
    const listedBefore = listRequests();

    expect((await service.trigger({ type: "like", to: [userId], actor: { id: "z", name: "Zoe" } })).status).toBe(202);
    await waitFor(() => expect(items()).toHaveLength(4), { timeout: 5_000 });
    await waitFor(() => expect(screen.getByTestId("notification-badge").textContent).toBe("4"));
    await settle(1000);
    const fresh = ids().find((id) => !old.includes(id))!;
    expect(ids()[0]).toBe(fresh);
    expect(renders.get(fresh)).toBeGreaterThanOrEqual(1);
    expect(Object.fromEntries(old.map((id) => [id, renders.get(id) ?? 0]))).toEqual(Object.fromEntries(old.map((id) => [id, 0])));

    // Another device reads the second-oldest: only that item re-renders.
    renders.clear();
    const other = userClient(web, token);
    expect((await other.post("/api/notifications/read", { ids: [old[1]] })).status).toBe(200);
    await waitFor(() => expect(screen.getAllByTestId("notification-item").find((el) => el.getAttribute("data-id") === old[1])!.getAttribute("data-read")).toBe("true"), { timeout: 5_000 });
    await settle(500);
    expect(renders.get(old[1]!)).toBeGreaterThanOrEqual(1);
    for (const id of [fresh, old[0]!, old[2]!]) expect(renders.get(id) ?? 0, `renders of ${id}`).toBe(0);
    expect(listRequests(), "no list refetch for live events").toBe(listedBefore);
  });

  it("focus follows the newest notification until the user moves, then stays where the user is", async () => {
    const { userId, token } = await userWith(0);
    mount(token);
    fireEvent.click(screen.getByRole("button", { name: /^notifications/i }));
    const dialog = await screen.findByRole("dialog", { name: "Notifications" });
    await screen.findByText(/all caught up/i);
    await waitFor(() => expect(document.activeElement, "nothing yet: the panel").toBe(dialog));
    // The first notification arrives while the dropdown is open: it takes the focus.
    expect((await service.trigger({ type: "comment", to: [userId], actor: { id: "a", name: "Ann" }, data: { excerpt: "one" } })).status).toBe(202);
    await waitFor(() => expect(items()).toHaveLength(1), { timeout: 5_000 });
    await waitFor(() => expect(items()[0]!.contains(document.activeElement)).toBe(true));
    // The user moves (a key in the dropdown); the next arrival leaves the focus where it is.
    fireEvent.keyDown(document.activeElement!, { key: "Home" });
    const first = ids()[0];
    expect((await service.trigger({ type: "comment", to: [userId], actor: { id: "b", name: "Ben" }, data: { excerpt: "two" } })).status).toBe(202);
    await waitFor(() => expect(items()).toHaveLength(2), { timeout: 5_000 });
    await settle(300);
    expect(ids()[1]).toBe(first);
    expect(items()[1]!.contains(document.activeElement), "still on the one the user was on").toBe(true);
  });

  it("rolls back a change the server refuses and says so; the counts come back", async () => {
    const { userId } = await userWith(2);
    // A token that expires in a few seconds: the server refuses what is sent after that.
    const expiresAt = Date.now() + 6_000;
    const token = signTestToken(system.authSecret, userId, expiresAt);
    mount(token);
    await waitFor(() => expect(screen.getByTestId("notification-badge").textContent).toBe("2"), { timeout: 5_000 });
    fireEvent.click(screen.getByRole("button", { name: /notifications, 2 unread/i }));
    await waitFor(() => expect(items()).toHaveLength(2));
    await settle(Math.max(0, expiresAt - Date.now() + 1500));

    const dialog = screen.getByRole("dialog", { name: "Notifications" });
    fireEvent.click(within(dialog).getByRole("button", { name: "Mark all as read" }));
    // The 401 undoes the optimistic change and says so.
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("Could not mark all as read"), { timeout: 5_000 });
    expect(items().map((el) => el.getAttribute("data-read"))).toEqual(["false", "false"]);
    expect(screen.getByTestId("notification-badge").textContent).toBe("2");
    // And the server agrees: nothing was read.
    const fresh = userClient(web, await service.token(userId));
    expect((await fresh.count()).body.count).toBe(2);
  });
  it("a history page older than the inbox (another snapshot) gets the changes after it replayed; a count ahead of it triggers a catch-up", async () => {
    const { userId, token } = await userWith(1);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    mount(token, client);
    await waitFor(() => expect(screen.getByTestId("notification-badge").textContent).toBe("1"), { timeout: 10_000 });
    const latest = () => client.getQueryData<{ notifications: { id: string }[]; lastSeq: number }>(["inbox", "latest"]);
    await waitFor(() => expect(latest()?.notifications).toHaveLength(1));
    const [first] = latest()!.notifications;
    // A history page fetched from a snapshot before that notification (seq 0), as when it loads
    // while the fan-out commits: the provider replays the changes after seq 0 onto it.
    const historyKey = ["inbox", "history", { filter: "all" }];
    await act(() => client.fetchQuery({ queryKey: historyKey, queryFn: async () => ({ pages: [{ notifications: [], nextCursor: null, lastSeq: 0 }], pageParams: [undefined] }) }));
    await waitFor(() => expect(client.getQueryData<{ pages: { notifications: { id: string }[] }[] }>(historyKey)?.pages[0]!.notifications.map((n) => n.id)).toEqual([first!.id]), { timeout: 10_000 });
    // A count fetched with a seq ahead of the inbox (an event the socket never delivered): caught up.
    // (Once nothing is in flight: a fetch of the count under way would be joined, not replaced.)
    await waitFor(() => expect(client.isFetching()).toBe(0));
    requests.length = 0;
    await act(() => client.fetchQuery({ queryKey: ["inbox", "count"], queryFn: async () => ({ count: 1, unseen: 1, seq: latest()!.lastSeq + 5 }) }));
    await waitFor(() => expect(requests.some((r) => r.includes("/api/notifications/changes?afterSeq="))).toBe(true), { timeout: 10_000 });
    expect(userId).toBeTruthy();
  });
});
