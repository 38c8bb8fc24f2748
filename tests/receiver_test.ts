import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, symlinkSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { test } from "node:test";
import { NOTIFICATION_TOKEN_FILE, WebhookReceiver } from "../lib/receiver.ts";
import type { ReceiverOptions } from "../lib/receiver.ts";
import { parseSecrets, signJwt, webhookJwtClaims } from "../lib/signing.ts";
import { WebhookSender } from "../lib/webhook_sender.ts";
import { TEST_PUSH, startAgent, startScript, tempDir, userMessage, waitFor } from "./helpers.ts";
import type { TestAgent } from "./helpers.ts";

const SECRET = TEST_PUSH.secrets;
/** The notification token the receivers here expect, as their owner gave it to the agent. */
const TOKEN = "receiver-test-token";

/** A receiver served on a free port, its JWT audience set to its own webhook URL. */
async function startReceiver(agentUrl: string, options: Partial<ReceiverOptions> = {}) {
  const dataDir = options.dataDir ?? tempDir();
  const receiver = await WebhookReceiver.open({ agentUrl, audience: ["pending"], secrets: [SECRET], token: TOKEN, log: () => {}, ...options, dataDir });
  const server = receiver.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/webhook`;
  if (!options.audience) receiver.setAudience([url]);
  return {
    receiver,
    url,
    dataDir,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await receiver.close();
    },
  };
}

/** A genuine webhook as the agent would sign it for the owner's push config, to send as is or tampered. */
function genuine(agent: TestAgent, url: string, body: string, id = `msg_${crypto.randomUUID().replaceAll("-", "")}`) {
  const sender = new WebhookSender({ secrets: parseSecrets(SECRET), keys: () => agent.agent.signingKeys, issuer: () => agent.url });
  return { headers: sender.headers({ id, taskId: "t-forged", url, body, token: TOKEN }), body };
}

const post = (url: string, request: { headers: Record<string, string>; body: string }) =>
  fetch(url, { method: "POST", headers: request.headers, body: request.body }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

const statusBody = (state: string) => JSON.stringify({ statusUpdate: { taskId: "t-forged", contextId: "c", status: { state, timestamp: new Date().toISOString() } } });

test("the receiver accepts the agent's signed webhooks, records them, and fetches the finished task", async () => {
  const agent = await startAgent({ handler: async (_t, ctx) => void (await ctx.addArtifact({ artifactId: "r", parts: [{ text: "the report" }] })), push: TEST_PUSH });
  const r = await startReceiver(agent.url);
  try {
    const { task } = await agent.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: r.url, token: TOKEN } } });
    const result = await waitFor(async () => {
      const response = await fetch(r.url.replace("/webhook", `/tasks/${task.id}`));
      return response.ok && ((await response.json()) as { artifacts?: Array<{ parts: Array<{ text?: string }> }> });
    }, { what: "fetched result" });
    assert.equal(result.artifacts?.[0]?.parts[0]?.text, "the report");
    const { events } = (await (await fetch(r.url.replace("/webhook", "/events"))).json()) as { events: Array<Record<string, unknown>> };
    assert.deepEqual(events.map((e) => e.kind), ["task", "statusUpdate", "artifactUpdate", "statusUpdate"]);
    assert.equal(events.at(-1)!.state, "TASK_STATE_COMPLETED");
    assert.ok(events.every((e) => typeof e.webhookId === "string" && typeof e.receivedAt === "string" && e.duplicates === 0 && e.taskId === task.id));
  } finally {
    await r.close();
    await agent.close();
  }
});

test("each refusal reason comes from a crafted webhook, with 400 or 401 and the reason; none is processed", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const hmacAndJwt = await startReceiver(agent.url);
  const jwtOnly = await startReceiver(agent.url, { secrets: [] });
  const tokenOnly = await startReceiver(agent.url, { secrets: [], jwt: false, token: "expected-token" });
  try {
    const url = hmacAndJwt.url;
    const body = statusBody("TASK_STATE_COMPLETED");
    const cases: Array<[string, number, string, { headers: Record<string, string>; body: string }, string?]> = [];
    const g = () => genuine(agent, url, body);

    const missing = g();
    delete missing.headers["webhook-id"];
    cases.push(["missing webhook-id", 400, "MISSING_HEADERS", missing]);
    const malformed = g();
    malformed.headers["webhook-timestamp"] = "soon";
    cases.push(["non-numeric timestamp", 400, "MALFORMED", malformed]);
    const badSignature = g();
    badSignature.headers["webhook-signature"] = `v1,${Buffer.alloc(32, 7).toString("base64")}`;
    cases.push(["bad signature", 401, "BAD_SIGNATURE", badSignature]);
    const tampered = g();
    tampered.body = body.replace("COMPLETED", "FAILED");
    cases.push(["tampered body", 401, "BAD_SIGNATURE", tampered]);
    const stale = g();
    stale.headers["webhook-timestamp"] = String(Math.floor(Date.now() / 1000) - 600);
    cases.push(["replayed with an old timestamp", 401, "STALE_TIMESTAMP", stale]);

    // JWT-only receiver: the body hash, audience, expiry, key id and jti are what catch these.
    const jwtUrl = jwtOnly.url;
    const jwtTampered = genuine(agent, jwtUrl, body);
    jwtTampered.body = body.replace("COMPLETED", "FAILED");
    cases.push(["tampered body (JWT)", 401, "BODY_HASH_MISMATCH", jwtTampered, jwtUrl]);
    cases.push(["JWT for another receiver", 401, "WRONG_AUDIENCE", genuine(agent, "http://127.0.0.1:1/other", body), jwtUrl]);
    const keys = agent.agent.signingKeys!;
    const withClaims = (claims: Record<string, unknown>, key = keys.current) => {
      const request = genuine(agent, jwtUrl, body);
      const base = webhookJwtClaims({ issuer: agent.url, audience: jwtUrl, webhookId: request.headers["webhook-id"]!, taskId: "t-forged", body, now: Date.now() });
      request.headers.authorization = `Bearer ${signJwt({ ...base, ...claims }, key)}`;
      return request;
    };
    cases.push(["expired JWT", 401, "EXPIRED", withClaims({ exp: Math.floor(Date.now() / 1000) - 600 }), jwtUrl]);
    cases.push(["JWT for another webhook-id", 401, "ID_MISMATCH", withClaims({ jti: "msg_other" }), jwtUrl]);
    const stranger = { ...keys.current, kid: "not-a-key-of-the-agent" };
    cases.push(["JWT from an unknown key", 401, "UNKNOWN_KEY", withClaims({}, stranger), jwtUrl]);

    // Token-only receiver.
    const noToken = genuine(agent, tokenOnly.url, body);
    cases.push(["missing notification token", 401, "BAD_TOKEN", noToken, tokenOnly.url]);

    for (const [name, status, reason, request, target] of cases) {
      const response = await post(target ?? url, request);
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.reason, reason, name);
    }
    for (const r of [hmacAndJwt, jwtOnly, tokenOnly]) assert.equal(r.receiver.events().length, 0, "refused webhooks are never processed");

    const withToken = genuine(agent, tokenOnly.url, body);
    withToken.headers["x-a2a-notification-token"] = "expected-token";
    assert.equal((await post(tokenOnly.url, withToken)).status, 200);

    const tooBig = genuine(agent, url, JSON.stringify({ task: { id: "t", pad: "x".repeat(2 * 1024 * 1024) } }));
    assert.equal((await post(url, tooBig)).status, 413);
  } finally {
    await hmacAndJwt.close();
    await jwtOnly.close();
    await tokenOnly.close();
    await agent.close();
  }
});

test("a duplicate delivery is answered 2xx and not processed twice, also after the receiver restarts", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const first = await startReceiver(agent.url);
  const request = genuine(agent, first.url, statusBody("TASK_STATE_WORKING"));
  try {
    assert.deepEqual((await post(first.url, request)).body, { accepted: true });
    assert.deepEqual((await post(first.url, request)).body, { duplicate: true });
    assert.equal(first.receiver.events().length, 1);
    assert.equal(first.receiver.events()[0]!.duplicates, 1);
  } finally {
    await first.close();
  }
  const second = await startReceiver(agent.url, { dataDir: first.dataDir, audience: [first.url] });
  try {
    // A new server port, but the same journal: the agent's redelivery to the old URL is simulated here.
    const again = await post(second.url, request);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { duplicate: true });
    assert.equal(second.receiver.events().length, 1);
    assert.equal(second.receiver.events()[0]!.duplicates, 2);
  } finally {
    await second.close();
    await agent.close();
  }
});

test("a flood of redeliveries keeps the receiver's journal bounded, and events past the retention are forgotten", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  let now = Date.now();
  const options = { compactionMinRecords: 20, now: () => now };
  const first = await startReceiver(agent.url, options);
  const requests = Array.from({ length: 3 }, () => genuine(agent, first.url, statusBody("TASK_STATE_WORKING")));
  try {
    for (const request of requests) assert.deepEqual((await post(first.url, request)).body, { accepted: true });
    for (let i = 0; i < 100; i++) assert.deepEqual((await post(first.url, requests[i % 3]!)).body, { duplicate: true });
    await waitFor(() => first.receiver.events().every((e) => e.duplicates > 30), { what: "the duplicates to be counted" });
  } finally {
    await first.close();
  }
  const second = await startReceiver(agent.url, { ...options, dataDir: first.dataDir, audience: [first.url] });
  try {
    assert.deepEqual(second.receiver.events().map((e) => e.duplicates).sort(), [33, 33, 34], "counts survive compaction and restart");
    const lines = readFileSync(`${first.dataDir}/receiver.jsonl`, "utf8").split("\n").length - 1;
    assert.ok(lines <= 3 + 20 + 4, `${lines} journal lines after 103 deliveries of 3 events`);
    // Eight days on, a compaction forgets the three events.
    now += 8 * 24 * 3600 * 1000;
    const body = statusBody("TASK_STATE_WORKING");
    const later = new WebhookSender({ secrets: parseSecrets(SECRET), keys: () => agent.agent.signingKeys, issuer: () => agent.url, now: () => now });
    const fresh = { headers: later.headers({ id: "msg_eight_days_on", taskId: "t-forged", url: first.url, body, token: TOKEN }), body };
    assert.deepEqual((await post(second.url, fresh)).body, { accepted: true });
    for (let i = 0; i < 24; i++) await post(second.url, fresh); // 24 duplicates: past 20 records.
    await waitFor(() => second.receiver.events().length === 1, { what: "old events to be forgotten" });
    assert.equal(second.receiver.events()[0]!.webhookId, fresh.headers["webhook-id"]);
  } finally {
    await second.close();
    await agent.close();
  }
});

test("handle() accepts a redelivery that arrives while the first copy is being journaled only once", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const r = await startReceiver(agent.url);
  const request = genuine(agent, r.url, statusBody("TASK_STATE_WORKING"));
  try {
    // Both copies wait for the same JWKS fetch, then race to journal the event (found by scripts/chaos.ts).
    const answers = await Promise.all([post(r.url, request), post(r.url, request), post(r.url, request)]);
    assert.deepEqual(answers.map((a) => a.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [{ accepted: true }, { duplicate: true }, { duplicate: true }]);
    assert.equal(r.receiver.events().length, 1);
    assert.equal(r.receiver.events()[0]!.duplicates, 2);
  } finally {
    await r.close();
    await agent.close();
  }
});

test("WebhookReceiver.open() refuses a receiver with no check at all", async () => {
  await assert.rejects(WebhookReceiver.open({ dataDir: tempDir(), agentUrl: "http://127.0.0.1:1", jwt: false, proof: false }), RangeError);
  await assert.rejects(WebhookReceiver.open({ dataDir: tempDir(), agentUrl: "http://127.0.0.1:1" }), /audience/);
});

test("a v0.3 webhook body (the whole Task, lowercase state) is recorded with the v1.0 state and its result fetched", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const r = await startReceiver(agent.url);
  try {
    const { task } = await agent.client.sendMessage({ message: userMessage({}) });
    const body = JSON.stringify({ kind: "task", id: task.id, contextId: task.contextId, status: { state: "completed", timestamp: new Date().toISOString() } });
    assert.equal((await post(r.url, genuine(agent, r.url, body))).status, 200);
    assert.equal(r.receiver.events()[0]!.state, "TASK_STATE_COMPLETED");
    await waitFor(() => r.receiver.result(task.id), { what: "the fetched result" });
  } finally {
    await r.close();
    await agent.close();
  }
});

/** What an agent built on the official SDKs posts: the body, and only the token or credentials. */
function sdkStylePost(url: string, body: unknown, headers: Record<string, string>) {
  return post(url, { headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

test("the receiver takes webhooks from any A2A agent: token only, Authorization only, or both; no webhook-id needed", async () => {
  const agent = await startAgent({ handler: () => {} });
  const { task } = await agent.client.sendMessage({ message: userMessage({}) });
  const update = (state: string) => ({ statusUpdate: { taskId: task.id, contextId: task.contextId, status: { state, timestamp: new Date().toISOString() } } });
  const setups: Array<[string, Partial<ReceiverOptions>, Record<string, string>, Record<string, string>]> = [
    ["token only", { token: "T" }, { "x-a2a-notification-token": "T" }, { "x-a2a-notification-token": "wrong" }],
    ["Authorization only", { token: undefined, authorization: "Bearer X" }, { authorization: "Bearer X" }, { authorization: "Bearer Y" }],
    ["both", { token: "T", authorization: "Bearer X" }, { "x-a2a-notification-token": "T", authorization: "bearer X" }, { authorization: "Bearer X" }],
  ];
  try {
    for (const [name, options, good, bad] of setups) {
      const r = await startReceiver(agent.url, { secrets: [], jwt: false, ...options });
      try {
        const working = await sdkStylePost(r.url, update("TASK_STATE_WORKING"), good);
        assert.equal(working.status, 200, `${name}: ${JSON.stringify(working.body)}`);
        assert.deepEqual(working.body, { accepted: true }, name);
        const refused = await sdkStylePost(r.url, update("TASK_STATE_WORKING"), bad);
        assert.deepEqual([refused.status, refused.body.reason], [401, "BAD_TOKEN"], name);
        assert.deepEqual([(await sdkStylePost(r.url, update("TASK_STATE_WORKING"), {})).status], [401], `${name}: nothing sent`);
        // A sender that does send webhook-id must send a fresh timestamp with it, as now.
        const stale = await sdkStylePost(r.url, update("TASK_STATE_WORKING"), { ...good, "webhook-id": "msg_1", "webhook-timestamp": "1000" });
        assert.deepEqual([stale.status, stale.body.reason], [401, "STALE_TIMESTAMP"], name);
        const events = r.receiver.events();
        assert.equal(events.length, 1, name);
        assert.match(events[0]!.webhookId, /^sha256_[A-Za-z0-9_-]{43}$/, `${name}: the id is derived from the body`);
        assert.equal(events[0]!.state, "TASK_STATE_WORKING", name);
      } finally {
        await r.close();
      }
    }
  } finally {
    await agent.close();
  }
});

test("without webhook-id, a re-sent identical POST is a duplicate, across a receiver restart; the final task is fetched with GetTask", async () => {
  const agent = await startAgent({ handler: async (_t, ctx) => void (await ctx.addArtifact({ artifactId: "r", parts: [{ text: "the report" }] })) });
  const { task } = await agent.client.sendMessage({ message: userMessage({}) });
  const dataDir = tempDir();
  const headers = { "x-a2a-notification-token": "T" };
  // SDK senders post the v1.0 StreamResponse, or the bare Task, or v0.3 objects told apart by `kind`.
  const bodies = [
    { task: { id: task.id, contextId: task.contextId, status: { state: "TASK_STATE_SUBMITTED", timestamp: "2026-01-01T00:00:00.000Z" } } },
    { kind: "status-update", taskId: task.id, contextId: task.contextId, status: { state: "working", timestamp: "2026-01-01T00:00:01.000Z" }, final: false },
    { kind: "artifact-update", taskId: task.id, contextId: task.contextId, artifact: { artifactId: "r", parts: [{ kind: "text", text: "the report" }] } },
    { id: task.id, contextId: task.contextId, status: { state: "TASK_STATE_COMPLETED", timestamp: "2026-01-01T00:00:02.000Z" } },
  ];
  let r = await startReceiver(agent.url, { secrets: [], jwt: false, token: "T", dataDir });
  try {
    for (const body of bodies) assert.deepEqual((await sdkStylePost(r.url, body, headers)).body, { accepted: true });
    assert.deepEqual((await sdkStylePost(r.url, bodies[1], headers)).body, { duplicate: true });
    assert.deepEqual(r.receiver.events().map((e) => [e.kind, e.state]), [
      ["task", "TASK_STATE_SUBMITTED"], ["statusUpdate", "TASK_STATE_WORKING"], ["artifactUpdate", undefined], ["task", "TASK_STATE_COMPLETED"],
    ]);
    const fetched = await waitFor(() => r.receiver.result(task.id), { what: "the fetched task" });
    assert.equal(fetched.artifacts?.[0]?.parts[0]?.text, "the report");
    await r.close();
    r = await startReceiver(agent.url, { secrets: [], jwt: false, token: "T", dataDir });
    for (const body of bodies) assert.deepEqual((await sdkStylePost(r.url, body, headers)).body, { duplicate: true });
    assert.equal(r.receiver.events().length, 4);
    assert.deepEqual(r.receiver.events().map((e) => e.duplicates), [1, 2, 1, 1]);
    // A body that is no A2A object is refused, not stored.
    const junk = await sdkStylePost(r.url, { kind: "constructor", id: 1 }, headers);
    assert.deepEqual([junk.status, junk.body.reason], [400, "MALFORMED"]);
  } finally {
    await r.close();
    await agent.close();
  }
});

test("WebhookReceiver.open() refuses authorization together with the agent's JWT (both use the Authorization header)", async () => {
  await assert.rejects(WebhookReceiver.open({ dataDir: tempDir(), agentUrl: "http://127.0.0.1:1", audience: ["x"], authorization: "Bearer X" }), RangeError);
  await assert.rejects(WebhookReceiver.open({ dataDir: tempDir(), agentUrl: "http://127.0.0.1:1", jwt: false, proof: false }), /at least one check/);
});

/** A fetch that passes every request on and keeps, per request, the URL, the JSON-RPC method and params, and the Authorization sent. */
function recordingFetch() {
  const seen: Array<{ url: string; method?: string; id?: string; authorization: string | null }> = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const rpc = typeof init?.body === "string" ? (JSON.parse(init.body) as { method?: string; params?: { id?: string } }) : undefined;
    seen.push({ url: String(input), method: rpc?.method, id: rpc?.params?.id, authorization: new Headers(init?.headers).get("authorization") });
    return await fetch(input, init);
  }) as typeof fetch;
  return { fetchFn, seen };
}

test("the confused deputy fails: a stranger's push config to the receiver's URL gets every webhook refused, the owner's (with the receiver's token) all accepted", async () => {
  const agent = await startAgent({ handler: async (_t, ctx) => void (await ctx.addArtifact({ artifactId: "r", parts: [{ text: "the report" }] })), push: TEST_PUSH });
  const { fetchFn, seen } = recordingFetch();
  const logs: string[] = [];
  // The default receiver: no token configured, so it makes its own.
  const r = await startReceiver(agent.url, { token: undefined, fetch: fetchFn, log: (line) => logs.push(line) });
  try {
    const token = r.receiver.notificationToken!;
    assert.match(token, /^[0-9a-f]{48}$/);
    assert.equal(r.receiver.notificationTokenFile, `${r.dataDir}/${NOTIFICATION_TOKEN_FILE}`);
    if (process.platform !== "win32") assert.equal(statSync(r.receiver.notificationTokenFile!).mode & 0o777, 0o600);

    // (b) A stranger's own task, its push config naming the victim's receiver: the agent signs
    // every webhook for that URL (aud and iss are right), but the config has no token, or a wrong one.
    const strangers: string[] = [];
    for (const config of [{ url: r.url }, { url: r.url, token: "guessed" }]) {
      const { task } = await agent.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: config } });
      strangers.push(task.id);
    }
    const deliveries = (state: "pending" | "dead", taskIds: string[]) => agent.agent.outbox!.deliveries(state).filter((d) => taskIds.includes(d.taskId));
    const dead = await waitFor(() => deliveries("pending", strangers).length === 0 && deliveries("dead", strangers), { what: "the agent to give up on the stranger's webhooks" });
    assert.ok(dead.length >= 2 * 4, `every event of both tasks tried: ${dead.length}`);
    assert.ok(dead.every((d) => d.lastError === "HTTP 401" && d.attempts === TEST_PUSH.schedule.length), JSON.stringify(dead));
    const refusals = logs.filter((line) => line.startsWith("refused"));
    assert.equal(refusals.length, dead.length * TEST_PUSH.schedule.length, "each attempt refused");
    assert.ok(refusals.every((line) => line.startsWith("refused (BAD_TOKEN)") && !line.includes(token)), refusals[0]);
    assert.deepEqual(r.receiver.events(), [], "nothing stored");
    assert.deepEqual(seen.filter((s) => s.method === "GetTask"), [], "no GetTask of the stranger's task");

    // (a) The owner's task, its push config carrying the receiver's token: every event accepted.
    const { task } = await agent.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: r.url, token } } });
    const result = await waitFor(() => r.receiver.result(task.id), { what: "the owner's result" });
    assert.equal(result.artifacts?.[0]?.parts[0]?.text, "the report");
    assert.deepEqual(r.receiver.events().map((e) => [e.taskId, e.kind]), [[task.id, "task"], [task.id, "statusUpdate"], [task.id, "artifactUpdate"], [task.id, "statusUpdate"]]);
    assert.deepEqual(deliveries("dead", [task.id]), []);
    assert.deepEqual(seen.filter((s) => s.method === "GetTask").map((s) => s.id), [task.id]);
  } finally {
    await r.close();
    await agent.close();
  }
});

test("a receiver with proof off accepts the stranger's JWT-signed webhooks, and warns at start that it does", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const logs: string[] = [];
  const r = await startReceiver(agent.url, { token: undefined, proof: false, log: (line) => logs.push(line) });
  try {
    assert.match(logs[0] ?? "", /^WARNING: proof is off/);
    assert.equal(r.receiver.notificationToken, undefined);
    assert.equal(existsSync(`${r.dataDir}/${NOTIFICATION_TOKEN_FILE}`), false, "no token made");
    const { task } = await agent.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: r.url } } });
    await waitFor(() => r.receiver.events().some((e) => e.taskId === task.id && e.state === "TASK_STATE_COMPLETED"), { what: "the stranger's completion, accepted" });
  } finally {
    await r.close();
    await agent.close();
  }
});

test("GET /events and /tasks/<id> need the read token when one is set: 401 without it or with a wrong one, 200 with it", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const r = await startReceiver(agent.url, { readToken: "r3ad" });
  const base = r.url.replace("/webhook", "");
  try {
    assert.equal((await post(r.url, genuine(agent, r.url, statusBody("TASK_STATE_WORKING")))).status, 200, "webhooks need no read token");
    for (const path of ["/events", "/tasks/t-forged"]) {
      const attempts: Array<Record<string, string>> = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${TOKEN}` }];
      for (const headers of attempts) {
        const response = await fetch(`${base}${path}`, { headers });
        const body = (await response.json()) as { error: string };
        assert.equal(response.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="a2a-push receiver", Basic realm="a2a-push receiver", charset="UTF-8"');
        assert.match(body.error, /read token/);
      }
    }
    const events = await fetch(`${base}/events`, { headers: { authorization: "Bearer r3ad" } });
    assert.equal(events.status, 200);
    assert.equal(((await events.json()) as { events: unknown[] }).events.length, 1);
    assert.equal((await fetch(`${base}/tasks/t-forged`, { headers: { authorization: "Bearer r3ad" } })).status, 404, "past the guard: no result yet");
  } finally {
    await r.close();
    await agent.close();
  }
});

