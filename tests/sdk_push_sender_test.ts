/**
 * The durable sender for `@a2a-js/sdk` agents: in this process against the SDK's own stores and
 * serializer, then end to end with an SDK agent (`tests/sdk_agent.ts`) whose receiver goes down
 * and which is SIGKILLed and restarted, once with this sender and once with the SDK's own.
 */

import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import type { JsonWebKey as CryptoJsonWebKey } from "node:crypto";
import { test } from "node:test";
import { StreamResponse } from "@a2a-js/sdk";
import { InMemoryPushNotificationStore, ServerCallContext, V1PushNotificationSerializer } from "@a2a-js/sdk/server";
import type { PushNotificationSender } from "@a2a-js/sdk/server";
import { A2AClient } from "../lib/client.ts";
import { JournalError } from "../lib/errors.ts";
import { DurablePushSender } from "../lib/sdk_push_sender.ts";
import type { DurablePushSenderOptions, SdkStreamResponse } from "../lib/sdk_push_sender.ts";
import { verifyWebhook } from "../lib/verify.ts";
import { freePort, startScript, startTestReceiver, stillWaiting, tempDir, userMessage, waitFor } from "./helpers.ts";
import type { SeenRequest } from "./helpers.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FAST: Partial<DurablePushSenderOptions> = { ssrf: { allowPrivate: true }, schedule: [0, 20, 40, 60, 80, 100], timeoutMs: 2000, warn: () => {} };
const context = new ServerCallContext();

/** An SDK event, decoded by the SDK from v1.0 JSON. */
function sdkEvent(json: object): SdkStreamResponse {
  return StreamResponse.fromJSON(json) as SdkStreamResponse;
}

const working = (taskId: string, text: string) => sdkEvent({ statusUpdate: { taskId, contextId: "c1", status: { state: "TASK_STATE_WORKING", timestamp: "2026-11-27T00:00:00Z", message: { messageId: text, role: "ROLE_AGENT", parts: [{ text }] } } } });
const completed = (taskId: string) => sdkEvent({ statusUpdate: { taskId, contextId: "c1", status: { state: "TASK_STATE_COMPLETED", timestamp: "2026-11-27T00:00:01Z" }, metadata: {} } });
const submitted = (taskId: string) => sdkEvent({ task: { id: taskId, contextId: "c1", status: { state: "TASK_STATE_SUBMITTED" }, history: [{ messageId: "u", role: "ROLE_USER", parts: [{ text: "hi" }] }] } });

async function pushStoreWith(taskId: string, ...configs: object[]): Promise<InMemoryPushNotificationStore> {
  const store = new InMemoryPushNotificationStore();
  for (const config of configs) await store.save(taskId, context, { tenant: "", id: "", taskId, url: "", token: "", authentication: undefined, ...config });
  return store;
}

