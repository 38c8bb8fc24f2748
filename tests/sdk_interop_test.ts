/**
 * The receiver against an agent that is not ours: an agent built on the official JavaScript SDK
 * (`@a2a-js/sdk` 1.3.0, `tests/sdk_agent.ts`) pushes to `scripts/webhook_receiver.ts`, run as a user
 * would, once with `--token` and once with `--authorization`. The SDK sends no `webhook-id`, no
 * timestamp and no signature, and never retries. A recording proxy in front of the receiver lets the
 * test re-send one of the SDK's POSTs as it was.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import { startScript, tempDir, userMessage, waitFor } from "./helpers.ts";
import { A2AClient } from "../lib/client.ts";

interface Recorded {
  headers: IncomingHttpHeaders;
  body: Buffer;
  answer: { status: number; body: Record<string, unknown> };
}

/** Forwards every POST to `target` and keeps the request and the receiver's answer. */
async function recordingProxy(target: string) {
  const recorded: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const headers = forwardable(req.headers);
      const response = await fetch(target, { method: "POST", headers, body });
      const answer = { status: response.status, body: (await response.json()) as Record<string, unknown> };
      recorded.push({ headers: req.headers, body, answer });
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/webhook`,
    recorded,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of ["content-type", "x-a2a-notification-token", "authorization", "webhook-id", "webhook-timestamp"]) {
    const value = headers[name];
    if (typeof value === "string") kept[name] = value;
  }
  return kept;
}

for (const [name, flags, config] of [
  ["--token T", ["--token", "T"], { token: "T" }],
  ["--authorization \"Bearer X\"", ["--authorization", "Bearer X"], { authentication: { scheme: "Bearer", credentials: "X" } }],
] as const) {
  test(`an @a2a-js/sdk 1.3.0 agent pushing to webhook_receiver.ts --no-jwt ${name}: every event accepted, a re-sent POST a duplicate, the final task fetched`, async () => {
    const sdkAgent = await startScript("tests/sdk_agent.ts", ["--port", "0"]);
    const receiver = await startScript("scripts/webhook_receiver.ts", ["--port", "0", "--data-dir", tempDir(), "--agent-url", sdkAgent.url, "--no-jwt", ...flags]);
    const proxy = await recordingProxy(`${receiver.url}/webhook`);
    try {
      const client = new A2AClient(`${sdkAgent.url}/`);
      const { task } = await client.sendMessage({
        message: userMessage({ steps: 3, stepMs: 20 }),
        configuration: { taskPushNotificationConfig: { url: proxy.url, ...config } },
      });
      // The Task, three working updates, the artifact, the completion: the SDK posts each once.
      await waitFor(() => proxy.recorded.length >= 6, { what: "six webhooks from the SDK agent" });
      for (const { headers, answer } of proxy.recorded) {
        assert.equal(headers["webhook-id"], undefined, "the SDK sends no webhook-id");
        assert.deepEqual(answer, { status: 200, body: { accepted: true } });
      }
      const resent = proxy.recorded[1]!;
      const again = await fetch(`${receiver.url}/webhook`, { method: "POST", headers: forwardable(resent.headers), body: new Uint8Array(resent.body) });
      assert.deepEqual(await again.json(), { duplicate: true });
      const result = await waitFor(async () => {
        const response = await fetch(`${receiver.url}/tasks/${task.id}`);
        return response.ok && ((await response.json()) as { status: { state: string }; artifacts?: Array<{ parts: Array<{ text?: string }> }> });
      }, { what: "the task fetched from the SDK agent" });
      assert.equal(result.status.state, "TASK_STATE_COMPLETED");
      assert.equal(result.artifacts?.[0]?.parts[0]?.text, "3 steps done");
      const { events } = (await (await fetch(`${receiver.url}/events`)).json()) as { events: Array<{ state?: string; duplicates: number }> };
      assert.equal(events.length, 6);
      assert.deepEqual(events.map((e) => e.duplicates), [0, 1, 0, 0, 0, 0]);
      assert.equal(events.at(-1)!.state, "TASK_STATE_COMPLETED");
    } finally {
      await proxy.close();
      await receiver.kill();
      await sdkAgent.kill();
    }
  });
}
