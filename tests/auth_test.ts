/**
 * Callers and owners, end to end over both bindings: an agent with a token file (alice, bob),
 * where a missing or unknown token is a 401, another caller's task does not exist for every method,
 * ListTasks shows only the caller's own, an attempt to overwrite another's push config changes
 * nothing, the quotas refuse with -32050 (429 over HTTP+JSON) and store nothing, the rate limit
 * answers 429 with Retry-After, and the admin token reaches tasks that have no owner.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { Authenticator, openAuthenticator } from "../lib/auth.ts";
import { TokenFile } from "../lib/auth_tokens.ts";
import type { AgentServerOptions } from "../lib/server.ts";
import { ROOT, TEST_PUSH, startAgent, startScript, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";
import { startTestIssuer, validClaims } from "./oidc_issuer.ts";
import type { TestAgent } from "./helpers.ts";

const ALICE = "alice-token-0123456789abcdef";
const BOB = "bob-token-0123456789abcdef01";
const ADMIN = "admin-token-0123456789abcdef";

/** A token file of alice and bob, and an agent that reads it. */
async function startAuthAgent(options: { quotas?: { maxConfigsPerTask?: number; maxOpenTasks?: number; maxStreamsPerPrincipal?: number }; server?: AgentServerOptions; dataDir?: string } = {}) {
  const path = join(tempDir(), "tokens");
  writeFileSync(path, `# who  token\nalice ${ALICE}\nbob ${BOB}\n`, { mode: 0o600 });
  const tokens = await TokenFile.load(path, { checkIntervalMs: 0 });
  const auth = new Authenticator({ tokens, adminToken: ADMIN });
  const agent: TestAgent = await startAgent(
    { handler: async (_task, ctx) => void (await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve))), push: TEST_PUSH, quotas: options.quotas, dataDir: options.dataDir },
    { ...options.server, auth },
  );
  return { ...agent, tokensPath: path };
}

/** One JSON-RPC call as a caller. */
async function rpc(url: string, token: string | undefined, method: string, params: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { "content-type": "application/json", "a2a-version": "1.0" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? JSON.parse(text) : text };
}

