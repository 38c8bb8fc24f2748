/**
 * The receiver's live feed: `ReceiverFeed` alone (snapshot bounds, refusals kept, a page that falls
 * behind dropped), then a receiver's `GET /events/stream` read as SSE while an agent's task and
 * crafted webhooks arrive, and its page and stream behind the read token (Bearer, or HTTP Basic as
 * a browser sends it). The page itself, in a browser, is `browser_test.ts`'s.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { WebhookReceiver } from "../lib/receiver.ts";
import { ReceiverFeed, summarizeResult } from "../lib/receiver_feed.ts";
import type { FeedUpdate } from "../lib/receiver_feed.ts";
import type { ReceivedEvent } from "../lib/received_event.ts";
import { readSseData } from "../lib/sse.ts";
import { TEST_PUSH, startAgent, tempDir, userMessage, waitFor } from "./helpers.ts";

const TOKEN = "feed-test-token";

function event(taskId: string, webhookId: string): ReceivedEvent {
  return { webhookId, taskId, kind: "statusUpdate", state: "TASK_STATE_WORKING", receivedAt: new Date(0).toISOString(), duplicates: 0 };
}

/** Reads a stream's updates until `count` have come (bounded by the caller's close). */
async function take(stream: AsyncIterable<FeedUpdate>, count: number): Promise<FeedUpdate[]> {
  const updates: FeedUpdate[] = [];
  for await (const update of stream) if (updates.push(update) >= count) break;
  return updates;
}

test("ReceiverFeed.follow() opens with a snapshot of the newest maxTasks tasks, their results and the refusals, then each update", async () => {
  const feed = new ReceiverFeed({ maxTasks: 2, maxRefusals: 2 });
  for (const reason of ["A", "B", "C"]) feed.refused(401, reason, "no", 0);
  const events = [event("t1", "w1"), event("t2", "w2"), event("t3", "w3"), event("t2", "w4")];
  const results = [{ id: "t1", contextId: "c", status: { state: "TASK_STATE_COMPLETED" as const, timestamp: "" } }, { id: "t3", contextId: "c", status: { state: "TASK_STATE_FAILED" as const, timestamp: "" } }];
  const page = feed.follow(events, results);
  feed.publish({ event: event("t4", "w5") });
  const [first, second] = await take(page, 2);
  assert.ok(first && "snapshot" in first);
  assert.deepEqual(first.snapshot.events.map((e) => e.webhookId), ["w2", "w3", "w4"], "t2 and t3 are the newest two");
  assert.deepEqual(first.snapshot.results, [{ taskId: "t3", state: "TASK_STATE_FAILED", artifacts: [] }]);
  assert.deepEqual(first.snapshot.refusals.map((r) => r.reason), ["B", "C"], "the oldest refusal went past maxRefusals");
  assert.deepEqual(second, { event: event("t4", "w5") });
  page.close();
});

test("ReceiverFeed drops a page that falls maxQueued updates behind, and close() ends every page", async () => {
  const feed = new ReceiverFeed({ maxQueued: 3 });
  const slow = feed.follow([], []);
  for (let i = 0; i < 5; i++) feed.publish({ event: event("t", `w${i}`) });
  const read = await take(slow, 100);
  assert.deepEqual(read.map((u) => ("event" in u ? u.event.webhookId : "snapshot")), ["snapshot", "w0", "w1"], "dropped at the third queued update; it reconnects for a snapshot");
  const other = feed.follow([], []);
  feed.close();
  assert.equal((await take(other, 100)).length, 1, "the snapshot, then the end");
  feed.publish({ event: event("t", "late") }); // Nobody follows: nothing to do.
});

test("summarizeResult() gives each artifact's name and its parts as text, cut to 4,000 characters", () => {
  const summary = summarizeResult({
    id: "t1",
    contextId: "c",
    status: { state: "TASK_STATE_COMPLETED", timestamp: "" },
    artifacts: [{ artifactId: "a1", parts: [{ text: "x".repeat(5000) }] }, { artifactId: "a2", name: "mixed", parts: [{ text: "hi" }, { data: { n: 1 } }, { url: "https://f/x", filename: "x.pdf" }] }],
  });
  assert.equal(summary.artifacts[0]!.name, "a1");
  assert.equal(summary.artifacts[0]!.text, `${"x".repeat(4000)}…`);
  assert.deepEqual(summary.artifacts[1], { name: "mixed", text: 'hi\n{"n":1}\n[x.pdf]' });
});

/** A token-checking receiver (no JWT, so the test can post its own webhooks) on a free port. */
async function startReceiver(agentUrl: string, readToken?: string) {
  const receiver = await WebhookReceiver.open({ dataDir: tempDir(), agentUrl, jwt: false, token: TOKEN, readToken, log: () => {} });
  const server = receiver.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    base,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await receiver.close();
    },
  };
}

