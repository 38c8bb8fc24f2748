/**
 * The caller model under attack, end to end on loopback: a second principal (bob) against alice's
 * tasks, a principal named like the admin, principals and ids at their longest, and tenants over
 * HTTP+JSON. Each test is a hole that was open once, or (streams) an attack that found none where a
 * regression would lock callers out; `auth_test.ts` has the model's plain behaviour.
 */

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Authenticator } from "../lib/auth.ts";
import type { BearerVerifier } from "../lib/auth.ts";
import { TokenFile } from "../lib/auth_tokens.ts";
import { AuthenticationError } from "../lib/errors.ts";
import type { AgentOptions } from "../lib/agent.ts";
import type { AgentServerOptions } from "../lib/server.ts";
import { TEST_PUSH, startAgent, tempDir, userMessage, waitFor } from "./helpers.ts";

const ALICE = "alice-token-0123456789abcdef";
const BOB = "bob-token-0123456789abcdef01";
const ADMIN = "admin-token-0123456789abcdef";
/** A token-file principal who happens to be called "admin". */
const NAMED_ADMIN = "named-admin-token-0123456789";

/** A task finishes at once when its first message's data says `finish`, else it waits until canceled. */
const handler: AgentOptions["handler"] = async (task, ctx) => {
  if ((task.history?.[0]?.parts[0] as { data?: { finish?: boolean } } | undefined)?.data?.finish) return;
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
};

/** An agent whose callers are alice, bob and a principal named "admin" (token file), and the admin token. */
async function startAgentWithTokens(options: { server?: AgentServerOptions; dataDir?: string; auth?: Authenticator; quotas?: AgentOptions["quotas"] } = {}) {
  const path = join(tempDir(), "tokens");
  writeFileSync(path, `alice ${ALICE}\nbob ${BOB}\nadmin ${NAMED_ADMIN}\n`, { mode: 0o600 });
  const auth = options.auth ?? new Authenticator({ tokens: await TokenFile.load(path), adminToken: ADMIN });
  return startAgent({ handler, push: TEST_PUSH, dataDir: options.dataDir, quotas: options.quotas }, { rateLimit: false, ...options.server, auth });
}

/** One JSON-RPC call; the body parsed. */
async function rpc(url: string, token: string | undefined, method: string, params: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json", "a2a-version": "1.0" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const text = await response.text();
  return { status: response.status, body: text.startsWith("{") ? JSON.parse(text) : text };
}

/** One HTTP+JSON call; a stream's body is not read. */
async function rest(url: string, token: string, verb: string, path: string): Promise<{ status: number; type: string | null }> {
  const response = await fetch(`${url}${path}`, { method: verb, headers: { authorization: `Bearer ${token}`, "a2a-version": "1.0" } });
  await response.body?.cancel();
  return { status: response.status, type: response.headers.get("content-type") };
}

test("a token-file principal named admin does not see, list or cancel the tasks the admin token made", async () => {
  const agent = await startAgentWithTokens();
  try {
    const made = await rpc(agent.url, ADMIN, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true } });
    const taskId = made.body.result.task.id;
    assert.equal((await rpc(agent.url, NAMED_ADMIN, "GetTask", { id: taskId })).body.error?.code, -32001);
    assert.equal((await rpc(agent.url, NAMED_ADMIN, "CancelTask", { id: taskId })).body.error?.code, -32001);
    assert.deepEqual((await rpc(agent.url, NAMED_ADMIN, "ListTasks", {})).body.result.tasks, []);
    assert.equal((await rpc(agent.url, ADMIN, "GetTask", { id: taskId })).body.result.id, taskId, "the admin still reaches it");
    assert.equal((await rpc(agent.url, ADMIN, "CancelTask", { id: taskId })).body.result.status.state, "TASK_STATE_CANCELED");
  } finally {
    await agent.close();
  }
});

