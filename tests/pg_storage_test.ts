/**
 * PgStorage on a real PostgreSQL: the log in commit order, version-checked appends across two
 * replicas, what one replica commits reaching the other, run leases and delivery claims.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { PgStorage } from "../lib/pg_storage.ts";
import { StaleWriteError } from "../lib/storage.ts";
import { waitFor } from "./helpers.ts";
import { DATABASE_URL, freshSchema, needsDatabase } from "./pg_helpers.ts";

const task = (id: string) => ({ type: "task", task: { id, contextId: "c", status: { state: "TASK_STATE_SUBMITTED", timestamp: "2026-11-27T00:00:00Z" } }, principal: "alice" });

async function twoReplicas(run: (a: PgStorage, b: PgStorage, schema: string) => Promise<void>): Promise<void> {
  const { schema, drop } = await freshSchema();
  const [a, b] = await Promise.all([PgStorage.open({ url: DATABASE_URL!, schema, replicaId: "a", pollMs: 50 }), PgStorage.open({ url: DATABASE_URL!, schema, replicaId: "b", pollMs: 50 })]);
  try {
    await Promise.all([a.load(), b.load()]);
    await run(a, b, schema);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await drop();
  }
}

test("PgStorage: two replicas started together migrate once; once loaded, one's appends reach the other in order", needsDatabase(), async () => {
  await twoReplicas(async (a, b) => {
    const seen: unknown[] = [];
    const echoed: unknown[] = [];
    b.onCommitted((record) => seen.push(record));
    a.onCommitted((record) => echoed.push(record));
    await Promise.all([a.append(task("t1")), a.append(task("t2"))]);
    await a.append({ type: "status", taskId: "t1", status: { state: "TASK_STATE_WORKING", timestamp: "x" } });
    await waitFor(() => seen.length === 3, { what: "b to see a's records" });
    assert.deepEqual(seen.map((r) => (r as { type: string }).type), ["task", "task", "status"]);
    await a.catchUp();
    assert.deepEqual(echoed, [], "a's own records are not handed back to a");
  });
});

test("PgStorage.load() returns every record, none of them also handed to the listener, while a look for others' commits runs beside it", needsDatabase(), async () => {
  await twoReplicas(async (a, _b, schema) => {
    // More than one page of the log (2,000 rows), so that the load reads it in several queries.
    await Promise.all(Array.from({ length: 2500 }, (_, i) => a.append(task(`t${i}`))));
    const c = await PgStorage.open({ url: DATABASE_URL!, schema, replicaId: "c" });
    try {
      const handed: unknown[] = [];
      c.onCommitted((record) => handed.push(record));
      const [records] = await Promise.all([c.load(), c.catchUp()]);
      assert.equal(records.length, 2500);
      assert.deepEqual(records.map((r) => (r as { task: { id: string } }).task.id), Array.from({ length: 2500 }, (_, i) => `t${i}`));
      assert.equal(handed.length, 0, "a record the load returned is not applied again");
    } finally {
      await c.close();
    }
  });
});

test("PgStorage.append(): of two replicas extending the same version of a task, one wins and the other gets StaleWriteError, then wins after catching up", needsDatabase(), async () => {
  await twoReplicas(async (a, b, schema) => {
    await a.append(task("t1"));
    await b.catchUp();
    let stale = 0;
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled([a.append({ type: "checkpoint", taskId: "t1", checkpoint: `a${round}` }), b.append({ type: "checkpoint", taskId: "t1", checkpoint: `b${round}` })]);
      assert.ok(results.some((result) => result.status === "fulfilled"), "one of them always wins");
      for (const result of results) {
        if (result.status === "rejected") {
          assert.ok(result.reason instanceof StaleWriteError, String(result.reason));
          stale++;
        }
      }
      await Promise.all([a.catchUp(), b.catchUp()]);
    }
    assert.ok(stale > 0, "the two collided at least once");
    // Every version was won once: the log has one record per version, in order.
    const fresh = await PgStorage.open({ url: DATABASE_URL!, schema, replicaId: "reader" });
    const log = await fresh.load();
    await fresh.close();
    assert.equal(log.length, 1 + 40 - stale);
  });
});

test("PgStorage.append(): delivery rows follow only the records that won; one refused as stale changes none", needsDatabase(), async () => {
  await twoReplicas(async (a, b) => {
    const owed = { id: "d1", taskId: "t1", configId: "c1", kind: "task", body: "{}", attempts: 0, nextAt: 0, createdAt: 0 };
    await a.append({ ...task("t1"), deliveries: [owed] });
    await b.catchUp();
    await b.append({ type: "checkpoint", taskId: "t1", checkpoint: 1 });
    await assert.rejects(a.append({ type: "push.done", taskId: "t1", id: "d1" }), StaleWriteError);
    assert.deepEqual(await b.claimDeliveries(["d1"], 1), new Set(["d1"]), "still pending: the stale outcome did not count");
    await a.catchUp();
    await a.append({ type: "push.done", taskId: "t1", id: "d1" });
    assert.deepEqual(await b.claimDeliveries(["d1"], 1), new Set(), "done once the outcome won");
  });
});

test("PgStorage leases: a run is held by one replica until released or expired; a delivery is claimed by one replica and only while pending", needsDatabase(), async () => {
  await twoReplicas(async (a, b) => {
    assert.deepEqual(await a.claimRuns(["t1", "t2"], 60_000), new Set(["t1", "t2"]));
    assert.deepEqual(await b.claimRuns(["t1", "t3"], 60_000), new Set(["t3"]));
    await a.releaseRun("t1");
    assert.deepEqual(await b.claimRuns(["t1"], 60_000), new Set(["t1"]));
    assert.deepEqual(await a.claimRuns(["t3"], 1), new Set());
    assert.deepEqual(await b.claimRuns(["t3"], 1), new Set(["t3"]), "renewing one's own lease");
    await waitFor(async () => (await a.claimRuns(["t3"], 60_000)).has("t3"), { what: "the expired lease to be taken" });
    const delivery = { id: "w1", taskId: "t9", configId: "c1", kind: "status", body: "{}", attempts: 0, nextAt: 0 };
    await a.append({ ...task("t9"), deliveries: [delivery] });
    const [fromA, fromB] = await Promise.all([a.claimDeliveries(["w1"], 60_000), b.claimDeliveries(["w1"], 60_000)]);
    assert.equal(fromA.size + fromB.size, 1, "exactly one replica gets the attempt");
    await b.catchUp();
    const winner = fromA.size ? a : b;
    await winner.append({ type: "push.done", taskId: "t9", id: "w1" });
    assert.deepEqual(await a.claimDeliveries(["w1"], 60_000), new Set(), "a delivered webhook is never claimed again");
  });
});