test("without a read token, the receiver's reads answer only loopback peers: another address gets 403", async () => {
  const r = await startReceiver("http://127.0.0.1:1", { jwt: false });
  try {
    const answered: Array<{ status: number; body: string }> = [];
    for (const remoteAddress of ["192.0.2.7", "127.0.0.1"]) {
      const req = { url: "/events", method: "GET", headers: {}, socket: { remoteAddress } } as unknown as IncomingMessage;
      const res = {
        headersSent: false,
        setHeader() {},
        writeHead(status: number) { answered.push({ status, body: "" }); },
        end(body: string) { answered.at(-1)!.body = body; },
      } as unknown as ServerResponse;
      await r.receiver.handle(req, res);
    }
    assert.equal(answered[0]!.status, 403);
    assert.match(answered[0]!.body, /loopback/);
    assert.deepEqual(answered[1], { status: 200, body: '{"events":[]}' });
  } finally {
    await r.close();
  }
});

test("the receiver sends its agent token on GetTask, and not on the public JWKS fetch", async () => {
  const agent = await startAgent({ handler: () => {}, push: TEST_PUSH });
  const { fetchFn, seen } = recordingFetch();
  const r = await startReceiver(agent.url, { agentToken: "agent-secret", fetch: fetchFn });
  try {
    const { task } = await agent.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: r.url, token: TOKEN } } });
    await waitFor(() => r.receiver.result(task.id), { what: "the fetched result" });
    const getTask = seen.find((s) => s.method === "GetTask");
    assert.equal(getTask?.authorization, "Bearer agent-secret");
    const jwks = seen.filter((s) => s.url.endsWith("/.well-known/jwks.json"));
    assert.ok(jwks.length > 0);
    assert.ok(jwks.every((s) => s.authorization === null), "the JWKS is fetched without the token");
  } finally {
    await r.close();
    await agent.close();
  }
});