/** One HTTP+JSON call as a caller. */
async function rest(url: string, token: string | undefined, verb: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { "a2a-version": "1.0" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${url}${path}`, { method: verb, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? JSON.parse(text) : text };
}

/** Alice's long-running task (it waits until canceled), with a push config to `webhook`. */
async function aliceTask(url: string, webhook: string): Promise<string> {
  const sent = await rpc(url, ALICE, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { id: "alice-hook", url: webhook, token: "alice-secret" } } });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  return sent.body.result.task.id;
}

test("an agent with --auth-tokens answers 401 with WWW-Authenticate to a missing or unknown token, on both bindings; the card and JWKS stay public", async () => {
  const agent = await startAuthAgent();
  try {
    for (const token of [undefined, "not-a-known-token-at-all"]) {
      const json = await rpc(agent.url, token, "ListTasks", {});
      assert.equal(json.status, 401);
      assert.match(json.headers.get("www-authenticate") ?? "", /^Bearer realm="a2a"/);
      const http = await rest(agent.url, token, "GET", "/tasks");
      assert.equal(http.status, 401);
      assert.match(http.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    assert.match((await rpc(agent.url, "not-a-known-token-at-all", "ListTasks", {})).headers.get("www-authenticate")!, /error="invalid_token"/);
    const card = await (await fetch(`${agent.url}/.well-known/agent-card.json`, { headers: { "a2a-version": "1.0" } })).json();
    assert.deepEqual(card.securitySchemes.bearer, { httpAuthSecurityScheme: { scheme: "Bearer", description: card.securitySchemes.bearer.httpAuthSecurityScheme.description } });
    assert.deepEqual(card.securityRequirements, [{ schemes: { bearer: { list: [] } } }]);
    assert.equal((await fetch(`${agent.url}/.well-known/jwks.json`)).status, 200);
    assert.equal((await rpc(agent.url, ALICE, "ListTasks", {})).status, 200);
  } finally {
    await agent.close();
  }
});

test("bob gets TaskNotFound for every method on alice's task, does not list it, and cannot take over her push config", async () => {
  const agent = await startAuthAgent();
  const aliceHook = await startTestReceiver();
  const bobHook = await startTestReceiver();
  try {
    const taskId = await aliceTask(agent.url, aliceHook.url);
    const ref = { taskId, id: "alice-hook" };
    const calls: Array<[string, unknown]> = [
      ["GetTask", { id: taskId }],
      ["CancelTask", { id: taskId }],
      ["SubscribeToTask", { id: taskId }],
      ["SendMessage", { message: userMessage({}, { taskId }) }],
      ["CreateTaskPushNotificationConfig", { ...ref, url: bobHook.url }],
      ["GetTaskPushNotificationConfig", ref],
      ["ListTaskPushNotificationConfigs", { taskId }],
      ["DeleteTaskPushNotificationConfig", ref],
      ["tasks/get", { id: taskId }],
      ["tasks/pushNotificationConfig/set", { taskId, pushNotificationConfig: { id: "alice-hook", url: bobHook.url } }],
    ];
    for (const [method, params] of calls) {
      const answer = await rpc(agent.url, BOB, method, params);
      assert.equal(answer.body.error?.code, -32001, `${method}: ${JSON.stringify(answer.body)}`);
      // The same answer as for a task that does not exist at all: nothing tells them apart.
      assert.equal(answer.body.error.message, `Task ${taskId} was not found`);
    }
    for (const [verb, path] of [["GET", `/tasks/${taskId}`], ["POST", `/tasks/${taskId}:cancel`], ["GET", `/tasks/${taskId}/pushNotificationConfigs`], ["DELETE", `/tasks/${taskId}/pushNotificationConfigs/alice-hook`]]) {
      assert.equal((await rest(agent.url, BOB, verb!, path!)).status, 404, `${verb} ${path}`);
    }
    assert.deepEqual((await rpc(agent.url, BOB, "ListTasks", {})).body.result.tasks, []);
    assert.equal((await rpc(agent.url, BOB, "ListTasks", {})).body.result.totalSize, 0);
    assert.deepEqual((await rpc(agent.url, ALICE, "ListTasks", {})).body.result.tasks.map((t: { id: string }) => t.id), [taskId]);
    // Alice's config is as she made it, and her task's events still go to her URL only.
    assert.equal((await rpc(agent.url, ALICE, "GetTaskPushNotificationConfig", ref)).body.result.url, aliceHook.url);
    assert.equal((await rpc(agent.url, ALICE, "CancelTask", { id: taskId })).body.result.status.state, "TASK_STATE_CANCELED");
    await waitFor(() => aliceHook.seen.some((seen) => seen.body.includes("TASK_STATE_CANCELED")), { what: "alice's canceled webhook" });
    assert.equal(bobHook.seen.length, 0);
    assert.ok(aliceHook.seen.every((seen) => seen.headers["x-a2a-notification-token"] === "alice-secret"));
  } finally {
    await agent.close();
    await aliceHook.close();
    await bobHook.close();
  }
});

test("tenants partition a caller's tasks: a task made in one tenant is not found from another", async () => {
  const agent = await startAuthAgent();
  try {
    const sent = await rpc(agent.url, ALICE, "SendMessage", { tenant: "team-a", message: userMessage({}), configuration: { returnImmediately: true } });
    const taskId = sent.body.result.task.id;
    assert.equal((await rpc(agent.url, ALICE, "GetTask", { id: taskId, tenant: "team-a" })).body.result.id, taskId);
    assert.equal((await rpc(agent.url, ALICE, "GetTask", { id: taskId, tenant: "team-b" })).body.error.code, -32001);
    assert.equal((await rpc(agent.url, ALICE, "GetTask", { id: taskId })).body.error.code, -32001);
    // A config names its task's tenant, or none.
    assert.equal((await rpc(agent.url, ALICE, "CreateTaskPushNotificationConfig", { tenant: "team-a", taskId, id: "x", url: "http://127.0.0.1:9/hook" })).body.result.id, "x");
    const inline = { id: "y", url: "http://127.0.0.1:9/hook", tenant: "team-b" };
    const wrong = await rpc(agent.url, ALICE, "SendMessage", { tenant: "team-a", message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: inline } });
    assert.equal(wrong.body.error.code, -32602);
    assert.match(wrong.body.error.message, /tenant/);
    await rpc(agent.url, ALICE, "CancelTask", { id: taskId, tenant: "team-a" });
  } finally {
    await agent.close();
  }
});

test("the 11th push config on a task is refused with -32050 (429 over HTTP+JSON), and replacing one by id still works", async () => {
  const agent = await startAuthAgent();
  try {
    const taskId = await aliceTask(agent.url, "http://127.0.0.1:9/hook");
    for (let i = 1; i < 10; i++) {
      assert.ok((await rpc(agent.url, ALICE, "CreateTaskPushNotificationConfig", { taskId, id: `c${i}`, url: "http://127.0.0.1:9/hook" })).body.result);
    }
    const eleventh = await rpc(agent.url, ALICE, "CreateTaskPushNotificationConfig", { taskId, id: "c10", url: "http://127.0.0.1:9/hook" });
    assert.equal(eleventh.body.error.code, -32050);
    assert.match(eleventh.body.error.message, /at most 10 push configs/);
    assert.equal((await rest(agent.url, ALICE, "POST", `/tasks/${taskId}/pushNotificationConfigs`, { id: "c11", url: "http://127.0.0.1:9/hook" })).status, 429);
    assert.equal((await rpc(agent.url, ALICE, "ListTaskPushNotificationConfigs", { taskId })).body.result.configs.length, 10);
    assert.ok((await rpc(agent.url, ALICE, "CreateTaskPushNotificationConfig", { taskId, id: "c1", url: "http://127.0.0.1:9/other" })).body.result);
    await rpc(agent.url, ALICE, "CancelTask", { id: taskId });
  } finally {
    await agent.close();
  }
});

test("a principal past --max-open-tasks is refused, nothing is journaled, and another principal is not affected", async () => {
  const agent = await startAuthAgent({ quotas: { maxOpenTasks: 3 } });
  try {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await rpc(agent.url, ALICE, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true } })).body.result.task.id);
    const size = agent.agent.store.size;
    const refused = await rpc(agent.url, ALICE, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true } });
    assert.equal(refused.body.error.code, -32050);
    assert.match(refused.body.error.message, /At most 3 unfinished tasks/);
    assert.equal(agent.agent.store.size, size);
    assert.ok((await rpc(agent.url, BOB, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true } })).body.result.task);
    // A finished task frees its slot.
    await rpc(agent.url, ALICE, "CancelTask", { id: ids[0] });
    assert.ok((await rpc(agent.url, ALICE, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true } })).body.result.task);
  } finally {
    await agent.close();
  }
});

test("a caller over its rate gets 429 with Retry-After; another caller still gets through", async () => {
  const agent = await startAuthAgent({ server: { rateLimit: { perSecond: 1, burst: 3 } } });
  try {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await rpc(agent.url, ALICE, "ListTasks", {})));
    assert.deepEqual(statuses.map((answer) => answer.status), [200, 200, 200, 429]);
    assert.ok(Number(statuses[3]!.headers.get("retry-after")) >= 1);
    assert.equal((await rest(agent.url, ALICE, "GET", "/tasks")).status, 429);
    assert.equal((await rpc(agent.url, BOB, "ListTasks", {})).status, 200);
  } finally {
    await agent.close();
  }
});

test("a token added to the file is accepted without a restart, and a removed one is refused", async () => {
  const agent = await startAuthAgent();
  try {
    assert.equal((await rpc(agent.url, "carol-token-0123456789abcdef", "ListTasks", {})).status, 401);
    writeFileSync(agent.tokensPath, `carol carol-token-0123456789abcdef\nbob ${BOB}\n`);
    await waitFor(async () => (await rpc(agent.url, "carol-token-0123456789abcdef", "ListTasks", {})).status === 200, { what: "carol's token" });
    assert.equal((await rpc(agent.url, ALICE, "ListTasks", {})).status, 401);
  } finally {
    await agent.close();
  }
});

test("tasks journaled before owners existed are reachable only with the admin token once authentication is on", async () => {
  const dataDir = tempDir();
  const open = await startAgent({ handler: () => {}, push: TEST_PUSH, dataDir });
  const { task } = await open.agent.sendMessage({ message: userMessage({}) });
  await open.close();
  const agent = await startAuthAgent({ dataDir });
  try {
    assert.equal((await rpc(agent.url, ALICE, "GetTask", { id: task.id })).body.error.code, -32001);
    assert.deepEqual((await rpc(agent.url, ALICE, "ListTasks", {})).body.result.tasks, []);
    const admin = await rpc(agent.url, ADMIN, "GetTask", { id: task.id });
    assert.equal(admin.body.result.id, task.id);
  } finally {
    await agent.close();
  }
});

test("streams: a principal past its open streams is refused with -32050, and a stream ends at its lifetime", async () => {
  const agent = await startAuthAgent({ quotas: { maxStreamsPerPrincipal: 1 }, server: { maxStreamLifetimeMs: 300 } });
  try {
    const taskId = await aliceTask(agent.url, "http://127.0.0.1:9/hook");
    const controller = new AbortController();
    const first = await fetch(`${agent.url}/`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ALICE}`, "a2a-version": "1.0" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SubscribeToTask", params: { id: taskId } }),
      signal: controller.signal,
    });
    assert.equal(first.headers.get("content-type"), "text/event-stream");
    const second = await rpc(agent.url, ALICE, "SubscribeToTask", { id: taskId });
    assert.equal(second.body.error.code, -32050);
    // The first stream ends by itself at its lifetime; its slot is free again.
    const text = await first.text();
    assert.match(text, /"task"/);
    await waitFor(async () => {
      const again = await fetch(`${agent.url}/tasks/${taskId}:subscribe`, { headers: { authorization: `Bearer ${ALICE}`, "a2a-version": "1.0" } });
      const ok = again.headers.get("content-type") === "text/event-stream";
      await again.body?.cancel();
      return ok;
    }, { what: "a free stream slot" });
    await rpc(agent.url, ALICE, "CancelTask", { id: taskId });
  } finally {
    await agent.close();
  }
});

