import assert from "node:assert/strict";
import { createPublicKey, createHash, verify } from "node:crypto";
import { test } from "node:test";
import type { TaskContext } from "../lib/runner.ts";
import type { Task, TaskArtifactUpdateEvent, TaskStatusUpdateEvent } from "../lib/types.ts";
import { verifyStandardWebhook } from "../lib/verify.ts";
import { TEST_PUSH, rawPost, startAgent, startTestReceiver, userMessage, waitFor } from "./helpers.ts";

/** A webhook body, read loosely: exactly one member is set. */
type Event = { task?: Task; statusUpdate?: TaskStatusUpdateEvent; artifactUpdate?: TaskArtifactUpdateEvent };
const parse = (body: string) => JSON.parse(body) as Event;
const describe = (event: Event) => (event.task ? "task" : event.statusUpdate ? event.statusUpdate.status.state : event.artifactUpdate ? "artifact" : "message");

/** A handler with a few steps, so each task owes several notifications. */
async function steps(_task: Task, ctx: TaskContext) {
  for (let i = 1; i <= 3; i++) await ctx.working(`step ${i}/3`);
  await ctx.addArtifact({ artifactId: "out", parts: [{ text: "report" }] });
}

test("a webhook answered 500, 500, 200 arrives three times with the same webhook-id, then stops", async () => {
  const receiver = await startTestReceiver((seen) => ({ status: seen.attempt < 3 ? 500 : 200 }));
  const t = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.pendingCount === 0 && t.agent.outbox!.deliveredCount === 3, { what: "three events delivered" });
    const ids = [...new Set(receiver.seen.map((s) => s.headers["webhook-id"]))];
    assert.equal(ids.length, 3);
    for (const id of ids) assert.equal(receiver.seen.filter((s) => s.headers["webhook-id"] === id).length, 3, `${id} tried three times`);
    const accepted = receiver.seen.filter((s) => s.attempt === 3).map((s) => describe(parse(s.body)));
    assert.deepEqual(accepted, ["task", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]);
    assert.equal(parse(receiver.seen[0]!.body).task?.id, task.id);
    assert.equal(receiver.seen[0]!.headers["content-type"], "application/a2a+json");
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("a receiver that fails the first attempt of every webhook still gets each task's events in order", async () => {
  const receiver = await startTestReceiver((seen) => ({ status: seen.attempt === 1 ? 503 : 204 }));
  const t = await startAgent({ handler: steps, push: TEST_PUSH });
  try {
    const tasks = await Promise.all(Array.from({ length: 4 }, () => t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { url: receiver.url } } })));
    await waitFor(() => receiver.seen.filter((s) => s.attempt === 2 && parse(s.body).statusUpdate?.status.state === "TASK_STATE_COMPLETED").length === 4, { what: "four completions" });
    for (const { task } of tasks) {
      const accepted = receiver.seen.filter((s) => s.attempt === 2).map((s) => parse(s.body)).filter((e) => (e.task?.id ?? e.statusUpdate?.taskId ?? e.artifactUpdate?.taskId) === task.id);
      const kinds = accepted.map(describe);
      assert.equal(kinds[0], "task", kinds.join());
      assert.equal(kinds.at(-1), "TASK_STATE_COMPLETED", kinds.join());
      assert.equal(kinds.at(-2), "artifact", kinds.join());
      const stamps = accepted.filter((e) => e.statusUpdate).map((e) => e.statusUpdate!.status.timestamp);
      assert.deepEqual(stamps, [...stamps].sort(), "status updates in order");
    }
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("Retry-After: 2 on a 429 is waited for before the next attempt", async () => {
  const receiver = await startTestReceiver((seen) => (seen.attempt === 1 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 }));
  const t = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    const first = await waitFor(() => receiver.seen[0], { what: "first attempt" });
    const second = await waitFor(() => receiver.seen.find((s) => s.headers["webhook-id"] === first.headers["webhook-id"] && s.attempt === 2), { what: "second attempt" });
    assert.ok(second.at - first.at >= 1900, `waited ${second.at - first.at} ms`);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("410 Gone ends the config and its pending deliveries", async () => {
  const receiver = await startTestReceiver(() => ({ status: 410 }));
  const t = await startAgent({ handler: steps, push: TEST_PUSH });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { id: "c1", url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.pendingCount === 0, { what: "queue dropped" });
    assert.equal(receiver.seen.length, 1);
    await assert.rejects(t.client.getPushConfig({ taskId: task.id, id: "c1" }), { code: -32001 });
    assert.deepEqual((await t.client.listPushConfigs({ taskId: task.id })).configs, []);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("a 302 is not followed and counts as a failure", async () => {
  const receiver = await startTestReceiver((seen) => (seen.attempt === 1 ? { status: 302, headers: { location: "/elsewhere" } } : { status: 200 }));
  const t = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.deliveredCount === 3, { what: "deliveries" });
    assert.ok(receiver.seen.every((s) => s.path === "/webhook"), "never followed the redirect");
    assert.equal(receiver.seen.length, 6);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("a receiver that never answers is timed out and retried", async () => {
  const receiver = await startTestReceiver((seen) => (seen.attempt === 1 ? "hang" : { status: 200 }));
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, timeoutMs: 200 } });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.deliveredCount === 3, { what: "deliveries after timeouts" });
    assert.ok(receiver.seen.some((s) => s.attempt === 2));
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("while a queue is blocked, intermediate status updates collapse to the latest; task, artifact and final stay", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const receiver = await startTestReceiver(async (seen) => {
    if (seen.attempt === 1 && parse(seen.body).task) await released;
    return { status: 200 };
  });
  let progressDone!: () => void;
  const progress = new Promise<void>((resolve) => (progressDone = resolve));
  const t = await startAgent({
    handler: async (_task, ctx) => {
      for (let i = 1; i <= 10; i++) await ctx.working(`step ${i}/10`);
      progressDone();
      await ctx.addArtifact({ artifactId: "out", parts: [{ text: "r" }] });
    },
    push: TEST_PUSH,
  });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { url: receiver.url } } });
    await progress;
    release();
    await waitFor(() => receiver.seen.some((s) => parse(s.body).statusUpdate?.status.state === "TASK_STATE_COMPLETED"), { what: "completion" });
    const kinds = receiver.seen.map((s) => parse(s.body));
    const working = kinds.filter((e) => e.statusUpdate?.status.state === "TASK_STATE_WORKING");
    assert.ok(working.length <= 2, `collapsed to ${working.length} working updates`);
    assert.equal(working.at(-1)!.statusUpdate!.status.message?.parts[0]?.text, "step 10/10");
    assert.deepEqual(kinds.map(describe).filter((k) => k !== "TASK_STATE_WORKING"), ["task", "artifact", "TASK_STATE_COMPLETED"]);
  } finally {
    release();
    await t.close();
    await receiver.close();
  }
});

