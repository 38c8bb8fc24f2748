/**
 * Push benchmark: N tasks of `steps: 0`, each with a push config, sent to the demo agent (a child
 * process, durable journal) with `returnImmediately`; a local receiver acknowledges every webhook.
 * Prints one JSON line: deliveries per second (first send to last acknowledged webhook) and the
 * latency from sending a task to acknowledging its terminal webhook (p50/p95/p99), and missing.
 *
 *   npx tsx scripts/bench_push.ts [--tasks 2000] [--concurrency 32] [--no-fsync]
 */

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { A2AClient } from "../lib/client.ts";

const TIME_LIMIT_MS = 300_000;

async function main(): Promise<void> {
  // 1. Options.
  const { values } = parseArgs({ options: { tasks: { type: "string", default: "2000" }, concurrency: { type: "string", default: "32" }, "no-fsync": { type: "boolean", default: false } } });
  const tasks = Number(values.tasks);
  const concurrency = Number(values.concurrency);

  // 2. A receiver that acknowledges at once and notes when each task's terminal webhook came.
  const sentAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  let deliveries = 0;
  let lastAck = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200).end();
      deliveries++;
      lastAck = performance.now();
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { statusUpdate?: { taskId: string; status: { state: string } } };
      if (event.statusUpdate?.status.state === "TASK_STATE_COMPLETED" && !doneAt.has(event.statusUpdate.taskId)) {
        doneAt.set(event.statusUpdate.taskId, lastAck);
        if (doneAt.size === tasks) allDone();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const webhook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/webhook`;

  // 3. The agent, in its own process.
  const dataDir = mkdtempSync(join(tmpdir(), "bench-push-"));
  // BENCH_NODE_FLAGS (e.g. "--cpu-prof") goes to the agent's node, for profiling.
  const agentArgs = [...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []), "--import", "tsx", "scripts/long_running_agent.ts", "--port", "0", "--data-dir", dataDir, "--allow-private-webhooks", "--quiet"];
  if (values["no-fsync"]) agentArgs.push("--no-fsync");
  const agent = spawn(process.execPath, agentArgs, { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      agent.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const match = /listening on (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      agent.once("exit", (code) => reject(new Error(`agent exited ${code}`)));
    });
    const client = new A2AClient(`${url}/`);

    // 4. Send the tasks, `concurrency` at a time.
    const start = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < tasks) {
        next++;
        const sent = performance.now();
        const { task } = await client.sendMessage({
          message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: { steps: 0 } }] },
          configuration: { returnImmediately: true, taskPushNotificationConfig: { url: webhook } },
        });
        sentAt.set(task.id, sent);
      }
    }));
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, TIME_LIMIT_MS).unref())]);
    // Let stragglers of already-completed tasks land, bounded.
    for (let i = 0; i < 100 && deliveries < tasks * 4; i++) await new Promise((resolve) => setTimeout(resolve, 20));

    // 5. Report.
    const latencies = [...doneAt].map(([id, at]) => at - (sentAt.get(id) ?? at)).sort((a, b) => a - b);
    const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN);
    const seconds = (lastAck - start) / 1000;
    console.log(JSON.stringify({
      bench: "push", tasks, concurrency, durable: !values["no-fsync"], deliveries, deliveriesPerSecond: Math.round(deliveries / seconds),
      latencyMs: { p50: pct(50), p95: pct(95), p99: pct(99) }, missing: tasks - doneAt.size, seconds: Number(seconds.toFixed(2)),
    }));
  } finally {
    // SIGTERM, so a profiling agent writes its profile; SIGKILL if it does not stop in 5 s.
    const exited = new Promise((resolve) => agent.once("exit", resolve));
    agent.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    agent.kill("SIGKILL");
    receiver.closeAllConnections();
    receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