test("with --oidc-issuer: JWTs from the issuer name the caller (sub); another sub gets TaskNotFound; an expired or foreign token is a 401", async () => {
  const issuer = await startTestIssuer();
  const auth = await openAuthenticator({ oidcIssuer: issuer.issuer, oidcAudience: "a2a-agent" });
  const agent = await startAgent({ handler: async (_task, ctx) => void (await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve))), push: TEST_PUSH }, { auth });
  const hook = await startTestReceiver();
  try {
    const alice = issuer.sign(validClaims(issuer.issuer, "a2a-agent", "alice"));
    const bob = issuer.sign(validClaims(issuer.issuer, "a2a-agent", "bob"), { alg: "ES256" });
    const sent = await rpc(agent.url, alice, "SendMessage", { message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { id: "h", url: hook.url } } });
    const taskId = sent.body.result.task.id;
    assert.equal((await rpc(agent.url, bob, "GetTask", { id: taskId })).body.error.code, -32001);
    assert.equal((await rpc(agent.url, bob, "CreateTaskPushNotificationConfig", { taskId, id: "h", url: "http://127.0.0.1:9/bob" })).body.error.code, -32001);
    assert.equal((await rest(agent.url, bob, "GET", `/tasks/${taskId}`)).status, 404);
    assert.deepEqual((await rpc(agent.url, bob, "ListTasks", {})).body.result.tasks, []);
    assert.equal((await rpc(agent.url, alice, "GetTask", { id: taskId })).body.result.id, taskId);
    const expired = issuer.sign({ ...validClaims(issuer.issuer, "a2a-agent", "alice"), exp: Math.floor(Date.now() / 1000) - 3600 });
    const otherAudience = issuer.sign(validClaims(issuer.issuer, "another-agent", "alice"));
    for (const token of [expired, otherAudience, issuer.sign(validClaims(issuer.issuer, "a2a-agent", "alice"), { key: "unknown" })]) {
      const answer = await rpc(agent.url, token, "GetTask", { id: taskId });
      assert.equal(answer.status, 401);
      assert.match(answer.headers.get("www-authenticate")!, /invalid_token/);
    }
    const card = await (await fetch(`${agent.url}/.well-known/agent-card.json`, { headers: { "a2a-version": "1.0" } })).json();
    assert.deepEqual(card.securitySchemes.oidc, { openIdConnectSecurityScheme: { openIdConnectUrl: `${issuer.issuer}/.well-known/openid-configuration` } });
    await rpc(agent.url, alice, "CancelTask", { id: taskId });
    await waitFor(() => hook.seen.some((seen) => seen.body.includes("TASK_STATE_CANCELED")), { what: "alice's webhook" });
  } finally {
    await agent.close();
    await hook.close();
    await issuer.close();
  }
});

