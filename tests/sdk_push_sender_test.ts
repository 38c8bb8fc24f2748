/**
 * The durable sender for `@a2a-js/sdk` agents: in this process against the SDK's own stores and
 * serializer, then end to end with an SDK agent (`tests/sdk_agent.ts`) whose receiver goes down
 * and which is SIGKILLed and restarted, once with this sender and once with the SDK's own.
 */

import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import type { JsonWebKey as CryptoJsonWebKey } from "node:crypto";
import { test } from "node:test";
import { StreamResponse } from "@a2a-js/sdk";
import { InMemoryPushNotificationStore, ServerCallContext, V1PushNotificationSerializer } from "@a2a-js/sdk/server";
import type { PushNotificationSender } from "@a2a-js/sdk/server";
import { A2AClient } from "../lib/client.ts";
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
    assert.deepEqual(second.outbox.deliveries("pending"), []);
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