test("bob's calls on alice's finished task never read its body from disk, so their time does not tell that it exists", async () => {
  const agent = await startAgentWithTokens();
  try {
    const sent = await rpc(agent.url, ALICE, "SendMessage", { message: { ...userMessage({ finish: true }), parts: [{ data: { finish: true } }, { text: "x".repeat(200_000) }] } });
    const taskId = sent.body.result.task.id;
    assert.equal(sent.body.result.task.status.state, "TASK_STATE_COMPLETED");
    await agent.agent.compact(); // Its body is now only on disk.
    const journal = agent.agent.journal!;
    const readLine = journal.readLine.bind(journal);
    let reads = 0;
    journal.readLine = (location) => (reads++, readLine(location));
    const hook = { taskId, id: "h", url: "http://127.0.0.1:9/bob" };
    for (const [method, params] of [
      ["CancelTask", { id: taskId }],
      ["SendMessage", { message: userMessage({}, { taskId }) }],
      ["SendStreamingMessage", { message: userMessage({}, { taskId }) }],
      ["CreateTaskPushNotificationConfig", hook],
      ["DeleteTaskPushNotificationConfig", { taskId, id: "h" }],
      ["GetTask", { id: taskId }],
    ] as const) {
      assert.equal((await rpc(agent.url, BOB, method, params)).body.error?.code, -32001, method);
      assert.equal(reads, 0, `${method} read alice's task from disk before refusing bob`);
    }
    assert.equal((await rpc(agent.url, ALICE, "GetTask", { id: taskId })).body.result.id, taskId);
    assert.equal(reads, 1, "alice's own read does go to disk");
  } finally {
    await agent.close();
  }
});

test("identify() refuses a principal that is empty or longer than 255 characters, from an OIDC sub or the hook", async () => {
  const req = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as never;
  for (const principal of ["", "p".repeat(256)]) {
    const oidc: BearerVerifier = { issuer: "https://issuer.example", verify: async () => ({ principal }) };
    assert.equal(await new Authenticator({ oidc }).identify(req("Bearer a.b.c")), undefined, `sub of ${principal.length}`);
    assert.equal(await new Authenticator({ authenticate: () => principal }).identify(req()), undefined, `hook's ${principal.length}`);
  }
  const longest = "p".repeat(255);
  assert.deepEqual(await new Authenticator({ authenticate: () => longest }).identify(req()), { principal: longest });
  // A refused sub is an invalid token: the hook may still know the caller.
  const oidc: BearerVerifier = { issuer: "https://issuer.example", verify: async () => ({ principal: "" }) };
  assert.deepEqual(await new Authenticator({ oidc, authenticate: () => "carol" }).identify(req("Bearer a.b.c")), { principal: "carol" });
  const failing: BearerVerifier = { issuer: "https://issuer.example", verify: async () => { throw new AuthenticationError("invalid_token", "no"); } };
  assert.equal(await new Authenticator({ oidc: failing }).identify(req("Bearer a.b.c")), undefined);
});

test("a finished task whose principal, tenant and contextId are at their longest, every character escaped, survives a restart", async () => {
  const dataDir = tempDir();
  // Control characters take six bytes each in JSON (\u0001): the largest head a frozen line can have.
  const principal = "\u0001".repeat(255);
  const auth = new Authenticator({ authenticate: (req) => (req.headers.authorization === `Bearer ${ALICE}` ? principal : undefined) });
  const first = await startAgentWithTokens({ dataDir, auth });
  const tenant = "\u0002".repeat(256);
  const sent = await rpc(first.url, ALICE, "SendMessage", { tenant, message: userMessage({ finish: true }, { contextId: "\u0003".repeat(256) }) });
  const taskId = sent.body.result.task.id;
  assert.equal(sent.body.result.task.status.state, "TASK_STATE_COMPLETED");
  await first.agent.compact();
  await first.close();
  const again = await startAgentWithTokens({ dataDir, auth });
  try {
    const stored = again.agent.store.get(taskId);
    assert.deepEqual([stored?.principal, stored?.tenant], [principal, tenant]);
    assert.equal((await rpc(again.url, ALICE, "GetTask", { id: taskId, tenant })).body.result.id, taskId);
  } finally {
    await again.close();
  }
});

