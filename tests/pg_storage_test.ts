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

async function twoReplicas(run: (a: PgStorage, b: PgStorage) => Promise<void>): Promise<void> {
  const { schema, drop } = await freshSchema();
  const [a, b] = await Promise.all([PgStorage.open({ url: DATABASE_URL!, schema, replicaId: "a", pollMs: 50 }), PgStorage.open({ url: DATABASE_URL!, schema, replicaId: "b", pollMs: 50 })]);
  try {
    await run(a, b);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await drop();
  }
}

test("PgStorage: two replicas started together migrate once; one's appends reach the other in order", needsDatabase(), async () => {
  await twoReplicas(async (a, b) => {
    const seen: unknown[] = [];
    const echoed: unknown[] = [];
    b.onCommitted((record) => seen.push(record));
    a.onCommitted((record) => echoed.push(record));
    await Promise.all([a.load(), b.load()]);
    await Promise.all([a.append(task("t1")), a.append(task("t2"))]);
    await a.append({ type: "status", taskId: "t1", status: { state: "TASK_STATE_WORKING", timestamp: "x" } });
    await waitFor(() => seen.length === 3, { what: "b to see a's records" });
    assert.deepEqual(seen.map((r) => (r as { type: string }).type), ["task", "task", "status"]);
    await a.catchUp();
    assert.deepEqual(echoed, [], "a's own records are not handed back to a");
  });
});

test("PgStorage.append() refuses a change built on a state another replica already extended (StaleWriteError)", needsDatabase(), async () => {
  await twoReplicas(async (a, b) => {
    await a.append(task("t1"));
    await b.catchUp();
    await b.append({ type: "checkpoint", taskId: "t1", checkpoint: 1 });
    await assert.rejects(a.append({ type: "checkpoint", taskId: "t1", checkpoint: 2 }), StaleWriteError);
    await a.catchUp();
    await a.append({ type: "checkpoint", taskId: "t1", checkpoint: 3 });
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