test("the agent script refuses --host 0.0.0.0 without authentication, with a message, and starts with --no-auth", async () => {
  const refused = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts/long_running_agent.ts"), "--host", "0.0.0.0", "--port", "0", "--data-dir", tempDir(), "--quiet"], { encoding: "utf8", timeout: 20_000, env: { ...process.env, A2A_AUTH_TOKENS: "", A2A_NO_AUTH: "" } });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /Refusing to listen on 0\.0\.0\.0 without authentication/);
  const started = await startScript("scripts/long_running_agent.ts", ["--host", "0.0.0.0", "--port", "0", "--data-dir", tempDir(), "--quiet", "--no-auth"]);
  try {
    assert.match(started.output(), /WARNING: --no-auth/);
  } finally {
    await started.kill("SIGTERM");
  }
});

test("the agent script with --auth-tokens: a caller's token works, and SIGHUP reads a changed file at once", async () => {
  const path = join(tempDir(), "tokens");
  writeFileSync(path, `alice ${ALICE}\n`, { mode: 0o600 });
  const agent = await startScript("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", tempDir(), "--quiet", "--auth-tokens", path]);
  try {
    const url = agent.url.replace(/\/$/, "");
    assert.equal((await rpc(url, ALICE, "ListTasks", {})).status, 200);
    assert.equal((await rpc(url, undefined, "ListTasks", {})).status, 401);
    writeFileSync(path, `bob ${BOB}\n`);
    agent.child.kill("SIGHUP");
    await waitFor(() => agent.output().includes("SIGHUP: token file read again"), { what: "the reload" });
    assert.equal((await rpc(url, BOB, "ListTasks", {})).status, 200);
    assert.equal((await rpc(url, ALICE, "ListTasks", {})).status, 401);
  } finally {
    await agent.kill("SIGTERM");
  }
});
