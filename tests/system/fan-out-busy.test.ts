// A fan-out worker with 2 job slots, of which 1 may work chunk by chunk. A chunked fan-out held up by
// a row lock keeps that slot; a second chunked fan-out finds it taken and goes back to the queue for
// a moment (it does not sit in the worker's other job slot), so a small trigger still goes through
// at once. When the lock goes, both chunked fan-outs complete.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, serviceClient, uniqueId } from "./client";
import { startSystem, type System } from "./start-system";
import { holdRows, triggerState } from "./row-locks";

let system: System;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;

beforeAll(async () => {
  system = await startSystem({ webNodes: 1, relays: 0, fanoutWorkers: 1, env: { FANOUT_CONCURRENCY: "2", FANOUT_CHUNKED_CONCURRENCY: "1" } });
  db = new pg.Pool({ connectionString: system.databaseUrl, max: 4 });
  service = serviceClient(system.webUrls[0]!, system.serviceKey);
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
});

async function trigger(to: string[]): Promise<string> {
  const reply = await service.trigger({ type: "comment", to, actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "Hi" } });
  expect(reply.status).toBe(202);
  return reply.body.id as string;
}

const fresh = (n: number, tag: string) => Array.from({ length: n }, (_, i) => uniqueId(`${tag}${i}`));

const state = (triggerId: string) => triggerState(db, triggerId);

it("puts a chunked fan-out back in the queue while the chunked slot is taken, and small triggers keep going", async () => {
  const heldUser = uniqueId("held");
  expect((await service.call("PUT", `/api/v1/users/${heldUser}`, { name: "Held" })).status).toBe(200);
  const held = await holdRows(db, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [heldUser]);
  try {
    // More than 64 recipients: chunk by chunk. Its chunk waits for the held user's row.
    const first = await trigger([heldUser, ...fresh(69, "first")]);
    await eventually(async () => ((await held.waiters()) >= 1 ? true : undefined), 15_000, "the first fan-out waiting for the held user");

    const second = await trigger(fresh(70, "second"));
    // The second takes the worker's other job slot only for a moment each time it looks.
    const small = await trigger(fresh(2, "small"));
    await eventually(async () => ((await state(small)).status === "completed" ? true : undefined), 10_000, "the small trigger completed");
    expect(await state(small)).toEqual({ status: "completed", notifications: 2 });
    expect(await state(second)).toEqual({ status: "accepted", notifications: 0 });
    expect(await state(first)).toMatchObject({ notifications: 0 });

    await held.release();
    for (const id of [first, second]) {
      await eventually(async () => ((await state(id)).status === "completed" ? true : undefined), 15_000, `trigger ${id} completed`);
      expect(await state(id)).toEqual({ status: "completed", notifications: 70 });
    }
  } finally {
    await held.release();
  }
});