test("webhooks carry a Standard Webhooks signature and a JWT that verifies against the agent's JWKS", async () => {
  const receiver = await startTestReceiver();
  const t = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url, token: "tok-123" } } });
    await waitFor(() => receiver.seen.length === 3, { what: "three webhooks" });
    const seen = receiver.seen[2]!;
    assert.equal(seen.headers["x-a2a-notification-token"], "tok-123");
    const checked = verifyStandardWebhook(seen.headers, seen.body, [TEST_PUSH.secrets]);
    assert.equal(checked.id, seen.headers["webhook-id"]);

    // The JWT, checked by hand with node:crypto against the served JWKS.
    const jwks = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; d?: string }> };
    const [header, payload, signature] = String(seen.headers.authorization).replace(/^Bearer /, "").split(".");
    const { kid, alg } = JSON.parse(Buffer.from(header!, "base64url").toString());
    assert.equal(alg, "ES256");
    const jwk = jwks.keys.find((k) => k.kid === kid)!;
    assert.equal(jwk.d, undefined, "no private part in the JWKS");
    const key = createPublicKey({ key: jwk as never, format: "jwk" });
    assert.ok(verify("sha256", Buffer.from(`${header}.${payload}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(signature!, "base64url")));
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    assert.equal(claims.aud, receiver.url);
    assert.equal(claims.iss, t.url);
    assert.equal(claims.jti, seen.headers["webhook-id"]);
    assert.equal(claims.body_sha256, createHash("sha256").update(seen.body).digest("base64url"));
    assert.ok(claims.exp > claims.iat && claims.exp - claims.iat <= 300);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("config methods: create sends the current Task first; get/list hide credentials; delete is idempotent", async () => {
  const receiver = await startTestReceiver();
  const t = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}) });
    const created = await t.client.createPushConfig({ taskId: task.id, url: receiver.url, authentication: { scheme: "Bearer", credentials: "s3cret" } });
    assert.equal(created.authentication?.credentials, undefined);
    await waitFor(() => receiver.seen.length === 1, { what: "first notification" });
    assert.equal(parse(receiver.seen[0]!.body).task?.status.state, "TASK_STATE_COMPLETED");
    assert.equal(receiver.seen[0]!.headers.authorization, "Bearer s3cret");

    for (let i = 0; i < 4; i++) await t.client.createPushConfig({ taskId: task.id, id: `extra-${i}`, url: receiver.url });
    const got = await t.client.getPushConfig({ taskId: task.id, id: created.id! });
    assert.deepEqual(got.authentication, { scheme: "Bearer" });
    const page1 = await t.client.listPushConfigs({ taskId: task.id, pageSize: 3 });
    const page2 = await t.client.listPushConfigs({ taskId: task.id, pageSize: 3, pageToken: page1.nextPageToken });
    assert.equal(page1.configs.length + page2.configs.length, 5);
    assert.equal(page2.nextPageToken, "");
    assert.ok([...page1.configs, ...page2.configs].every((c) => c.authentication?.credentials === undefined));

    await t.client.deletePushConfig({ taskId: task.id, id: "extra-0" });
    await t.client.deletePushConfig({ taskId: task.id, id: "extra-0" });
    assert.equal((await t.client.listPushConfigs({ taskId: task.id })).configs.length, 4);
    await assert.rejects(t.client.listPushConfigs({ taskId: "nope" }), { code: -32001 });
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("configs that would inject headers or reach private networks are refused with -32602", async () => {
  const guarded = await startAgent({ handler: () => {} });
  const open = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    const { task } = await guarded.client.sendMessage({ message: userMessage({}) });
    for (const url of ["http://127.0.0.1/hook", "http://[::1]/hook", "http://169.254.169.254/latest", "http://localhost:9000/x", "file:///etc/passwd"]) {
      await assert.rejects(guarded.client.createPushConfig({ taskId: task.id, url }), (error: Error & { code: number }) => error.code === -32602 && /refused/.test(error.message), url);
    }
    await assert.rejects(
      guarded.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: "http://10.0.0.1/x" } } }),
      (error: Error & { code: number }) => error.code === -32602 && /PRIVATE/.test(error.message),
    );
    const { task: openTask } = await open.client.sendMessage({ message: userMessage({}) });
    await open.client.createPushConfig({ taskId: openTask.id, url: "http://127.0.0.1:9/hook" });
    await assert.rejects(open.client.createPushConfig({ taskId: openTask.id, url: "http://127.0.0.1:9/x", token: "a\r\nX-Evil: 1" }), { code: -32602 });
    await assert.rejects(open.client.createPushConfig({ taskId: openTask.id, url: "http://127.0.0.1:9/x", authentication: { scheme: "Bearer", credentials: "x\nY: z" } }), { code: -32602 });
    await assert.rejects(open.client.createPushConfig({ taskId: openTask.id, url: "http://127.0.0.1:9/x", authentication: { scheme: "Bad Scheme" } }), { code: -32602 });
  } finally {
    await guarded.close();
    await open.close();
  }
});

test("an agent built without push answers -32003 to the four config methods and says so on its card", async () => {
  const t = await startAgent({ handler: () => {}, push: false });
  try {
    const card = await (await fetch(`${t.url}/.well-known/agent-card.json`)).json();
    assert.equal(card.capabilities.pushNotifications, false);
    for (const method of ["CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig", "ListTaskPushNotificationConfigs", "DeleteTaskPushNotificationConfig"]) {
      const response = await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { taskId: "t", id: "c", url: "http://example.com" } }));
      assert.equal(response.body.error.code, -32003, method);
    }
  } finally {
    await t.close();
  }
});

test("dead letters are listed, replayed and purged through the authenticated admin interface", async () => {
  let healthy = false;
  const receiver = await startTestReceiver(() => ({ status: healthy ? 200 : 500 }));
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, schedule: [0, 10], adminToken: "admin-secret" } });
  const admin = (path: string, init: RequestInit = {}, token = "admin-secret") =>
    fetch(`${t.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(async () => ((await (await admin("/admin/outbox?state=dead")).json()) as { deliveries: unknown[] }).deliveries.length === 3, { what: "three dead letters" });
    assert.equal((await admin("/admin/outbox?state=dead", {}, "wrong")).status, 401);
    assert.equal((await fetch(`${t.url}/admin/outbox`)).status, 401);
    const dead = ((await (await admin("/admin/outbox?state=dead")).json()) as { deliveries: Array<{ id: string; attempts: number; lastError: string; url: string }> }).deliveries;
    assert.equal(dead[0]!.attempts, 2);
    assert.equal(dead[0]!.lastError, "HTTP 500");
    assert.equal(dead[0]!.url, receiver.url);

    healthy = true;
    const replayed = (await (await admin("/admin/outbox/replay", { method: "POST", body: JSON.stringify({ ids: [dead[0]!.id] }) })).json()) as { replayed: string[] };
    assert.deepEqual(replayed.replayed, [dead[0]!.id]);
    await waitFor(() => receiver.seen.some((s) => s.headers["webhook-id"] === dead[0]!.id && s.attempt === 3), { what: "replayed delivery" });
    await waitFor(() => t.agent.outbox!.pendingCount === 0, { what: "replay acknowledged" });
    const purged = (await (await admin("/admin/outbox/purge", { method: "POST" })).json()) as { purged: string[] };
    assert.equal(purged.purged.length, 2);
    assert.equal(((await (await admin("/admin/outbox?state=dead")).json()) as { deliveries: unknown[] }).deliveries.length, 0);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("a receiver that hangs holds up only its own queues, not other endpoints", async () => {
  const stuck = await startTestReceiver(() => "hang");
  const fast = await startTestReceiver();
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, timeoutMs: 60_000, maxInFlight: 8, maxInFlightPerOrigin: 2 } });
  try {
    for (let i = 0; i < 6; i++) await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: stuck.url } } });
    for (let i = 0; i < 3; i++) await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: fast.url } } });
    await waitFor(() => fast.seen.length === 9, { what: "the fast endpoint's nine webhooks" });
    assert.equal(stuck.seen.length, 2, "the stuck origin never has more than its two connections");
  } finally {
    await stuck.close();
    await t.close();
    await fast.close();
  }
});

