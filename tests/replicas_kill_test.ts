/**
 * The replicas acceptance, with real processes: three agents on one PostgreSQL schema, 60 tasks of
 * 6 steps with push configs spread over them, one replica SIGKILLed mid-run and never restarted.
 * Every task completes, the two survivors give the same answer for each, every task's webhooks
 * arrive in order with the completion last, and the dead replica's tasks move on within the lease
 * plus 10 s.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";
import type { Task } from "../lib/types.ts";
import { startScript, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";
import type { ChildScript } from "./helpers.ts";
import { DATABASE_URL, freshSchema, needsDatabase } from "./pg_helpers.ts";

const TASKS = 60;
const STEPS = 6;
const STEP_MS = 400;
const LEASE_MS = 3000;

/** What a webhook says: the step of a progress update, or the final state. */
function progressOf(body: string): { taskId: string; step?: number; state?: string } | undefined {
  const event = JSON.parse(body) as { task?: Task; statusUpdate?: { taskId: string; status: { state: string; message?: { parts: Array<{ text?: string }> } } }; artifactUpdate?: { taskId: string } };
  if (event.task) return { taskId: event.task.id, state: event.task.status.state };
  if (event.statusUpdate) {
    const text = event.statusUpdate.status.message?.parts[0]?.text ?? "";
    const step = /^step (\d+)\//.exec(text)?.[1];
    return { taskId: event.statusUpdate.taskId, state: event.statusUpdate.status.state, ...(step ? { step: Number(step) } : {}) };
  }
  return event.artifactUpdate ? { taskId: event.artifactUpdate.taskId } : undefined;
}

test("3 replicas, 60 tasks of 6 steps, one replica SIGKILLed and not restarted: every task completes, webhooks in order, takeover within lease + 10 s", { ...needsDatabase(), timeout: 120_000 }, async (t) => {
  const { schema, drop } = await freshSchema();
  const receiver = await startTestReceiver();
  const dataDir = tempDir(); // Shared: the replicas sign with one key.
  const replicas: ChildScript[] = [];
  try {
    const args = ["--port", "0", "--data-dir", dataDir, "--database-url", DATABASE_URL!, "--database-schema", schema, "--lease", `${LEASE_MS}ms`,
      "--allow-private-webhooks", "--retry-schedule", "0,100ms,250ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s", "--quiet"];
    for (let i = 0; i < 3; i++) replicas.push(await startScript("scripts/long_running_agent.ts", args));
    const clients = replicas.map((replica) => new A2AClient(replica.url));
    // 1. Tasks spread over the three replicas, each with a push config.
    const byReplica: string[][] = [[], [], []];
    for (let i = 0; i < TASKS; i++) {
      const { task } = await clients[i % 3]!.sendMessage({ message: userMessage({ steps: STEPS, stepMs: STEP_MS }), configuration: { returnImmediately: true, taskPushNotificationConfig: { url: receiver.url } } });
      byReplica[i % 3]!.push(task.id);
    }
    // 2. Once replica 0 is mid-run, kill it for good.
    await waitFor(async () => (await clients[0]!.getTask({ id: byReplica[0]![0]! })).status.state === "TASK_STATE_WORKING", { what: "replica 0 to be working" });
    const killedAt = Date.now();
    await replicas[0]!.kill("SIGKILL");
    // 3. Every task completes, and both survivors say so, alike.
    const all = byReplica.flat();
    await waitFor(async () => {
      for (const id of all) if ((await clients[1]!.getTask({ id })).status.state !== "TASK_STATE_COMPLETED") return false;
      return true;
    }, { timeoutMs: 60_000, intervalMs: 250, what: "every task completed" });
    for (const id of all) assert.deepEqual(await clients[2]!.getTask({ id }), await clients[1]!.getTask({ id }), `task ${id} alike on both survivors`);
    // 4. Webhooks: each task's completion arrived, and its events in order (redeliveries by webhook-id aside).
    await waitFor(() => new Set(receiver.seen.filter((seen) => seen.body.includes("TASK_STATE_COMPLETED")).map((seen) => progressOf(seen.body)?.taskId)).size === TASKS, { timeoutMs: 30_000, what: "every completion webhook" });
    const perTask = new Map<string, Array<{ step?: number; state?: string; at: number }>>();
    const ids = new Set<string>();
    for (const seen of receiver.seen) {
      const id = String(seen.headers["webhook-id"]);
      if (ids.has(id)) continue;
      ids.add(id);
      const progress = progressOf(seen.body)!;
      const list = perTask.get(progress.taskId) ?? [];
      list.push({ ...progress, at: seen.at });
      perTask.set(progress.taskId, list);
    }
    for (const [taskId, events] of perTask) {
      const steps = events.flatMap((event) => (event.step === undefined ? [] : [event.step]));
      assert.deepEqual(steps, [...steps].sort((a, b) => a - b), `task ${taskId}'s steps in order`);
      assert.equal(events.at(-1)!.state, "TASK_STATE_COMPLETED", `task ${taskId}'s completion last`);
    }
    // 5. Takeover: each of the dead replica's unfinished tasks moved on within the lease plus 10 s.
    const takeovers = byReplica[0]!.flatMap((taskId) => {
      const after = (perTask.get(taskId) ?? []).find((event) => event.at > killedAt + 50);
      return after ? [after.at - killedAt] : [];
    });
    assert.ok(takeovers.length > 0, "the killed replica had tasks to take over");
    const slowest = Math.max(...takeovers);
    assert.ok(slowest <= LEASE_MS + 10_000, `slowest takeover ${slowest} ms`);
    t.diagnostic(`takeover of ${takeovers.length} tasks: slowest ${slowest} ms after the kill (lease ${LEASE_MS} ms)`);
  } finally {
    for (const replica of replicas) await replica.kill("SIGKILL");
    await receiver.close();
    await drop();
  }
});
