// A fan-out worker runs FANOUT_CONCURRENCY jobs at once, of which at most FANOUT_CHUNKED_CONCURRENCY
// work chunk by chunk (each may hold two pool connections). Here, in this process with one such
// slot: a chunked fan-out held up by a row lock keeps the slot, a second one waits for it without
// touching its trigger, and a small trigger (one statement) goes through meanwhile. When the lock
// goes, both chunked fan-outs complete.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, serviceClient, uniqueId } from "./client";
import { startInProcessFanOut, type System } from "./start-system";
import { holdRows, triggerState } from "./row-locks";

let system: System;
let db: pg.Pool;
let service: ReturnType<typeof serviceClient>;
let fanOutTrigger: typeof import("@/server/notifications/fan-out-trigger").fanOutTrigger;
let closeAll: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ system, db, service, fanOutTrigger, close: closeAll } = await startInProcessFanOut({ FANOUT_CHUNKED_CONCURRENCY: "1" }));
});

afterAll(async () => closeAll?.());

/** A trigger to `count` new recipients: more than FANOUT_ONE_STATEMENT_MAX (64) goes chunk by chunk. */
async function trigger(count: number): Promise<string> {
  const to = Array.from({ length: count }, (_, i) => uniqueId(`slot${i}`));
  const reply = await service.trigger({ type: "comment", to, actor: { id: "ann", name: "Ann" }, target: { type: "post", id: "1", url: "/posts/1" }, data: { excerpt: "Hi" } });
  expect(reply.status).toBe(202);
  return reply.body.id as string;
}

const state = (triggerId: string) => triggerState(db, triggerId);

it("lets small triggers through while the chunked slots are taken, and queues chunked fan-outs for them", async () => {
  const first = await trigger(70);
  const second = await trigger(70);
  const small = await trigger(2);

  // The first chunked fan-out takes the slot, then waits for its trigger's row.
  const held = await holdRows(db, "SELECT 1 FROM triggers WHERE id = $1 FOR UPDATE", [first]);
  try {
    const firstRun = fanOutTrigger(first);
    await eventually(async () => ((await held.waiters()) === 1 ? true : undefined), 10_000, "the first fan-out waiting for its trigger's row");
    const secondRun = fanOutTrigger(second);

    // A small trigger is one statement on the keyed pool: it needs no slot.
    expect(await fanOutTrigger(small)).toEqual({ inserted: 2, status: "completed" });
    expect(await state(small)).toEqual({ status: "completed", notifications: 2 });
    // The second chunked fan-out waits for the slot, not for a lock, and has not touched its trigger.
    expect(await held.waiters()).toBe(1);
    expect(await state(second)).toEqual({ status: "accepted", notifications: 0 });

    await held.release();
    expect(await firstRun).toEqual({ inserted: 70, status: "completed" });
    expect(await secondRun).toEqual({ inserted: 70, status: "completed" });
    expect(await state(first)).toEqual({ status: "completed", notifications: 70 });
    expect(await state(second)).toEqual({ status: "completed", notifications: 70 });
  } finally {
    await held.release();
  }
});
