import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";
import { freePort, startScript, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";

test("notifications owed when the agent is SIGKILLed (receiver down) all arrive after restart, with the same ids", async () => {
  const dataDir = tempDir();
  const port = await freePort();
  const webhook = `http://127.0.0.1:${port}/webhook`;
  const args = ["--port", "0", "--data-dir", dataDir, "--allow-private-webhooks", "--retry-schedule", "0,50ms,100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s", "--admin-token", "t0k"];
  const first = await startScript("scripts/long_running_agent.ts", args);
  let second: Awaited<ReturnType<typeof startScript>> | undefined;
  let receiver: Awaited<ReturnType<typeof startTestReceiver>> | undefined;
  try {
    const client = new A2AClient(`${first.url}/`);
    const { task } = await client.sendMessage({ message: userMessage({ steps: 3, stepMs: 20 }), configuration: { taskPushNotificationConfig: { url: webhook } } });
    assert.equal(task.status.state, "TASK_STATE_COMPLETED");
    // Every owed notification is pending (the receiver is down); note their ids, then kill.
    const pending = await waitFor(async () => {
      const response = await fetch(`${first.url}/admin/outbox?state=pending`, { headers: { authorization: "Bearer t0k" } });
      const { deliveries } = (await response.json()) as { deliveries: Array<{ id: string; attempts: number }> };
      return deliveries.length > 0 && deliveries[0]!.attempts > 0 && deliveries;
    }, { what: "a failed attempt" });
    await first.kill("SIGKILL");

    receiver = await startTestReceiver(() => ({ status: 200 }), port);
    second = await startScript("scripts/long_running_agent.ts", args);
    const terminal = await waitFor(() => receiver!.seen.find((s) => JSON.parse(s.body).statusUpdate?.status.state === "TASK_STATE_COMPLETED"), { what: "terminal webhook after restart" });
    const ids = receiver.seen.map((s) => s.headers["webhook-id"]);
    for (const { id } of pending) assert.ok(ids.includes(id), `owed ${id} arrived`);
    assert.ok(pending.some((d) => d.id === terminal.headers["webhook-id"]), "the terminal webhook kept its id");
    assert.equal(new Set(ids).size, ids.length, "each event acknowledged once");
  } finally {
    await first.kill();
    await second?.kill("SIGTERM");
    await receiver?.close();
  }
});