test("webhook_receiver.ts makes its notification token at first start, keeps it 0600 across restarts, and prints where it is, never the token", async () => {
  const dataDir = tempDir();
  const args = ["--port", "0", "--data-dir", dataDir, "--agent-url", "http://127.0.0.1:1"];
  const file = `${dataDir}/${NOTIFICATION_TOKEN_FILE}`;
  const first = await startScript("scripts/webhook_receiver.ts", args, { env: { A2A_NOTIFICATION_TOKEN: "", A2A_RECEIVER_READ_TOKEN: "" } });
  await first.kill("SIGTERM");
  const token = readFileSync(file, "utf8").trim();
  if (process.platform !== "win32") assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.match(first.output(), new RegExp(`notification token: in ${file.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  assert.match(first.output(), /reads \(GET \/, \/events, \/tasks\/<id>\): from loopback only/);
  assert.doesNotMatch(first.output(), new RegExp(token));
  const second = await startScript("scripts/webhook_receiver.ts", [...args, "--read-token", "r3ad"], { env: { A2A_NOTIFICATION_TOKEN: "" } });
  await second.kill("SIGTERM");
  assert.equal(readFileSync(file, "utf8").trim(), token, "the same token after a restart");
  assert.doesNotMatch(second.output(), new RegExp(token));
  assert.match(second.output(), /with Authorization: Bearer <read token>/);
  const optedOut = await startScript("scripts/webhook_receiver.ts", ["--port", "0", "--data-dir", tempDir(), "--agent-url", "http://127.0.0.1:1", "--no-proof"], { env: { A2A_NOTIFICATION_TOKEN: "" } });
  await optedOut.kill("SIGTERM");
  assert.match(optedOut.output(), /WARNING: proof is off/);
  assert.doesNotMatch(optedOut.output(), /notification token: in/);
});

test("WebhookReceiver.open() refuses a notification token file that is a symbolic link, and leaves the data directory unlocked", { skip: process.platform === "win32" }, async () => {
  const dataDir = tempDir();
  symlinkSync(`${tempDir()}/elsewhere`, `${dataDir}/${NOTIFICATION_TOKEN_FILE}`);
  const options = { dataDir, agentUrl: "http://127.0.0.1:1", audience: ["http://127.0.0.1:9/webhook"], log: () => {} };
  await assert.rejects(WebhookReceiver.open(options), { name: "JournalError", code: "UNSAFE" });
  const given = await WebhookReceiver.open({ ...options, token: "T" });
  assert.equal(given.notificationTokenFile, undefined, "a configured token needs no file");
  await given.close();
});
