// GET /metrics on the running system (2 web nodes, a fan-out worker, a channel worker, stand-in
// email provider): the metrics token is required when set; one scrape of either node reports what
// every process did (triggers, notifications, deliveries by channel and outcome, the latency
// histograms), the queues, the dead letters and the sockets of that node.
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectDevice, eventually, request, serviceClient, uniqueId } from "./client";
import { startProviderStandIns } from "./provider-stand-ins";
import { startSystem, type System } from "./start-system";

const METRICS_TOKEN = "metrics-token-0123456789";
let system: System;
let providers: Awaited<ReturnType<typeof startProviderStandIns>>;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  providers = await startProviderStandIns({ emailKey: "re_test_key", smsSid: "AC123", smsToken: "sms-token" });
  system = await startSystem({
    webNodes: 2,
    relays: 1,
    fanoutWorkers: 1,
    channelWorkers: 1,
    env: { METRICS_TOKEN, RESEND_API_KEY: "re_test_key", RESEND_BASE_URL: providers.url, EMAIL_FROM: "Notify <notify@example.com>", PUBLIC_URL: "https://notify.test" },
  });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
});

afterAll(async () => {
  await system?.stop();
  await providers?.stop();
});

/** The samples of one scrape: "name{labels}" → value. */
async function scrape(web: string): Promise<Map<string, number>> {
  const response = await fetch(`${web}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split("\n")) {
    // Label values may hold braces ("{fanout}"): a label set is quoted values between { and }.
    const match = /^([a-zA-Z_:][\w:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

it("refuses a scrape without the metrics token", async () => {
  const none = await request(`${system.webUrls[0]}/metrics`);
  expect(none.status).toBe(401);
  expect(none.body.error.code).toBe("unauthorized");
  expect((await fetch(`${system.webUrls[1]}/metrics`, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
});

it("reports what every process did, on either web node", async () => {
  const [web1, web2] = system.webUrls as [string, string];
  const before = await scrape(web1);
  const get = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;
  // An online recipient (socket on web 2) and another, both with an email address; the first email
  // the provider sees is refused for good.
  providers.failWith("email", { status: 422, times: 1 });
  const online = uniqueId("metrics");
  expect((await service.call("PUT", `/api/v1/users/${online}`, { email: `${online}@example.com` })).status).toBe(200);
  const device = await connectDevice(web2, await service.token(online));
  const arrived = device.waitFor("notification:new");
  expect((await service.trigger({ type: "system", to: [online], title: "Hello" })).status).toBe(202);
  await arrived;
  const refused = uniqueId("refused");
  expect((await service.call("PUT", `/api/v1/users/${refused}`, { email: `${refused}@example.com` })).status).toBe(200);
  expect((await service.trigger({ type: "system", to: [refused], title: "Welcome", priority: "low" })).status).toBe(202);

  // Workers add their counts every 2 s; a scrape of the other node sees them all.
  const after = await eventually(async () => {
    const now = await scrape(web2);
    const done =
      get(now, 'notify_deliveries_total{channel="email",outcome="sent"}') >= get(before, 'notify_deliveries_total{channel="email",outcome="sent"}') + 1 &&
      get(now, 'notify_deliveries_total{channel="email",outcome="failed"}') >= get(before, 'notify_deliveries_total{channel="email",outcome="failed"}') + 1 &&
      get(now, 'notify_dead_letters{channel="email"}') >= 1;
    return done ? now : undefined;
  }, 20_000, "the workers' counts in a scrape");
  // "system" is a high-priority type; the second trigger asks for low.
  expect(get(after, 'notify_triggers_total{priority="high"}') - get(before, 'notify_triggers_total{priority="high"}')).toBeGreaterThanOrEqual(1);
  expect(get(after, 'notify_triggers_total{priority="low"}') - get(before, 'notify_triggers_total{priority="low"}')).toBeGreaterThanOrEqual(1);
  expect(get(after, "notify_notifications_created_total") - get(before, "notify_notifications_created_total")).toBeGreaterThanOrEqual(2);
  for (const histogram of ["notify_trigger_to_stored_seconds", "notify_trigger_to_socket_seconds"]) {
    const count = get(after, `${histogram}_count`);
    expect(count, histogram).toBeGreaterThanOrEqual(1);
    expect(get(after, `${histogram}_bucket{le="+Inf"}`)).toBe(count);
    // A few seconds at most on this machine; buckets are cumulative.
    expect(get(after, `${histogram}_bucket{le="10"}`)).toBe(count);
    expect(get(after, `${histogram}_sum`)).toBeGreaterThan(0);
  }
  expect(get(after, 'notify_trigger_to_provider_seconds_count{channel="email"}')).toBeGreaterThanOrEqual(1);
  // Gauges measured at scrape time.
  for (const queue of ["{fanout}", "{push}", "{email}", "{sms}"]) {
    expect(after.has(`notify_queue_jobs{queue="${queue}",state="waiting"}`), queue).toBe(true);
    expect(after.get(`notify_queue_oldest_job_age_seconds{queue="${queue}"}`), queue).toBeGreaterThanOrEqual(0);
  }
  expect(get(after, "notify_sockets_connected")).toBeGreaterThanOrEqual(1);
  expect(get(await scrape(web1), "notify_sockets_connected")).toBe(0);
  expect(get(after, "notify_users_online")).toBeGreaterThanOrEqual(1);
  expect(after.has("notify_web_process_cpu_seconds_total")).toBe(true);
  device.socket.disconnect();
});
