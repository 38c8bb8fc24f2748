/**
 * Fairness (issue 14): receivers that accept the connection and never answer, flooded with push
 * configs, must not hold up a healthy receiver's webhooks. A real agent with the real slot limits
 * (256 in all, 64 per origin) and the real 10 s attempt timeout; five black holes on 127.0.0.1 get
 * 300 tasks' webhooks, then a healthy receiver gets one task every 200 ms for 6 s. Each healthy
 * webhook's latency runs from the timestamp of the status it carries to its arrival.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as pace } from "node:timers/promises";
import { startAgent, startTestReceiver, userMessage, waitFor } from "./helpers.ts";
import type { SeenRequest } from "./helpers.ts";
import { startBlackHole } from "./black_hole.ts";

const BLACK_HOLES = 5;
const FLOOD_TASKS = 300;
const FLOOD_CONCURRENCY = 25;
const HEALTHY_TASKS = 30;
/** The workload: one healthy task this often (a pace, not a wait for anything). */
const HEALTHY_EVERY_MS = 200;
const P99_LIMIT_MS = 2000;
/** How long the last healthy webhooks may take to arrive before the missing ones count as late. */
const DRAIN_MS = 4000;


/** The ms between the status a webhook carries being stamped and the webhook arriving. */
function latencyOf(seen: SeenRequest): number {
  const event = JSON.parse(seen.body) as { task?: { status: { timestamp: string } }; statusUpdate?: { status: { timestamp: string } } };
  const stamp = event.task?.status.timestamp ?? event.statusUpdate?.status.timestamp;
  return seen.at - Date.parse(stamp!);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

test("five never-answering receivers flooded with configs leave a healthy receiver's webhooks under 2 s at p99", async (t) => {
  const holes = await Promise.all(Array.from({ length: BLACK_HOLES }, startBlackHole));
  const healthy = await startTestReceiver();
  // The attacker is not slowed by backpressure (admissionWaitMs 0): the worst case.
  const agent = await startAgent({ handler: () => {}, push: { ssrf: { allowPrivate: true }, admissionWaitMs: 0 } });
  const send = (url: string) => agent.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { url } } });
  try {
    // 1. The flood: 300 tasks, each with a config to one of the black holes, each owing three webhooks.
    let next = 0;
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, async () => {
      while (next < FLOOD_TASKS) {
        const n = next++;
        await send(`${holes[n % BLACK_HOLES]!.url}/hook/${n}`);
      }
    }));
    await waitFor(() => holes.every((hole) => hole.connections() > 0), { what: "every black hole holding attempts" });

    // 2. The healthy receiver gets one task every 200 ms.
    const healthyTasks: Array<Promise<{ task: { id: string } }>> = [];
    for (let i = 0; i < HEALTHY_TASKS; i++) {
      healthyTasks.push(send(healthy.url));
      await pace(HEALTHY_EVERY_MS);
    }
    const ids = new Set((await Promise.all(healthyTasks)).map(({ task }) => task.id));

    // 3. Every healthy task's final webhook, or the drain time runs out: the missing count as late.
    const completed = () => healthy.seen.filter((s) => JSON.parse(s.body).statusUpdate?.status.state === "TASK_STATE_COMPLETED").length;
    await waitFor(() => completed() >= ids.size, { timeoutMs: DRAIN_MS, what: "every healthy task's completion" }).catch(() => {});
    const late = 3 * ids.size - healthy.seen.filter((s) => s.attempt === 1).length;
    const latencies = healthy.seen.filter((s) => s.attempt === 1).map(latencyOf);
    for (let i = 0; i < late; i++) latencies.push(DRAIN_MS);
    latencies.sort((a, b) => a - b);
    const [p50, p99] = [percentile(latencies, 50), percentile(latencies, 99)];
    t.diagnostic(`healthy webhooks: ${latencies.length} (${late} missing), p50 ${p50} ms, p99 ${p99} ms; black-hole connections ${holes.map((h) => h.connections()).join("/")}`);
    assert.equal(late, 0, `${late} healthy webhooks had not arrived ${DRAIN_MS} ms after the last task`);
    assert.ok(p99 < P99_LIMIT_MS, `healthy p99 ${p99} ms (p50 ${p50} ms)`);
  } finally {
    // The black holes first: their open attempts fail at once, so the agent stops without waiting them out.
    await Promise.all(holes.map((hole) => hole.close()));
    await agent.close();
    await healthy.close();
  }
});
