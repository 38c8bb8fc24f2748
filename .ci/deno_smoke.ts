/**
 * Deno smoke run for CI: starts the demo scripts under Deno 2 (`npx deno@2 run -A ...`), checks
 * that they answer (the agent on PostgreSQL too, given `A2A_TEST_DATABASE_URL`), and stops them. Bounded: every wait has a deadline, every child is killed.
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { A2AClient } from "../lib/client.ts";
import { NOTIFICATION_TOKEN_FILE } from "../lib/receiver.ts";

const START_TIMEOUT_MS = 120_000; // The first run downloads Deno from the npm registry.

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "deno-smoke-"));
  const children: Array<ReturnType<typeof spawn>> = [];
  try {
    // 1. The agent answers SendMessage and GetTask under Deno.
    const agentUrl = await startUnderDeno("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", join(dir, "agent"), "--allow-private-webhooks"], children);
    const client = new A2AClient(`${agentUrl}/`);
    const { task } = await client.sendMessage({ message: { messageId: "smoke-1", role: "ROLE_USER", parts: [{ data: { steps: 2, stepMs: 10 } }] } });
    const fetched = await client.getTask({ id: task.id });
    if (fetched.status.state !== "TASK_STATE_COMPLETED") throw new Error(`Deno agent: task ended ${fetched.status.state}`);
    console.log(`deno smoke: agent OK (${agentUrl}, task ${task.id} completed)`);

    // 2. The receiver, also under Deno, verifies the agent's signed webhooks (and the token it made
    // at start, which the push config carries) and fetches the result.
    const receiverUrl = await startUnderDeno("scripts/webhook_receiver.ts", ["--port", "0", "--data-dir", join(dir, "receiver"), "--agent-url", agentUrl], children);
    const token = readFileSync(join(dir, "receiver", NOTIFICATION_TOKEN_FILE), "utf8").trim();
    const pushed = await client.sendMessage({
      message: { messageId: "smoke-2", role: "ROLE_USER", parts: [{ data: { steps: 1, stepMs: 10 } }] },
      configuration: { taskPushNotificationConfig: { url: `${receiverUrl}/webhook`, token } },
    });
    const deadline = Date.now() + 30_000;
    while (!(await fetch(`${receiverUrl}/tasks/${pushed.task.id}`)).ok) {
      if (Date.now() > deadline) throw new Error("Deno receiver: no result fetched within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.log(`deno smoke: receiver OK (${receiverUrl}, verified webhooks and fetched task ${pushed.task.id})`);

    // 4. The pages, read from files beside their modules, are served under Deno too.
    for (const page of [`${receiverUrl}/`, `${agentUrl}/admin/`]) {
      const response = await fetch(page);
      const html = await response.text();
      if (!response.ok || !html.startsWith("<!doctype html>") || !response.headers.get("content-security-policy")) throw new Error(`Deno: ${page} answered ${response.status} without its page`);
    }
    console.log("deno smoke: the receiver page and the outbox console are served");

    // 3. With a database (CI gives one), the agent keeps its tasks in PostgreSQL under Deno too.
    const databaseUrl = process.env.A2A_TEST_DATABASE_URL;
    if (databaseUrl) {
      const schema = `a2a_deno_smoke_${process.pid}`;
      const replicaUrl = await startUnderDeno("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", join(dir, "replica"), "--database-url", databaseUrl, "--database-schema", schema], children);
      try {
        const replica = new A2AClient(`${replicaUrl}/`);
        const stored = await replica.sendMessage({ message: { messageId: "smoke-3", role: "ROLE_USER", parts: [{ data: { steps: 1, stepMs: 10 } }] } });
        if (stored.task.status.state !== "TASK_STATE_COMPLETED") throw new Error(`Deno agent on PostgreSQL: task ended ${stored.task.status.state}`);
        console.log(`deno smoke: agent on PostgreSQL OK (${replicaUrl}, task ${stored.task.id} completed)`);
      } finally {
        const postgres = (await import("postgres")).default;
        const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
        await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => sql.end({ timeout: 5 }));
      }
    }
  } finally {
    // npx runs deno as its child: kill the whole process group, or deno outlives us and holds our pipes.
    for (const child of children) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL"); // The group is already gone; make sure of the child itself.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startUnderDeno(script: string, args: string[], children: Array<ReturnType<typeof spawn>>): Promise<string> {
  const child = spawn("npx", ["-y", "deno@2", "run", "-A", script, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.push(child);
  let output = "";
  return await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} under Deno did not listen in ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} under Deno exited with ${code}:\n${output}`));
    });
  });
}

await main();
