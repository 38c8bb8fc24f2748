/**
 * Fairness benchmark (issue 14): receivers that accept the connection and never answer ("black
 * holes"), flooded with push configs, while a healthy receiver gets one task every 200 ms. Prints
 * one JSON line: the healthy webhooks' latency (from the timestamp of the status each one carries
 * to its arrival: p50, p99, max) and the attempts each black hole saw. The agent runs in this
 * process with its real limits (10 s attempt timeout, 256 slots, 64 per origin) and no admission
 * wait, the attacker's best case; run the same script on another checkout for a before/after.
 *
 *   npx tsx scripts/bench_fairness.ts [--black-holes 5] [--configs 300] [--healthy-tasks 30]
 *       [--every-ms 200] [--drain-ms 60000] [--timeout-ms 10000] [--warm]
 *
 * `--warm` has the healthy receiver answer one task's webhooks before the flood, as a receiver the
 * agent already knows (a new origin's first webhook competes with the black holes' turns).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Agent } from "../lib/agent.ts";
import { A2AClient } from "../lib/client.ts";
import { createAgentServer } from "../lib/server.ts";
import { startBlackHole } from "../tests/black_hole.ts";

const FLOOD_CONCURRENCY = 25;

async function main(): Promise<void> {
  // 1. Options.
  const { values } = parseArgs({
    options: {
      "black-holes": { type: "string", default: "5" },
      configs: { type: "string", default: "300" },
      "healthy-tasks": { type: "string", default: "30" },
      "every-ms": { type: "string", default: "200" },
      "drain-ms": { type: "string", default: "60000" },
      "timeout-ms": { type: "string", default: "10000" },
      warm: { type: "boolean", default: false },
    },
  });
  const [holeCount, configs, healthyTasks, everyMs, drainMs, timeoutMs] = ["black-holes", "configs", "healthy-tasks", "every-ms", "drain-ms", "timeout-ms"].map((name) => Number(values[name as keyof typeof values]));

  // 2. The black holes, and a healthy receiver that notes each webhook's latency once.
  const holes = await Promise.all(Array.from({ length: holeCount! }, startBlackHole));
  const healthy = await startHealthyReceiver();

  // 3. The agent, in this process, served on a free port.
  const dataDir = mkdtempSync(join(tmpdir(), "bench-fairness-"));
  const agent = await Agent.open({ dataDir, handler: () => {}, warn: () => {}, push: { ssrf: { allowPrivate: true }, timeoutMs, admissionWaitMs: 0 } });
  const server = createAgentServer(agent);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  agent.startDelivery(url);
  const client = new A2AClient(`${url}/`);
  const send = (webhook: string) => client.sendMessage({ message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: {} }] }, configuration: { returnImmediately: true, taskPushNotificationConfig: { url: webhook } } });
  const started = performance.now();
  try {
    if (values.warm) {
      await send(healthy.url);
      for (let i = 0; i < 1000 && healthy.latencies.length < 3; i++) await delay(10);
      healthy.latencies.length = 0;
    }

    // 4. The flood: one task per config, spread over the black holes, 25 at a time.
    let next = 0;
    await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, async () => {
      while (next < configs!) {
        const n = next++;
        await send(`${holes[n % holeCount!]!.url}/hook/${n}`);
      }
    }));

    // 5. The healthy receiver's tasks, one every `everyMs`; then wait (bounded) for their webhooks.
    for (let i = 0; i < healthyTasks!; i++) {
      void send(healthy.url);
      await delay(everyMs!);
    }
    const expected = 3 * healthyTasks!; // The Task, working, completed.
    const deadline = Date.now() + drainMs!;
    while (healthy.latencies.length < expected && Date.now() < deadline) await delay(50);

    // 6. Report.
    const sorted = [...healthy.latencies].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
    console.log(JSON.stringify({
      bench: "fairness", blackHoles: holeCount, configs, healthyTasks, everyMs, timeoutMs, warm: values.warm,
      healthyMs: { p50: pct(50), p99: pct(99), max: sorted.at(-1) ?? NaN }, healthyWebhooks: sorted.length, missing: expected - sorted.length,
      attemptsPerBlackHole: holes.map((hole) => hole.connections()), seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    }));
  } finally {
    // The black holes first: the agent's open attempts to them fail at once instead of timing out.
    await Promise.all(holes.map((hole) => hole.close()));
    server.closeAllConnections();
    server.close();
    await agent.close();
    await healthy.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}


/** Acknowledges every webhook; notes, once per webhook-id, the ms since the status it carries was stamped. */
async function startHealthyReceiver() {
  const latencies: number[] = [];
  const seen = new Set<string>();
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const at = Date.now();
      res.writeHead(200).end();
      const id = String(req.headers["webhook-id"]);
      if (seen.has(id)) return;
      seen.add(id);
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { task?: { status: { timestamp: string } }; statusUpdate?: { status: { timestamp: string } } };
      latencies.push(at - Date.parse((event.task ?? event.statusUpdate)!.status.timestamp));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/webhook`,
    latencies,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

await main();
