/**
 * Log injection: text a client or a webhook sender controls is written to the logs on one line,
 * its control characters, separators and bidi overrides escaped.
 */

import { createServer } from "node:http";
import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeLogText } from "../lib/log_text.ts";
import { WebhookReceiver } from "../lib/receiver.ts";
import { TEST_PUSH, startAgent, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test("escapeLogText() escapes newlines, terminal escapes, separators and bidi overrides, and keeps the rest", () => {
  assert.equal(escapeLogText("a\nb\r\tc"), "a\\nb\\r\\tc");
  assert.equal(escapeLogText("\u001b[31mred"), "\\u{1b}[31mred");
  assert.equal(escapeLogText("x\u2028y\u202ez\u0085"), "x\\u{2028}y\\u{202e}z\\u{85}");
  assert.equal(escapeLogText("plain ünïcödé ✓ text"), "plain ünïcödé ✓ text");
});

test("a push-config URL with a newline and a terminal escape is logged on one line by the outbox", async () => {
  const lines: string[] = [];
  const receiver = await startTestReceiver();
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, log: (line) => lines.push(line) } });
  try {
    const url = `${receiver.url}\nwebhook msg_forged task t -> http://evil.example: HTTP 200 (attempt 1, push.done)\u001b[2J`;
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url } } });
    await waitFor(() => lines.length >= 3, { what: "a log line per delivery: the task, working, completed" });
    for (const line of lines) assert.doesNotMatch(line, UNSAFE, line);
    assert.ok(lines.some((line) => line.includes("\\nwebhook msg_forged") && line.includes("\\u{1b}[2J")), lines.join("\n"));
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("a webhook whose JWT kid holds a newline and escapes is refused with a one-line log entry", async () => {
  const lines: string[] = [];
  // An agent whose JWKS has no keys: the refusal names the unknown kid.
  const jwks = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"keys":[]}'));
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  const agentUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}`;
  const receiver = await WebhookReceiver.open({ dataDir: tempDir(), agentUrl, audience: ["http://x/webhook"], token: "T", log: (line) => lines.push(line) });
  const server = receiver.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const jwt = `${segment({ alg: "ES256", kid: "k1\naccepted msg_forged task t statusUpdate\u001b[0m" })}.${segment({})}.${Buffer.alloc(64).toString("base64url")}`;
    const headers = { "content-type": "application/json", "x-a2a-notification-token": "T", "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), authorization: `Bearer ${jwt}` };
    const response = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/webhook`, { method: "POST", headers, body: "{}" });
    assert.equal(response.status, 401);
    await response.arrayBuffer();
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, UNSAFE, lines[0]);
    assert.match(lines[0]!, /refused \(UNKNOWN_KEY\).*k1\\naccepted msg_forged/);
  } finally {
    jwks.closeAllConnections();
    jwks.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await receiver.close();
  }
});
