/**
 * Replicas on one PostgreSQL database, in one process: a task made on one replica is seen on the
 * other (GetTask, ListTasks, a stream), a cancel on one stops the run on the other, and a replica
 * that stops without finishing its task has it taken over from the last checkpoint.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import type { TaskHandler } from "../lib/runner.ts";
import { TEST_PUSH, startAgent, startTestReceiver, userMessage, waitFor } from "./helpers.ts";
import type { TestAgent } from "./helpers.ts";
import { DATABASE_URL, freshSchema, needsDatabase } from "./pg_helpers.ts";

/** Steps of 50 ms with a checkpoint each; waits for abort when told `hold`. */
const stepper: TaskHandler = async (_task, ctx) => {
  const { steps = 3, hold = false } = (ctx.message?.parts[0]?.data ?? {}) as { steps?: number; hold?: boolean };
  for (let step = ((ctx.checkpoint as number | undefined) ?? 0) + 1; step <= steps; step++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (ctx.signal.aborted) return;
    await ctx.working(`step ${step}/${steps}`, { checkpoint: step });
  }
  if (hold) await new Promise((resolve) => ctx.signal.aborted ? resolve(undefined) : ctx.signal.addEventListener("abort", resolve));
};

async function withReplicas(count: number, run: (replicas: TestAgent[]) => Promise<void>, leaseMs = 1000): Promise<void> {
  const { schema, drop } = await freshSchema();
  const replicas: TestAgent[] = [];
  try {
    for (let i = 0; i < count; i++) replicas.push(await startAgent({ handler: stepper, push: TEST_PUSH, database: { url: DATABASE_URL!, schema, replicaId: `r${i}`, pollMs: 50, leaseMs } }));
    await run(replicas);
  } finally {
    for (const replica of replicas) await replica.close().catch(() => {});
    await drop();
  }
}

test("replicas: a task sent to one is read, listed and streamed on the other, and its webhooks are sent once", needsDatabase(), async () => {
  const hook = await startTestReceiver();
  try {
    await withReplicas(2, async ([a, b]) => {
      const { task } = await a!.agent.sendMessage({ message: userMessage({ steps: 3 }), configuration: { returnImmediately: true, taskPushNotificationConfig: { url: hook.url } } });
      await waitFor(() => b!.agent.store.get(task.id), { what: "b to know the task" });
      const done = await waitFor(async () => {
        const seen = await b!.agent.getTask({ id: task.id });
        return seen.status.state === "TASK_STATE_COMPLETED" && seen;
      }, { what: "completion seen on b" });
      assert.equal(done.id, task.id);
      assert.deepEqual((await b!.agent.listTasks({})).tasks.map((t) => t.id), [task.id]);
      await waitFor(() => hook.seen.some((s) => s.body.includes("TASK_STATE_COMPLETED")), { what: "the completed webhook" });
      const ids = hook.seen.map((s) => s.headers["webhook-id"]);
      assert.equal(new Set(ids).size, ids.length, "no webhook sent twice");
    });
  } finally {
    await hook.close();
  }
});

test("replicas: a cancel on one stops the run on the other; a stream on one sees the other's events", needsDatabase(), async () => {
  await withReplicas(2, async ([a, b]) => {
    const { task } = await a!.agent.sendMessage({ message: userMessage({ steps: 1, hold: true }), configuration: { returnImmediately: true } });
    await waitFor(() => b!.agent.store.get(task.id)?.state === "TASK_STATE_WORKING", { what: "working, seen on b" });
    const stream = b!.agent.subscribeToTask({ id: task.id });
    const events: unknown[] = [];
    const reading = (async () => { for await (const event of stream) events.push(event); })();
    await b!.agent.cancelTask({ id: task.id });
    await waitFor(() => a!.agent.runner.runningIds().length === 0, { what: "a's run to stop" });
    await reading;
    assert.equal((await a!.agent.getTask({ id: task.id })).status.state, "TASK_STATE_CANCELED");
    assert.ok(events.some((event) => JSON.stringify(event).includes("TASK_STATE_CANCELED")));
  });
});

test("replicas: a replica that stops mid-task leaves it to another, which resumes from the last checkpoint", needsDatabase(), async () => {
  await withReplicas(2, async ([a, b]) => {
    const { task } = await a!.agent.sendMessage({ message: userMessage({ steps: 30 }), configuration: { returnImmediately: true } });
    await waitFor(() => (a!.agent.store.get(task.id)?.checkpoint as number) >= 3, { what: "a few steps on a" });
    // Stop a without releasing its lease: only the lease's expiry lets b take over.
    const runner = a!.agent.runner;
    assert.deepEqual(runner.runningIds(), [task.id]);
    await a!.close();
    const done = await waitFor(async () => {
      const seen = await b!.agent.getTask({ id: task.id });
      return seen.status.state === "TASK_STATE_COMPLETED" && seen;
    }, { timeoutMs: 15_000, what: "b to finish the task" });
    const steps = (done.history ?? []).map((m) => m.parts[0]?.text).filter((text) => text?.startsWith("step"));
    assert.equal(new Set(steps).size, steps.length, `no step ran twice: ${steps.join(", ")}`);
  }, 500);
});

test("replicas: a task made on one replica is found at once through the other's methods, even before its change arrives there", needsDatabase(), async () => {
  await withReplicas(2, async ([a, b]) => {
    const { task } = await a!.agent.sendMessage({ message: userMessage({ steps: 0 }), configuration: { returnImmediately: true } });
    const { callMethod } = await import("../lib/methods.ts");
    const found = (await callMethod(b!.agent, "GetTask", { id: task.id })) as { id: string };
    assert.equal(found.id, task.id);
  });
});
