import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";
import { startScript, tempDir, userMessage, waitFor } from "./helpers.ts";

test("a task survives SIGKILL of the demo agent mid-step and completes without redoing finished steps", async () => {
  const dataDir = tempDir();
  const args = ["--port", "0", "--data-dir", dataDir];
  const first = await startScript("scripts/long_running_agent.ts", args);
  let second: Awaited<ReturnType<typeof startScript>> | undefined;
  try {
    const client = new A2AClient(`${first.url}/`);
    const { task } = await client.sendMessage({ message: userMessage({ steps: 5, stepMs: 150 }), configuration: { returnImmediately: true } });
    // Kill it during step 3: step 2 is journaled, step 3 is under way.
    await waitFor(async () => (await client.getTask({ id: task.id })).status.message?.parts[0]?.text === "step 2/5", { intervalMs: 5, what: "step 2/5" });
    await first.kill("SIGKILL");

    second = await startScript("scripts/long_running_agent.ts", args);
    const client2 = new A2AClient(`${second.url}/`);
    const done = await waitFor(async () => {
      const current = await client2.getTask({ id: task.id });
      return current.status.state === "TASK_STATE_COMPLETED" ? current : undefined;
    }, { what: "completion after restart" });
    const report = done.artifacts?.find((a) => a.artifactId === "report")?.parts[0]?.text ?? "";
    for (let step = 1; step <= 5; step++) {
      assert.equal(report.split(`step ${step}/5 done`).length - 1, 1, `step ${step} appears once in:\n${report}`);
    }
    const progress = done.history!.filter((m) => m.role === "ROLE_AGENT").map((m) => m.parts[0]?.text);
    assert.deepEqual(progress, ["step 1/5", "step 2/5", "step 3/5", "step 4/5", "step 5/5"]);
  } finally {
    await first.kill();
    await second?.kill("SIGTERM");
  }
});

test("the demo agent rejects work it cannot do and stops cleanly on SIGTERM", async () => {
  const agent = await startScript("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", tempDir()]);
  try {
    const client = new A2AClient(`${agent.url}/`);
    const { task } = await client.sendMessage({ message: userMessage({ steps: -1 }) });
    assert.equal(task.status.state, "TASK_STATE_REJECTED");
    assert.match(task.status.message?.parts[0]?.text ?? "", /steps must be an integer/);
  } finally {
    await agent.kill("SIGTERM");
  }
  assert.equal(agent.child.exitCode, 0);
  assert.match(agent.output(), /SIGTERM: stopping/);
});
