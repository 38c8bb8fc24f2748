/**
 * DeliveryQueues: what an outbox owes as records say it, without an outbox: the collapse rule, dead
 * letters and their replay, a deleted config, compaction's snapshot, and the events the outbox
 * schedules by. The sending loop around it is `outbox_test.ts`'s.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { DeliveryQueues, keyOf } from "../lib/delivery_queues.ts";
import type { Delivery } from "../lib/plan.ts";

function delivery(id: string, kind: Delivery["kind"], extra: Partial<Delivery> = {}): Delivery {
  return { id, taskId: "t1", configId: "c1", kind, body: "{}", attempts: 0, nextAt: 0, createdAt: 0, ...extra };
}

/** Queues whose events are written down. */
function recorded() {
  const events: string[] = [];
  const queues = new DeliveryQueues({
    headChanged: (key) => events.push(`head ${key.replace("\u0000", "/")}`),
    headGone: (key) => events.push(`gone ${key.replace("\u0000", "/")}`),
    counted: (d, delta) => events.push(`${delta > 0 ? "+" : "-"}${d.id}`),
  });
  return { queues, events };
}

test("DeliveryQueues.apply() keeps a queue's order, and a newer progress update replaces the one waiting behind the head", () => {
  const { queues, events } = recorded();
  queues.apply({ type: "status", taskId: "t1", status: { state: "TASK_STATE_WORKING", timestamp: "" }, deliveries: [delivery("w1", "task"), delivery("w2", "status")] });
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("w3", "status") });
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("w4", "artifact") });
  assert.deepEqual(queues.list("pending").map((d) => d.id), ["w1", "w3", "w4"], "w2 replaced by w3; the artifact stays");
  assert.deepEqual(events, ["+w1", "head t1/c1", "+w2", "-w2", "+w3", "+w4"], "one head, scheduled once");
  assert.equal(queues.head(keyOf("t1", "c1"))?.id, "w1");
  assert.equal(queues.oldestPendingAt(), 0);
});

test("DeliveryQueues.apply() moves a head through an attempt, done and dead, and a replayed dead letter goes to the back of its queue", () => {
  const { queues, events } = recorded();
  for (const [id, kind] of [["w1", "task"], ["w2", "artifact"], ["w3", "status"]] as const) queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery(id, kind, { createdAt: Number(id[1]) }) });
  events.length = 0;
  queues.apply({ type: "push.attempt", taskId: "t1", id: "w1", attempts: 1, nextAt: 50, error: "HTTP 500" });
  assert.deepEqual(events, ["-w1"], "attempted: no longer fresh");
  assert.equal(queues.head(keyOf("t1", "c1"))?.nextAt, 50);
  queues.apply({ type: "push.dead", taskId: "t1", id: "w1", attempts: 2, error: "HTTP 500" });
  assert.deepEqual(queues.deadIds(), ["w1"]);
  assert.equal(queues.deadLetter("w1")?.lastError, "HTTP 500");
  assert.deepEqual(events.slice(-2), ["gone t1/c1", "head t1/c1"], "the next head is scheduled");
  queues.apply({ type: "push.done", taskId: "t1", id: "w3" });
  assert.equal(queues.oldestPendingAt(), 2);
  queues.apply({ type: "push.replay", taskId: "t1", id: "w1", nextAt: 99 });
  assert.deepEqual(queues.list("pending").map((d) => [d.id, d.attempts, d.nextAt]), [["w2", 0, 0], ["w1", 0, 99]]);
  assert.equal(queues.deadCount, 0);
  queues.apply({ type: "push.purged", taskId: "t1", id: "nope" });
  assert.equal(queues.pendingCount, 2);
});

test("DeliveryQueues.apply() drops a replayed progress update when a newer one waits behind the head", () => {
  const { queues } = recorded();
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("old", "status"), dead: true });
  for (const [id, kind] of [["w1", "task"], ["w2", "status"]] as const) queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery(id, kind) });
  queues.apply({ type: "push.replay", taskId: "t1", id: "old", nextAt: 0 });
  assert.deepEqual(queues.list("pending").map((d) => d.id), ["w1", "w2"]);
  assert.equal(queues.deadCount, 0, "not kept as a dead letter either");
});

test("DeliveryQueues.apply() of a deleted config drops its queue and dead letters, and no other", () => {
  const { queues, events } = recorded();
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("w1", "task") });
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("d1", "task"), dead: true });
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("o1", "task", { configId: "c2" }) });
  events.length = 0;
  queues.apply({ type: "push.config.deleted", taskId: "t1", id: "c1", reason: "deleted" });
  assert.deepEqual(events, ["-w1", "gone t1/c1"]);
  assert.deepEqual(queues.list("pending").map((d) => d.id), ["o1"]);
  assert.equal(queues.deadCount, 0);
  assert.deepEqual([...queues.keys()], [keyOf("t1", "c2")]);
});

test("DeliveryQueues.snapshot() writes every live delivery and dead letter, dropping those of tasks no longer alive", () => {
  const { queues, events } = recorded();
  queues.apply({ type: "push.delivery", taskId: "t1", delivery: delivery("w1", "task") });
  queues.apply({ type: "push.delivery", taskId: "t2", delivery: delivery("x1", "task", { taskId: "t2" }) });
  queues.apply({ type: "push.delivery", taskId: "t2", delivery: delivery("x2", "task", { taskId: "t2", configId: "c9" }), dead: true });
  assert.deepEqual([...queues.owedTasks()].sort(), ["t1", "t2"]);
  events.length = 0;
  const records = [...queues.snapshot((taskId) => taskId === "t1")];
  assert.deepEqual(records, [{ type: "push.delivery", taskId: "t1", delivery: delivery("w1", "task") }]);
  assert.deepEqual(events, ["-x1", "gone t2/c1"]);
  assert.deepEqual([...queues.owedTasks()], ["t1"]);
  assert.equal(queues.deadCount, 0);
});

test("outcomeRecord() turns an attempt's outcome into its record: done, gone on 410, the next attempt (or Retry-After), dead once the schedule is spent", async () => {
  const { outcomeRecord } = await import("../lib/delivery_queues.ts");
  const delivery = { id: "w1", taskId: "t1", configId: "c1", kind: "status" as const, body: "{}", attempts: 0, nextAt: 0, createdAt: 0 };
  const options = { schedule: [0, 1000], random: () => 0, now: 5000 }; // The delay drawn is half its step.
  assert.deepEqual(outcomeRecord(delivery, { ok: true, status: 204 }, options), { type: "push.done", taskId: "t1", id: "w1" });
  assert.equal(outcomeRecord(delivery, { ok: false, status: 410, error: "HTTP 410" }, options).type, "push.config.deleted");
  assert.deepEqual(outcomeRecord(delivery, { ok: false, status: 500, error: "HTTP 500" }, options), { type: "push.attempt", taskId: "t1", id: "w1", attempts: 1, nextAt: 5500, error: "HTTP 500" });
  assert.equal((outcomeRecord(delivery, { ok: false, status: 429, error: "HTTP 429", retryAfterMs: 30_000 }, options) as { nextAt: number }).nextAt, 35_000);
  assert.deepEqual(outcomeRecord({ ...delivery, attempts: 1 }, { ok: false, error: "timeout" }, options), { type: "push.dead", taskId: "t1", id: "w1", attempts: 2, error: "timeout" });
});