test("backpressure: a new task waits (bounded) while its receiver is behind, but not for a failing receiver", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const slow = await startTestReceiver(async () => {
    await released;
    return { status: 200 };
  });
  const failing = await startTestReceiver(() => ({ status: 500 }));
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, timeoutMs: 20_000, maxFreshPerOrigin: 2, admissionWaitMs: 3000 } });
  const send = async (url: string) => {
    const started = performance.now();
    await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { url } } });
    return performance.now() - started;
  };
  try {
    await send(slow.url); // Its notifications now wait behind a receiver that does not answer.
    await waitFor(() => t.agent.outbox!.pendingCount >= 2, { what: "a backlog" });
    assert.ok((await send(slow.url)) >= 2900, "the second task waited for the backlog, up to admissionWaitMs");
    await send(failing.url);
    await waitFor(() => failing.seen.length >= 1, { what: "a failed attempt" });
    for (let i = 0; i < 3; i++) assert.ok((await send(failing.url)) < 1500, "a failing receiver does not hold up new tasks");
  } finally {
    release();
    await t.close();
    await slow.close();
    await failing.close();
  }
});

test("a config whose authentication names a scheme but no credentials gets the agent's JWT as Bearer, and the first Task carries no history", async () => {
  const receiver = await startTestReceiver();
  const t = await startAgent({ handler: () => {}, push: TEST_PUSH });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url, authentication: { scheme: "Bearer" } } } });
    const first = await waitFor(() => receiver.seen[0], { what: "first webhook" });
    assert.match(String(first.headers.authorization), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, "a JWT, not a bare scheme");
    assert.equal(parse(first.body).task?.history, undefined);
  } finally {
    await t.close();
    await receiver.close();
  }
});