test("DurablePushSender fits the SDK's PushNotificationSender and posts the bytes the SDK's sender posts, with a webhook-id and signature", async () => {
  const receiver = await startTestReceiver();
  const pushStore = await pushStoreWith("t1", { id: "tok", url: receiver.url, token: "T" }, { id: "auth", url: receiver.url, token: "ignored", authentication: { scheme: "Bearer", credentials: "X" } });
  const sender = await DurablePushSender.open(pushStore, { ...FAST, dataDir: tempDir(), secrets: SECRET });
  const asSdk: PushNotificationSender = sender; // Type-checked: the SDK's interface, by shape.
  try {
    const events = [submitted("t1"), working("t1", "step 1"), sdkEvent({ artifactUpdate: { taskId: "t1", contextId: "c1", artifact: { artifactId: "a", parts: [{ raw: "AAE=" }] }, lastChunk: true } }), completed("t1")];
    for (const event of events) await asSdk.send(event as StreamResponse, context);
    await waitFor(() => receiver.seen.length === 8, { what: "four events to two configs" });
    const sdkBodies = events.map((event) => new V1PushNotificationSerializer().serialize(event as StreamResponse).body);
    for (const config of ["tok", "auth"]) {
      const seen = receiver.seen.filter((r) => (config === "tok" ? r.headers["x-a2a-notification-token"] === "T" : r.headers.authorization === "Bearer X"));
      assert.deepEqual(seen.map((r) => r.body), sdkBodies, `config ${config}: the SDK's bodies, in order`);
    }
    for (const request of receiver.seen) {
      assert.equal(request.headers["content-type"], "application/a2a+json");
      assert.match(String(request.headers["webhook-id"]), /^msg_[0-9a-f]{32}$/);
      // As the SDK's sender: credentials as Authorization, and then no token header.
      assert.equal(request.headers.authorization !== undefined, request.headers["x-a2a-notification-token"] === undefined);
      const verified = await verifyWebhook({ headers: request.headers, body: request.body }, { secrets: [SECRET] });
      assert.equal(verified.webhookId, request.headers["webhook-id"]);
    }
    await waitFor(() => sender.outbox.deliveredCount === 8 && sender.outbox.pendingCount === 0, { what: "every outcome journaled" });
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test("DurablePushSender.send() resolves once the event is journaled: a sender reopened on the directory delivers it, with the same webhook-id", async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/webhook`;
  const dataDir = tempDir();
  const pushStore = await pushStoreWith("t1", { id: "c", url });
  const retrying = { ...FAST, dataDir, schedule: [0, ...Array<number>(50).fill(100)] };
  const first = await DurablePushSender.open(pushStore, retrying);
  await first.send(submitted("t1"), context);
  await first.send(completed("t1"), context);
  await waitFor(() => first.outbox.deliveries("pending")[0]!.attempts > 0, { what: "a failed first attempt" });
  const ids = first.outbox.deliveries("pending").map((d) => d.id);
  await first.close();
  // The SDK's in-memory push store is gone after a restart: the journal has the config.
  const receiver = await startTestReceiver(undefined, port);
  const second = await DurablePushSender.open(new InMemoryPushNotificationStore(), retrying);
  try {
    await waitFor(() => receiver.seen.length === 2, { what: "both events after the reopen" });
    assert.deepEqual(receiver.seen.map((r) => r.headers["webhook-id"]), ids);
    assert.deepEqual(receiver.seen.map((r) => Object.keys(JSON.parse(r.body))[0]), ["task", "statusUpdate"]);
    await waitFor(() => second.outbox.pendingCount === 0, { what: "both outcomes journaled" });
  } finally {
    await second.close();
    await receiver.close();
  }
});

test("DurablePushSender.send() journals a task's events in call order even when the SDK's store answers them out of order", async () => {
  const receiver = await startTestReceiver();
  // The SDK does not wait for one send() before the next; a store backed by a database may answer the second load first.
  const releases: Array<() => void> = [];
  const config = { id: "c", url: receiver.url };
  const slowStore = { load: () => new Promise<Array<typeof config>>((resolve) => releases.push(() => resolve([config]))) };
  const sender = await DurablePushSender.open(slowStore, { ...FAST, dataDir: tempDir() });
  try {
    const sends = [submitted("t1"), working("t1", "one"), working("t1", "two"), completed("t1")].map((event) => sender.send(event, context));
    // The chain asks the store for one event at a time: the next load starts after the previous event is journaled.
    for (let i = 0; i < 4; i++) {
      await waitFor(() => releases.length === i + 1, { what: `load ${i + 1}` });
      assert.equal(await stillWaiting(sends[i]!), true);
      releases[i]!();
    }
    await Promise.all(sends);
    await waitFor(() => receiver.seen.length === 4, { what: "four webhooks" });
    const labels = receiver.seen.map((r) => JSON.parse(r.body) as { task?: unknown; statusUpdate?: { status: { state: string; message?: { parts: Array<{ text: string }> } } } });
    assert.deepEqual(labels.map((b) => b.task ? "task" : `${b.statusUpdate!.status.state} ${b.statusUpdate!.status.message?.parts[0]!.text ?? ""}`.trim()),
      ["task", "TASK_STATE_WORKING one", "TASK_STATE_WORKING two", "TASK_STATE_COMPLETED"]);
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test("DurablePushSender.send() journals nothing for a task without configs or a message of no task, and leaves out a config the SSRF guard refuses, warning once", async () => {
  const warnings: string[] = [];
  const dataDir = tempDir();
  const pushStore = await pushStoreWith("guarded", { id: "private", url: "http://127.0.0.1:9/hook" });
  const sender = await DurablePushSender.open(pushStore, { dataDir, warn: (line) => warnings.push(line) });
  try {
    await sender.send(submitted("no-configs"), context);
    await sender.send(sdkEvent({ message: { messageId: "m", role: "ROLE_AGENT", parts: [{ text: "no task" }] } }), context);
    await sender.send(submitted("guarded"), context);
    await sender.send(working("guarded", "still refused"), context);
    assert.equal(sender.outbox.pendingCount, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /push config "private" of task "guarded" is refused/);
    await assert.rejects(sender.send({}, context), TypeError);
  } finally {
    await sender.close();
  }
});

test("DurablePushSender stops sending to a config whose receiver answered 410 Gone, and sends a changed config's new token", async () => {
  const receiver = await startTestReceiver((seen) => (seen.path === "/gone" ? { status: 410 } : { status: 200 }));
  const base = receiver.url.replace(/\/webhook$/, "");
  const pushStore = await pushStoreWith("t1", { id: "gone", url: `${base}/gone` }, { id: "kept", url: receiver.url, token: "old" });
  const sender = await DurablePushSender.open(pushStore, { ...FAST, dataDir: tempDir() });
  try {
    await sender.send(submitted("t1"), context);
    await waitFor(() => receiver.seen.length === 2 && sender.outbox.pendingCount === 0, { what: "the Task to both configs" });
    await pushStore.save("t1", context, { tenant: "", id: "kept", taskId: "t1", url: receiver.url, token: "new", authentication: undefined });
    await sender.send(completed("t1"), context);
    await waitFor(() => receiver.seen.length === 3 && sender.outbox.pendingCount === 0, { what: "the completion" });
    const last = receiver.seen[2]!;
    assert.equal(last.path, "/webhook");
    assert.equal(last.headers["x-a2a-notification-token"], "new");
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test("DurablePushSender.open() signs with a JWT only given publicUrl, and serves the keys for receivers", async () => {
  await assert.rejects(DurablePushSender.open(new InMemoryPushNotificationStore(), { dataDir: tempDir(), jwt: true }), TypeError);
  const receiver = await startTestReceiver();
  const pushStore = await pushStoreWith("t1", { id: "c", url: receiver.url });
  const sender = await DurablePushSender.open(pushStore, { ...FAST, dataDir: tempDir(), jwt: true, publicUrl: "http://127.0.0.1:1/" });
  try {
    assert.equal(sender.jwks().keys.length, 1);
    await sender.send(submitted("t1"), context);
    const [request] = await waitFor(() => receiver.seen.length === 1 && receiver.seen, { what: "one webhook" });
    const jwks = { getKey: async (kid: string) => createPublicKey({ key: sender.jwks().keys.find((key) => (key as { kid?: string }).kid === kid) as CryptoJsonWebKey, format: "jwk" }) };
    const verified = await verifyWebhook({ headers: request!.headers, body: request!.body }, { jwks, issuer: "http://127.0.0.1:1", audience: receiver.url });
    assert.equal(verified.webhookId, request!.headers["webhook-id"]);
  } finally {
    await sender.close();
    await receiver.close();
  }
  const unsigned = await DurablePushSender.open(new InMemoryPushNotificationStore(), { dataDir: tempDir() });
  assert.deepEqual(unsigned.jwks(), { keys: [] });
  await unsigned.close();
  await assert.rejects(unsigned.send(submitted("t1"), context), { name: "JournalError", code: "CLOSED" });
});

test("DurablePushSender.send() waits out a full disk: the event is journaled and delivered once space returns, and close() ends the wait", async () => {
  const disk = { full: false, failures: 0 };
  // A journal file whose writes fail with ENOSPC while the disk is full.
  const openFile = async (path: string, flags: string, mode?: number): Promise<FileHandle> => {
    const handle = await open(path, flags, mode);
    return new Proxy(handle, {
      get(target, property) {
        if (property === "write" && disk.full) {
          return async () => {
            disk.failures++;
            throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  const receiver = await startTestReceiver();
  const warnings: string[] = [];
  const pushStore = await pushStoreWith("t1", { id: "c", url: receiver.url });
  const sender = await DurablePushSender.open(pushStore, { ...FAST, dataDir: tempDir(), openFile, warn: (line) => warnings.push(line) });
  try {
    disk.full = true;
    const sending = sender.send(submitted("t1"), context);
    await waitFor(() => disk.failures >= 2, { what: "a retried write" });
    assert.equal(await stillWaiting(sending), true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /cannot journal a push notification of task "t1", retrying until the journal takes it: .*ENOSPC/);
    disk.full = false;
    await sending;
    await waitFor(() => receiver.seen.length === 1, { what: "the Task, once the disk took it" });
    disk.full = true;
    const stuck = sender.send(completed("t1"), context).catch((error: Error) => error);
    const failures = disk.failures;
    await waitFor(() => disk.failures > failures, { what: "a failing write" });
    await sender.close();
    const error = await stuck;
    assert.ok(error instanceof JournalError, "closing while the disk is full fails the send");
    assert.equal(error.code, "IO");
  } finally {
    disk.full = false;
    await sender.close();
    await receiver.close();
  }
});

const TASKS = 25;
const STEPS = 3;
/** What the fixture's chunked executor publishes for each task, in order: 8 events, 200 in all. */
const EXPECTED = ["task TASK_STATE_SUBMITTED", ...[1, 2, 3].flatMap((i) => [`status TASK_STATE_WORKING step ${i}/${STEPS}`, `artifact chunk ${i}`]), "status TASK_STATE_COMPLETED"];

/** A webhook body as a label like the ones in {@linkcode EXPECTED}, with its task. */
function labelOf(body: string): { taskId: string; label: string } {
  const event = JSON.parse(body) as {
    task?: { id: string; status: { state: string } };
    statusUpdate?: { taskId: string; status: { state: string; message?: { parts: Array<{ text: string }> } } };
    artifactUpdate?: { taskId: string; artifact: { parts: Array<{ text: string }> } };
  };
  if (event.task) return { taskId: event.task.id, label: `task ${event.task.status.state}` };
  if (event.artifactUpdate) return { taskId: event.artifactUpdate.taskId, label: `artifact ${event.artifactUpdate.artifact.parts[0]!.text}` };
  const { taskId, status } = event.statusUpdate!;
  return { taskId, label: `status ${status.state}${status.message ? ` ${status.message.parts[0]!.text}` : ""}` };
}

/** Each task's events as the receiver took them, each once (a retry repeats its webhook-id; the SDK sends none, so its bodies count). */
function receivedByTask(requests: SeenRequest[]): Map<string, string[]> {
  const byTask = new Map<string, string[]>();
  const once = new Set<string>();
  for (const { headers, body } of requests) {
    const key = String(headers["webhook-id"] ?? body);
    if (once.has(key)) continue;
    once.add(key);
    const { taskId, label } = labelOf(body);
    byTask.set(taskId, [...(byTask.get(taskId) ?? []), label]);
  }
  return byTask;
}

/**
 * The same run for either sender: 25 tasks with a push config start; once the first webhooks are in,
 * the receiver goes down; every task runs to its end (the SDK has called send() for all 200 events,
 * and each call has settled); the agent is SIGKILLed and started again on the same port and data
 * directory; the receiver comes back. Then a new task's completion must arrive (the receiver is
 * back and the agent serves), and, with `untilAll`, every one of the 200.
 */
async function outageAndKill(sender: "durable" | "default", untilAll: boolean): Promise<{ received: Map<string, string[]>; taskIds: string[]; lost: number; catchUpMs: number }> {
  const dataDir = tempDir();
  const requests: SeenRequest[] = [];
  let receiver = await startTestReceiver();
  let agent = await startScript("tests/sdk_agent.ts", ["--port", "0", "--sender", sender, "--data-dir", dataDir]);
  const message = () => userMessage({ steps: STEPS, stepMs: 100, chunked: true });
  try {
    // 1. The tasks, side by side.
    const client = new A2AClient(`${agent.url}/`);
    const push = { returnImmediately: true, taskPushNotificationConfig: { url: receiver.url, token: "T" } };
    const taskIds = await Promise.all(Array.from({ length: TASKS }, async () => (await client.sendMessage({ message: message(), configuration: push })).task.id));
    // 2. The receiver goes down once the first webhooks are in.
    await waitFor(() => receiver.seen.length > 0, { what: "the first webhook" });
    await receiver.close();
    requests.push(...receiver.seen);
    // 3. Every task ends; every send() the SDK made has settled.
    await waitFor(async () => {
      const sends = (await (await fetch(`${agent.url}/test/sends`)).json()) as { asked: number; settled: number };
      return sends.asked === TASKS * EXPECTED.length && sends.settled === sends.asked;
    }, { what: `${TASKS * EXPECTED.length} send() calls settled` });
    // 4. SIGKILL with the notifications owed; the same agent starts again on the same port and directory.
    await agent.kill("SIGKILL");
    agent = await startScript("tests/sdk_agent.ts", ["--port", new URL(agent.url).port, "--sender", sender, "--data-dir", dataDir]);
    // 5. The receiver is back; a new task's completion arrives through it.
    receiver = await startTestReceiver(undefined, receiver.port);
    const back = Date.now();
    const sentinel = await new A2AClient(`${agent.url}/`).sendMessage({ message: userMessage({ steps: 1, stepMs: 1 }), configuration: push });
    await waitFor(() => receivedByTask(receiver.seen).get(sentinel.task.id)?.includes("status TASK_STATE_COMPLETED"), { what: "the new task's completion" });
    if (untilAll) {
      await waitFor(() => taskIds.every((id) => receivedByTask([...requests, ...receiver.seen]).get(id)?.length === EXPECTED.length), { timeoutMs: 15_000, what: "every notification" });
    }
    const catchUpMs = Date.now() - back;
    requests.push(...receiver.seen);
    const received = receivedByTask(requests);
    const lost = TASKS * EXPECTED.length - taskIds.reduce((sum, id) => sum + (received.get(id)?.length ?? 0), 0);
    return { received, taskIds, lost, catchUpMs };
  } finally {
    await agent.kill();
    await receiver.close();
  }
}

test("an @a2a-js/sdk agent with DurablePushSender loses 0 of 200 notifications across a receiver outage and a SIGKILL, each task's in order; with the SDK's own sender the same run loses them", async (t) => {
  const sdkDefault = await outageAndKill("default", false);
  const durable = await outageAndKill("durable", true);
  t.diagnostic(`durable: ${durable.lost} of ${TASKS * EXPECTED.length} lost (all in ${durable.catchUpMs} ms after the receiver came back); SDK default: ${sdkDefault.lost} of ${TASKS * EXPECTED.length} lost`);
  assert.equal(durable.lost, 0);
  for (const id of durable.taskIds) assert.deepEqual(durable.received.get(id), EXPECTED, `task ${id}: every event, in order`);
  // The SDK's sender tries each once: what the receiver missed while down, and what the kill cut off, stays lost.
  assert.ok(sdkDefault.lost > 0, "the SDK's own sender lost notifications in the same run");
  const completions = sdkDefault.taskIds.filter((id) => sdkDefault.received.get(id)?.includes("status TASK_STATE_COMPLETED")).length;
  assert.ok(completions < TASKS, `the SDK's own sender delivered ${completions} of ${TASKS} completions`);
});

test("scripts/sdk_durable_agent.ts, the SDK sample with the durable sender, pushes a task's webhooks with a webhook-id and the config's token", async () => {
  const receiver = await startTestReceiver();
  const agent = await startScript("scripts/sdk_durable_agent.ts", ["--port", String(await freePort()), "--data-dir", tempDir(), "--allow-private-webhooks"]);
  try {
    const { task } = await new A2AClient(`${agent.url}/`).sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url, token: "T" } } });
    assert.equal(task.status.state, "TASK_STATE_COMPLETED");
    await waitFor(() => receiver.seen.length === 2, { what: "the Task and its completion" });
    assert.deepEqual(receiver.seen.map((r) => labelOf(r.body).label), ["task TASK_STATE_SUBMITTED", "status TASK_STATE_COMPLETED"]);
    for (const { headers } of receiver.seen) {
      assert.match(String(headers["webhook-id"]), /^msg_/);
      assert.equal(headers["x-a2a-notification-token"], "T");
    }
  } finally {
    await agent.kill("SIGTERM");
    await receiver.close();
  }
});