test("HTTP+JSON: ?tenant= reaches the owner's task in that tenant for cancel, subscribe and push-config get and delete; bob's tenant trick does not", async () => {
  const agent = await startAgentWithTokens();
  try {
    const config = { id: "h", url: "http://127.0.0.1:9/hook" };
    const sent = await rpc(agent.url, ALICE, "SendMessage", { tenant: "team-a", message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: config } });
    const taskId = sent.body.result.task.id;
    const paths: Array<[string, string]> = [["GET", `/tasks/${taskId}`], ["GET", `/tasks/${taskId}/pushNotificationConfigs/h`], ["GET", `/tasks/${taskId}:subscribe`], ["POST", `/tasks/${taskId}:subscribe`]];
    for (const [verb, path] of paths) {
      assert.equal((await rest(agent.url, BOB, verb, `${path}?tenant=team-a`)).status, 404, `bob ${verb} ${path}`);
      assert.equal((await rest(agent.url, ALICE, verb, path)).status, 404, `alice without her tenant: ${verb} ${path}`);
      assert.equal((await rest(agent.url, ALICE, verb, `${path}?tenant=team-a`)).status, 200, `alice ${verb} ${path}`);
    }
    assert.equal((await rest(agent.url, BOB, "DELETE", `/tasks/${taskId}/pushNotificationConfigs/h?tenant=team-a`)).status, 404);
    assert.equal((await rest(agent.url, ALICE, "DELETE", `/tasks/${taskId}/pushNotificationConfigs/h?tenant=team-a`)).status, 200);
    assert.equal(agent.agent.store.config(taskId, "h"), undefined);
    assert.equal((await rest(agent.url, BOB, "POST", `/tasks/${taskId}:cancel?tenant=team-a`)).status, 404);
    assert.equal((await rest(agent.url, ALICE, "POST", `/tasks/${taskId}:cancel?tenant=team-a`)).status, 200);
    assert.equal(agent.agent.store.get(taskId)?.state, "TASK_STATE_CANCELED");
  } finally {
    await agent.close();
  }
});

test("streams dropped abruptly give their slots back, on both bindings and v0.3, so a caller is never locked out", async () => {
  const agent = await startAgentWithTokens({ quotas: { maxStreamsPerPrincipal: 2 } });
  try {
    const sent = await rpc(agent.url, ALICE, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true } });
    const taskId = sent.body.result.task.id;
    const open = async (kind: number): Promise<boolean> => {
      const controller = new AbortController();
      const headers = { authorization: `Bearer ${ALICE}`, "a2a-version": "1.0", "content-type": "application/json" };
      const calls: Array<[string, RequestInit]> = [
        ["/", { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SubscribeToTask", params: { id: taskId } }) }],
        ["/", { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tasks/resubscribe", params: { id: taskId } }) }],
        [`/tasks/${taskId}:subscribe`, { method: "GET" }],
        ["/message:stream", { method: "POST", body: JSON.stringify({ message: userMessage({}) }) }],
      ];
      const [path, init] = calls[kind % calls.length]!;
      const response = await fetch(`${agent.url}${path}`, { ...init, headers, signal: controller.signal });
      const streaming = response.headers.get("content-type") === "text/event-stream";
      if (streaming) await response.body!.getReader().read(); // The first event, then the client vanishes.
      controller.abort();
      return streaming;
    };
    for (let round = 0; round < 8; round++) {
      // Each round takes every slot; the slots come back once the server sees the connections close.
      await waitFor(async () => (await open(2 * round)) && (await open(2 * round + 1)), { what: `round ${round}'s two streams` });
    }
  } finally {
    await agent.close();
  }
});