/** Follows a receiver's stream, collecting its updates, until `stop()`. */
async function follow(base: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(`${base}/events/stream`, { headers, signal: abort.signal });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const updates: FeedUpdate[] = [];
  const reading = (async () => {
    for await (const data of readSseData(response.body!)) updates.push(JSON.parse(data) as FeedUpdate);
  })().catch(() => undefined); // Ends with the abort.
  return { updates, stop: async () => (abort.abort(), await reading) };
}

test("GET /events/stream sends a snapshot, then every accepted event, duplicate, refusal and fetched result as it happens; a new stream's snapshot has them all", async () => {
  const agent = await startAgent({ handler: async (_task, ctx) => void (await ctx.addArtifact({ artifactId: "r", name: "report.txt", parts: [{ text: "the report" }] })), push: TEST_PUSH });
  const r = await startReceiver(agent.url);
  const stream = await follow(r.base);
  try {
    await waitFor(() => stream.updates.length === 1, { what: "the snapshot" });
    assert.deepEqual(stream.updates[0], { snapshot: { events: [], results: [], refusals: [] } });

    const { task } = await agent.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: `${r.base}/webhook`, token: TOKEN } } });
    const result = await waitFor(() => stream.updates.find((u) => "result" in u), { what: "the fetched result" });
    assert.deepEqual(result, { result: { taskId: task.id, state: "TASK_STATE_COMPLETED", artifacts: [{ name: "report.txt", text: "the report" }] } });
    const kinds = stream.updates.flatMap((u) => ("event" in u ? [u.event.kind] : []));
    assert.deepEqual(kinds, ["task", "statusUpdate", "artifactUpdate", "statusUpdate"]);

    const webhook = { "x-a2a-notification-token": TOKEN, "webhook-id": "msg_feed_1", "webhook-timestamp": String(Math.floor(Date.now() / 1000)) };
    const body = JSON.stringify({ statusUpdate: { taskId: "t-other", contextId: "c", status: { state: "TASK_STATE_WORKING", timestamp: "", message: { messageId: "m", role: "ROLE_AGENT", parts: [{ text: "step 1/3" }] } } } });
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${r.base}/webhook`, { method: "POST", headers: webhook, body })).status, 200);
    assert.equal((await fetch(`${r.base}/webhook`, { method: "POST", headers: { ...webhook, "x-a2a-notification-token": "wrong" }, body })).status, 401);
    await waitFor(() => stream.updates.some((u) => "refusal" in u), { what: "the refusal" });
    const tail = stream.updates.slice(-3);
    assert.equal("event" in tail[0]! && tail[0].event.text, "step 1/3");
    assert.deepEqual(tail[1], { duplicate: { webhookId: "msg_feed_1", taskId: "t-other", duplicates: 1 } });
    assert.ok("refusal" in tail[2]! && tail[2].refusal.status === 401 && tail[2].refusal.reason === "BAD_TOKEN", JSON.stringify(tail[2]));

    const again = await follow(r.base);
    await waitFor(() => again.updates.length === 1, { what: "a second page's snapshot" });
    const { snapshot } = again.updates[0] as Extract<FeedUpdate, { snapshot: unknown }>;
    assert.equal(snapshot.events.length, 5);
    assert.equal(snapshot.events.at(-1)!.duplicates, 1);
    assert.deepEqual(snapshot.results.map((s) => s.taskId), [task.id]);
    assert.deepEqual(snapshot.refusals.map((s) => s.reason), ["BAD_TOKEN"]);
    await again.stop();
  } finally {
    await stream.stop();
    await r.close();
    await agent.close();
  }
});

test("GET / and GET /events/stream answer only readers: with a read token, Bearer or HTTP Basic (any user, the token as password), as a browser asks for it", async () => {
  const r = await startReceiver("http://127.0.0.1:1", "r3ad");
  const basic = (pair: string) => `Basic ${Buffer.from(pair).toString("base64")}`;
  try {
    const refused = await fetch(`${r.base}/`);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate")!, /Basic realm="a2a-push receiver"/, "so a browser asks for it");
    for (const authorization of [basic("reader:wrong"), basic("r3ad"), basic(":r3ad:x"), "Basic !!!", "Bearer wrong"]) {
      assert.equal((await fetch(`${r.base}/`, { headers: { authorization } })).status, 401, authorization);
    }
    for (const authorization of [basic("reader:r3ad"), basic(":r3ad"), "Bearer r3ad"]) {
      const page = await fetch(`${r.base}/`, { headers: { authorization } });
      assert.equal(page.status, 200, authorization);
      assert.match(await page.text(), /<title>a2a-push receiver<\/title>/);
    }
    const stream = await follow(r.base, { authorization: basic("anyone:r3ad") });
    await waitFor(() => stream.updates.length === 1, { what: "the snapshot" });
    await stream.stop();
  } finally {
    await r.close();
  }
});
