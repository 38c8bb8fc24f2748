/**
 * Outbox: the delivery loop, on a real TaskStore over a real journal, with an injected `send` that
 * records each attempt and answers only when the test says, a fixed clock and a schedule of 0 ms
 * retries (so nothing waits on time). Changes are committed to the store, then handed to the
 * outbox, as the agent does. Every wait is bounded; every outbox is stopped and journal closed.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { clearTimeout, setTimeout } from "node:timers";
import { decodeTaskRecordAt } from "../lib/frozen_task.ts";
import { openJournal } from "../lib/journal.ts";
import type { FileJournal } from "../lib/journal.ts";
import { Outbox } from "../lib/outbox.ts";
import type { OutboxOptions } from "../lib/outbox.ts";
import type { StoredPushConfig } from "../lib/push_config.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { TaskChange, TaskRecord } from "../lib/task_store.ts";
import type { Artifact, TaskState } from "../lib/types.ts";
import type { SendOutcome, WebhookAttempt } from "../lib/webhook_sender.ts";
import { stillWaiting, tempDir, waitFor, within } from "./helpers.ts";

const NOW = Date.parse("2026-01-01T00:00:00.000Z");
const BOUND = { timeoutMs: 2000 };
const OK: SendOutcome = { ok: true, status: 200 };
const FAIL: SendOutcome = { ok: false, status: 500, error: "HTTP 500" };
const GONE: SendOutcome = { ok: false, status: 410, error: "HTTP 410" };

/** One attempt the outbox made, answered when the test calls `answer`. */
interface Attempt {
  attempt: WebhookAttempt;
  /** Attempts of the same (task, url) not answered yet when this one started. */
  othersInFlight: number;
  /** Attempts to the same origin not answered yet when this one started. */
  originInFlight: number;
  answered: boolean;
  answer(outcome: SendOutcome): void;
}

/** A `send` that records every attempt and answers it only when told. */
function scriptedSend() {
  const attempts: Attempt[] = [];
  const send = (attempt: WebhookAttempt) =>
    new Promise<SendOutcome>((resolve) => {
      const othersInFlight = attempts.filter((a) => !a.answered && a.attempt.taskId === attempt.taskId && a.attempt.url === attempt.url).length;
      const originInFlight = attempts.filter((a) => !a.answered && new URL(a.attempt.url).origin === new URL(attempt.url).origin).length;
      const entry: Attempt = { attempt, othersInFlight, originInFlight, answered: false, answer: (outcome) => {
        entry.answered = true;
        resolve(outcome);
      } };
      attempts.push(entry);
    });
  /** The nth attempt (0-based), once made. */
  const nth = (n: number) => waitFor(() => attempts[n], { ...BOUND, what: `attempt ${n}` });
  const unanswered = () => attempts.filter((a) => !a.answered);
  return { attempts, send, nth, unanswered };
}

interface Harness {
  journal: FileJournal;
  store: TaskStore;
  outbox: Outbox;
  sent: ReturnType<typeof scriptedSend>;
  commit(taskId: string, record: TaskRecord): Promise<TaskChange>;
  /** Answers what is still in flight, stops the outbox, closes the journal. */
  close(): Promise<void>;
}

/** Opens the journal in `dir`, replays it into a new store and outbox (as Agent.open does), and starts nothing. */
async function open(dir: string, options: Partial<OutboxOptions> = {}): Promise<Harness> {
  const journal = await openJournal(dir, { warn: () => {}, decode: decodeTaskRecordAt });
  const store = new TaskStore(journal, { now: () => NOW });
  const sent = scriptedSend();
  const outbox = new Outbox(store, { send: sent.send, now: () => NOW, random: () => 0, schedule: [0, 0, 0, 0, 0], ...options });
  for (const record of await journal.load()) {
    store.replay(record);
    outbox.replay(record);
  }
  store.freezeFinished();
  return {
    journal,
    store,
    outbox,
    sent,
    async commit(taskId, record) {
      const change = await store.commit(taskId, () => record);
      outbox.add(change);
      return change!;
    },
    async close() {
      const stopped = outbox.stop();
      for (const attempt of sent.unanswered()) attempt.answer({ ok: false, error: "test over" });
      await stopped;
      await journal.close();
    },
  };
}

function pushConfig(id: string, taskId = "t1", url = `https://hooks.example/${id}`): StoredPushConfig {
  return { id, taskId, url };
}

function newTask(taskId: string, configs: StoredPushConfig[]): TaskRecord {
  return {
    type: "task",
    task: { id: taskId, contextId: "c1", status: { state: "TASK_STATE_SUBMITTED", timestamp: "2026-01-01T00:00:00.000Z" } },
    pushConfigs: configs,
  };
}

function status(taskId: string, state: TaskState, text: string = state, timestamp = "2026-01-01T00:00:01.000Z"): TaskRecord {
  return {
    type: "status",
    taskId,
    status: { state, timestamp, message: { messageId: crypto.randomUUID(), role: "ROLE_AGENT", parts: [{ text }] } },
  };
}

function artifact(taskId: string, text: string): TaskRecord {
  return { type: "artifact", taskId, artifact: { artifactId: "a", parts: [{ text }] } as Artifact, append: true };
}

/** What a body says, in a word: "task", the status text, or the artifact text. */
function wordOf(body: string): string {
  const event = JSON.parse(body);
  if (event.task) return "task";
  if (event.statusUpdate) return event.statusUpdate.status.message.parts[0].text;
  return `artifact:${event.artifactUpdate.artifact.parts[0].text}`;
}

function pendingIds(outbox: Outbox) {
  return outbox.deliveries("pending").map((d) => d.id);
}

function idOf(change: TaskChange, n = 0) {
  return change.deliveries[n]!.id;
}

test("Outbox sends one head at a time per (task, config), in the order the changes were made", async () => {
  const h = await open(tempDir());
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "working"));
    await h.commit("t1", artifact("t1", "chunk"));
    await h.commit("t1", status("t1", "TASK_STATE_COMPLETED", "done"));
    h.outbox.start();
    for (let n = 0; n < 4; n++) (await h.sent.nth(n)).answer(OK);
    await waitFor(() => h.outbox.pendingCount === 0, { ...BOUND, what: "an empty outbox" });
    assert.deepEqual(h.sent.attempts.map((a) => wordOf(a.attempt.body)), ["task", "working", "artifact:chunk", "done"]);
    assert.deepEqual(h.sent.attempts.map((a) => a.othersInFlight), [0, 0, 0, 0], "never two attempts of one queue at once");
    assert.equal(h.outbox.deliveredCount, 4);
  } finally {
    await h.close();
  }
});

test("Outbox sends the heads of different configs side by side, each to its own URL", async () => {
  const h = await open(tempDir());
  try {
    h.outbox.start();
    await h.commit("t1", newTask("t1", [pushConfig("c1"), pushConfig("c2")]));
    await waitFor(() => h.sent.attempts.length === 2, { ...BOUND, what: "both heads in flight" });
    assert.deepEqual(h.sent.attempts.map((a) => a.attempt.url).sort(), ["https://hooks.example/c1", "https://hooks.example/c2"]);
    // The retried head keeps its webhook-id, and the queue behind it waits for it.
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "working"));
    const first = h.sent.attempts.find((a) => a.attempt.url.endsWith("c1"))!;
    first.answer(FAIL);
    const retry = await h.sent.nth(2);
    assert.equal(retry.attempt.id, first.attempt.id);
    assert.equal(wordOf(retry.attempt.body), "task");
  } finally {
    await h.close();
  }
});

test("Outbox collapses an older intermediate status queued behind a blocked head into the newer one", async () => {
  const h = await open(tempDir());
  try {
    const task = await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    h.outbox.start();
    await h.sent.nth(0); // The Task is in flight and not answered: the queue is blocked.
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s2"));
    const s3 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s3"));
    const chunk = await h.commit("t1", artifact("t1", "chunk"));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s4"));
    const s5 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s5"));
    const done = await h.commit("t1", status("t1", "TASK_STATE_COMPLETED", "done"));
    // The first Task, the artifact and the final update stay; of each run of statuses only the newest.
    assert.deepEqual(pendingIds(h.outbox), [idOf(task), idOf(s3), idOf(chunk), idOf(s5), idOf(done)]);

    h.sent.attempts[0]!.answer(OK);
    for (let n = 1; n < 5; n++) (await h.sent.nth(n)).answer(OK);
    await waitFor(() => h.outbox.pendingCount === 0, { ...BOUND, what: "an empty outbox" });
    assert.deepEqual(h.sent.attempts.map((a) => wordOf(a.attempt.body)), ["task", "s3", "artifact:chunk", "s5", "done"]);
  } finally {
    await h.close();
  }
});

test("Outbox never collapses a status that is the head, nor the update behind a head that is a status", async () => {
  const h = await open(tempDir());
  try {
    await h.commit("t1", newTask("t1", []));
    await h.commit("t1", { type: "push.config", taskId: "t1", config: pushConfig("c1") });
    h.outbox.start();
    (await h.sent.nth(0)).answer(OK); // The config's first notification, the Task.
    await waitFor(() => h.outbox.pendingCount === 0, BOUND);
    const s1 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    await h.sent.nth(1); // s1 is the head, in flight.
    const s2 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s2"));
    assert.deepEqual(pendingIds(h.outbox), [idOf(s1), idOf(s2)]);
    const s3 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s3"));
    assert.deepEqual(pendingIds(h.outbox), [idOf(s1), idOf(s3)]);
  } finally {
    await h.close();
  }
});

test("Outbox decides each collapse while applying records, so a restart rebuilds the same queue", async () => {
  const dir = tempDir();
  const h = await open(dir);
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1"), pushConfig("c2")]));
    h.outbox.start();
    await waitFor(() => h.sent.attempts.length === 2, BOUND);
    // c2's head fails once (a push.attempt in the journal), then succeeds; c1's stays blocked.
    h.sent.attempts.find((a) => a.attempt.url.endsWith("c2"))!.answer(FAIL);
    (await h.sent.nth(2)).answer(OK);
    await waitFor(() => h.outbox.deliveries("pending").every((d) => d.configId === "c1"), BOUND);
    const records = [
      status("t1", "TASK_STATE_WORKING", "s1"),
      artifact("t1", "a1"),
      status("t1", "TASK_STATE_WORKING", "s2"),
      status("t1", "TASK_STATE_WORKING", "s3"),
      status("t1", "TASK_STATE_WORKING", "s4"),
    ];
    for (const [n, record] of records.entries()) {
      await h.commit("t1", record);
      // c2's queue moves on meanwhile, its outcomes journaled between the changes.
      if (n < 3) (await h.sent.nth(3 + n)).answer(n === 1 ? FAIL : OK);
    }
    await h.sent.nth(6);
  } finally {
    await h.close(); // Answers what is in flight (a journaled failure), then stops.
  }
  const before = h.outbox.deliveries("pending");
  assert.deepEqual(before.filter((d) => d.configId === "c1").length, 4, "c1: the Task, s1, a1 and the newest status");
  const again = await open(dir);
  try {
    assert.deepEqual(again.outbox.deliveries("pending"), before);
  } finally {
    await again.close();
  }
});

test("Outbox on a 410 deletes the config and drops its queue; other configs go on", async () => {
  const dir = tempDir();
  const h = await open(dir);
  try {
    await h.commit("t1", newTask("t1", [pushConfig("gone"), pushConfig("kept")]));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    await h.commit("t1", artifact("t1", "a1"));
    h.outbox.start();
    await waitFor(() => h.sent.attempts.length === 2, BOUND);
    h.sent.attempts.find((a) => a.attempt.url.endsWith("gone"))!.answer(GONE);
    await waitFor(() => h.store.config("t1", "gone") === undefined, { ...BOUND, what: "the config deleted" });
    assert.deepEqual(h.store.configs("t1").map((c) => c.id), ["kept"]);
    assert.deepEqual(h.outbox.deliveries("pending").map((d) => d.configId), ["kept", "kept", "kept"]);
    await h.commit("t1", status("t1", "TASK_STATE_COMPLETED", "done"));
    h.sent.attempts.find((a) => a.attempt.url.endsWith("kept"))!.answer(OK);
    for (let n = 2; n < 5; n++) (await h.sent.nth(n)).answer(OK);
    await waitFor(() => h.outbox.pendingCount === 0, BOUND);
    assert.equal(h.sent.attempts.filter((a) => a.attempt.url.endsWith("gone")).length, 1, "nothing more to the deleted config");
    assert.deepEqual(h.sent.attempts.filter((a) => a.attempt.url.endsWith("kept")).map((a) => wordOf(a.attempt.body)), ["task", "s1", "artifact:a1", "done"]);
  } finally {
    await h.close();
  }
  const again = await open(dir);
  try {
    assert.deepEqual(again.store.configs("t1").map((c) => c.id), ["kept"], "the deletion is journaled");
  } finally {
    await again.close();
  }
});

test("Outbox makes a dead letter when the schedule runs out; replayDead() requeues it and purgeDead() forgets it", async () => {
  const dir = tempDir();
  const h = await open(dir, { schedule: [0, 0] });
  try {
    const task = await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    const s1 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    h.outbox.start();
    (await h.sent.nth(0)).answer(FAIL);
    (await h.sent.nth(1)).answer(FAIL);
    await waitFor(() => h.outbox.deliveries("dead").length === 1, { ...BOUND, what: "a dead letter" });
    const [dead] = h.outbox.deliveries("dead");
    assert.equal(dead!.id, idOf(task));
    assert.equal(dead!.attempts, 2);
    assert.equal(dead!.lastError, "HTTP 500");
    assert.equal(dead!.url, "https://hooks.example/c1");
    // The queue goes on behind the dead letter.
    const next = await h.sent.nth(2);
    assert.equal(next.attempt.id, idOf(s1));
    next.answer(OK);
    await waitFor(() => h.outbox.pendingCount === 0, BOUND);

    assert.deepEqual(await h.outbox.replayDead([idOf(task), "no-such-id"]), [idOf(task)]);
    assert.deepEqual(h.outbox.deliveries("dead"), []);
    const replayed = await h.sent.nth(3);
    assert.equal(replayed.attempt.id, idOf(task), "the same webhook-id");
    assert.equal(wordOf(replayed.attempt.body), "task");
    replayed.answer(FAIL);
    (await h.sent.nth(4)).answer(FAIL); // A fresh attempt count: two more attempts, then dead again.
    await waitFor(() => h.outbox.deliveries("dead").length === 1, BOUND);
    assert.deepEqual(await h.outbox.purgeDead(), [idOf(task)]);
    assert.deepEqual(h.outbox.deliveries("dead"), []);
    assert.equal(h.outbox.liveCount, 0);
  } finally {
    await h.close();
  }
  const again = await open(dir);
  try {
    assert.deepEqual(again.outbox.deliveries("dead"), [], "the purge is journaled");
    assert.deepEqual(again.outbox.deliveries("pending"), []);
  } finally {
    await again.close();
  }
});

test("Outbox.replayDead() never lets a replayed older status push out a newer one still owed", async () => {
  const h = await open(tempDir(), { schedule: [0] });
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    h.outbox.start();
    (await h.sent.nth(0)).answer(OK);
    const s1 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    (await h.sent.nth(1)).answer(FAIL);
    await waitFor(() => h.outbox.deliveries("dead").length === 1, BOUND);
    const chunk = await h.commit("t1", artifact("t1", "a1"));
    await h.sent.nth(2); // The artifact is in flight: the queue is blocked.
    const s2 = await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s2"));
    assert.deepEqual(pendingIds(h.outbox), [idOf(chunk), idOf(s2)]);
    await h.outbox.replayDead([idOf(s1)]);
    // s2 is the task's newest status: dropping it for the older s1 leaves the receiver with a stale one.
    assert.ok(pendingIds(h.outbox).includes(idOf(s2)), `s2 ${idOf(s2)} is still owed; pending: ${pendingIds(h.outbox).join(", ")} (s1 ${idOf(s1)})`);
  } finally {
    await h.close();
  }
});

test("Outbox keeps dead letters across a restart", async () => {
  const dir = tempDir();
  const h = await open(dir, { schedule: [0] });
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    h.outbox.start();
    (await h.sent.nth(0)).answer(FAIL);
    await waitFor(() => h.outbox.deliveries("dead").length === 1, BOUND);
  } finally {
    await h.close();
  }
  const again = await open(dir);
  try {
    assert.equal(again.outbox.deliveries("dead").length, 1);
    assert.equal(again.outbox.deliveries("dead")[0]!.lastError, "HTTP 500");
  } finally {
    await again.close();
  }
});

test("Outbox.admit() waits while an origin has maxFreshPerOrigin deliveries never attempted", async () => {
  const h = await open(tempDir(), { maxFreshPerOrigin: 2 });
  try {
    h.outbox.start();
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    await h.sent.nth(0); // In flight, but no outcome yet: both are still never attempted.
    const url = "https://hooks.example/another-path";
    const held = h.outbox.admit([url], 60_000);
    assert.equal(await stillWaiting(held, 10), true);
    assert.equal(await within(h.outbox.admit(["https://elsewhere.example/hook"], 60_000), 1000), "resolved", "another origin is not held");
    h.sent.attempts[0]!.answer(OK);
    assert.equal(await within(held, 1000), "resolved");
  } finally {
    await h.close();
  }
});

test("Outbox.admit() does not hold new work for an origin whose last attempt failed", async () => {
  const h = await open(tempDir(), { maxFreshPerOrigin: 2 });
  try {
    h.outbox.start();
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    await h.commit("t1", artifact("t1", "a1"));
    (await h.sent.nth(0)).answer(FAIL);
    await h.sent.nth(1); // The retry is in flight; s1 and a1 are two deliveries never attempted.
    assert.equal(await within(h.outbox.admit(["https://hooks.example/x"], 60_000), 1000), "resolved");
  } finally {
    await h.close();
  }
});

test("Outbox.admit() does not wait before start()", async () => {
  const h = await open(tempDir(), { maxFreshPerOrigin: 1 });
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    assert.equal(await within(h.outbox.admit(["https://hooks.example/x"], 60_000), 1000), "resolved");
  } finally {
    await h.close();
  }
});

test("Outbox.snapshot() drops the deliveries and dead letters of tasks the store no longer has", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, { warn: () => {}, decode: decodeTaskRecordAt });
  const store = new TaskStore(journal, { now: () => NOW, retentionMs: 1000 });
  const sent = scriptedSend();
  const outbox = new Outbox(store, { send: sent.send, now: () => NOW, random: () => 0, schedule: [0] });
  const commit = async (taskId: string, record: TaskRecord) => {
    const change = await store.commit(taskId, () => record);
    outbox.add(change);
    return change!;
  };
  try {
    // "old" finished long ago and has a dead letter and a pending update; "live" is running.
    await commit("old", newTask("old", [pushConfig("c1", "old")]));
    await commit("live", newTask("live", [pushConfig("c1", "live")]));
    outbox.start();
    await waitFor(() => sent.attempts.length === 2, BOUND);
    sent.attempts.find((a) => a.attempt.taskId === "old")!.answer(FAIL);
    await waitFor(() => outbox.deliveries("dead").length === 1, BOUND);
    await commit("old", status("old", "TASK_STATE_COMPLETED", "done", "2020-01-01T00:00:00.000Z"));
    assert.deepEqual(outbox.deliveries("pending").map((d) => d.taskId).sort(), ["live", "old"]);

    let snapshot: TaskRecord[] = [];
    await store.compact(() => (snapshot = [...outbox.snapshot()]));
    assert.equal(store.get("old"), undefined, "retention dropped the task");
    assert.deepEqual(snapshot.filter((r) => r.type === "push.delivery").map((r) => r.taskId), ["live"]);
    assert.deepEqual(snapshot.filter((r) => r.type === "push.endpoint"), [{ type: "push.endpoint", taskId: "endpoint:https://hooks.example/c1", endpoint: "https://hooks.example/c1", failingSince: NOW }], "the failing endpoint's clock is kept");
    assert.deepEqual(outbox.deliveries("pending").map((d) => d.taskId), ["live"]);
    assert.deepEqual(outbox.deliveries("dead"), []);
    assert.equal(outbox.liveCount, 1);
  } finally {
    for (const attempt of sent.unanswered()) attempt.answer({ ok: false, error: "test over" });
    await outbox.stop();
    await journal.close();
  }
});

test("Outbox throws a RangeError for an empty schedule", async () => {
  const journal = await openJournal(tempDir(), { warn: () => {} });
  try {
    assert.throws(() => new Outbox(new TaskStore(journal), { send: async () => OK, schedule: [] }), RangeError);
  } finally {
    await journal.close();
  }
});

test("Outbox.stop() waits for the attempt in flight and sends nothing more", async () => {
  const h = await open(tempDir());
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    h.outbox.start();
    const first = await h.sent.nth(0);
    let stopped = false;
    const stopping = h.outbox.stop().then(() => (stopped = true));
    assert.equal(await stillWaiting(stopping, 10), true, "stop() waits for the attempt in flight");
    assert.equal(stopped, false);
    first.answer(OK);
    await stopping;
    assert.equal(h.sent.attempts.length, 1, "nothing sent after stop()");
    assert.equal(h.outbox.pendingCount, 1, "the outcome was journaled: only s1 is left");
  } finally {
    await h.close();
  }
});

const TIMED_OUT: SendOutcome = { ok: false, error: "no answer within 10000 ms", timedOut: true };

test("Outbox cuts a failing origin to one probe at a time, and opens its window again as it answers", async () => {
  const lines: string[] = [];
  const h = await open(tempDir(), { log: (line) => lines.push(line), schedule: Array(10).fill(0) });
  try {
    await h.commit("t1", newTask("t1", Array.from({ length: 16 }, (_, i) => pushConfig(`c${i}`))));
    h.outbox.start();
    for (let n = 0; n < 8; n++) await h.sent.nth(n);
    assert.equal(h.sent.unanswered().length, 8, "a new origin starts at a window of 8");
    for (const attempt of h.sent.attempts) attempt.answer(FAIL);
    // Cut to the probe: each attempt starts alone, after the one before it was answered.
    for (let n = 8; n < 13; n++) {
      const probe = await h.sent.nth(n);
      assert.equal(probe.originInFlight, 0, `attempt ${n} is the only one in flight`);
      probe.answer(FAIL);
    }
    assert.equal(lines.filter((line) => line.includes("cut to one attempt at a time")).length, 1, "one line for the cut, not one per attempt");
    (await h.sent.nth(13)).answer(OK);
    // One answer, a window of two: both go out before either is answered.
    const [a, b] = [await h.sent.nth(14), await h.sent.nth(15)];
    assert.deepEqual([a.originInFlight, b.originInFlight], [0, 1]);
    for (let n = 14; n < 40 && !lines.some((line) => line.includes("recovered")); n++) (await h.sent.nth(n)).answer(OK);
    assert.match(lines.find((line) => line.includes("recovered"))!, /^webhook origin https:\/\/hooks\.example recovered after 0 s: up to 8 attempts at a time again$/);
  } finally {
    await h.close();
  }
});

test("Outbox sends a healthy origin's deliveries while a slow origin holds its share of the slots", async () => {
  const h = await open(tempDir(), { maxInFlight: 4 });
  try {
    await h.commit("slow", newTask("slow", Array.from({ length: 10 }, (_, i) => pushConfig(`s${i}`, "slow", `https://slow.example/${i}`))));
    h.outbox.start();
    await waitFor(() => h.sent.attempts.length === 2, { ...BOUND, what: "the slow origin's share: half the slots" });
    await h.commit("fast", newTask("fast", Array.from({ length: 5 }, (_, i) => pushConfig(`f${i}`, "fast", `https://fast.example/${i}`))));
    for (let done = 0; done < 5; done++) {
      const next = await waitFor(() => h.sent.unanswered().find((a) => a.attempt.url.startsWith("https://fast.example")), { ...BOUND, what: `fast delivery ${done}` });
      next.answer(OK);
    }
    await waitFor(() => h.outbox.deliveries("pending").every((d) => d.taskId === "slow"), { ...BOUND, what: "every fast delivery done" });
    assert.equal(h.sent.attempts.filter((a) => a.attempt.taskId === "slow").length, 2, "the slow origin's two attempts are still unanswered, and no more of them went out");
  } finally {
    await h.close();
  }
});

test("Outbox gives callers turns: a principal with webhooks to many origins does not take every slot", async () => {
  const h = await open(tempDir(), { maxInFlight: 3 });
  try {
    const mallory = ["a", "b", "c", "d", "e"].flatMap((host) => [1, 2].map((i) => ({ ...pushConfig(`${host}${i}`, "m", `https://${host}.example/${i}`), principal: "mallory" })));
    await h.commit("m", newTask("m", mallory));
    await h.commit("v", newTask("v", [{ ...pushConfig("v1", "v", "https://victim.example/hook"), principal: "victim" }]));
    h.outbox.start();
    await waitFor(() => h.sent.attempts.length === 3, BOUND);
    // Due at the same moment, so either caller may go first; the other goes second.
    const hosts = h.sent.attempts.map((a) => new URL(a.attempt.url).host);
    assert.ok(hosts.slice(0, 2).includes("victim.example"), hosts.join());
    assert.equal(new Set(hosts).size, 3, "one slot per origin while slots are scarce");
  } finally {
    await h.close();
  }
});

test("Outbox lets the deliveries waiting behind an origin's probe keep their attempts", async () => {
  const h = await open(tempDir(), { schedule: [0, 0] });
  try {
    await h.commit("t1", newTask("t1", Array.from({ length: 6 }, (_, i) => pushConfig(`c${i}`))));
    h.outbox.start();
    for (let n = 0; n < 6; n++) (await h.sent.nth(n)).answer(FAIL); // Each used one of its two attempts.
    for (let n = 6; n < 9; n++) (await h.sent.nth(n)).answer(FAIL); // Three probes: three dead letters.
    await waitFor(() => h.outbox.deliveries("dead").length === 3, { ...BOUND, what: "the probes' dead letters" });
    await h.sent.nth(9);
    const waiting = h.outbox.deliveries("pending");
    assert.equal(waiting.length, 3);
    assert.deepEqual(waiting.map((d) => d.attempts), [1, 1, 1], "waiting for the probe used no attempt");
    for (let n = 9; n < 12; n++) (await h.sent.nth(n)).answer(OK);
    await waitFor(() => h.outbox.pendingCount === 0, BOUND);
    assert.equal(h.outbox.deliveries("dead").length, 3, "no delivery died of waiting");
    assert.equal(h.outbox.deliveredCount, 3);
  } finally {
    await h.close();
  }
});

test("Outbox loses and reorders nothing while an origin's window shrinks and grows, and keeps each webhook-id", async () => {
  const h = await open(tempDir(), { schedule: Array(40).fill(0) });
  try {
    for (let t = 1; t <= 4; t++) await h.commit(`t${t}`, newTask(`t${t}`, [pushConfig("c1", `t${t}`), pushConfig("c2", `t${t}`)]));
    h.outbox.start();
    for (let t = 1; t <= 4; t++) {
      await h.commit(`t${t}`, status(`t${t}`, "TASK_STATE_WORKING", "s1"));
      await h.commit(`t${t}`, artifact(`t${t}`, "a1"));
      await h.commit(`t${t}`, status(`t${t}`, "TASK_STATE_COMPLETED", "done"));
    }
    // Mostly failures at first (the window falls to the probe), then mostly answers (it grows back).
    for (let n = 0; n < 200 && h.outbox.pendingCount > 0; n++) {
      const attempt = await waitFor(() => h.sent.unanswered()[0], { ...BOUND, what: `attempt after ${n} answers` });
      attempt.answer(n < 40 ? (n % 4 === 3 ? OK : FAIL) : n % 4 === 3 ? TIMED_OUT : OK);
      await waitFor(() => h.outbox.pendingCount === 0 || h.sent.unanswered().length > 0, BOUND);
    }
    assert.equal(h.outbox.pendingCount, 0);
    assert.equal(h.outbox.deliveries("dead").length, 0);
    const answeredOk = new Set<Attempt>();
    for (const a of h.sent.attempts) if (a.answered) answeredOk.add(a);
    for (let t = 1; t <= 4; t++) {
      for (const url of ["https://hooks.example/c1", "https://hooks.example/c2"]) {
        const mine = h.sent.attempts.filter((a) => a.attempt.taskId === `t${t}` && a.attempt.url === url);
        const ids = [...new Set(mine.map((a) => a.attempt.id))];
        assert.deepEqual(ids.map((id) => wordOf(mine.find((a) => a.attempt.id === id)!.attempt.body)), ["task", "s1", "artifact:a1", "done"], `t${t} ${url}: every event, in order`);
        for (const id of ids) assert.equal(new Set(mine.filter((a) => a.attempt.id === id).map((a) => a.attempt.body)).size, 1, "one body per webhook-id");
        assert.ok(mine.every((a) => a.othersInFlight === 0), "never two attempts of one queue at once");
      }
    }
  } finally {
    await h.close();
  }
});

test("Outbox gives up sooner on an origin whose attempts keep timing out, and waits the full timeout again once it answers", async () => {
  const h = await open(tempDir(), { slowOriginTimeoutMs: 1500, schedule: Array(10).fill(0) });
  try {
    await h.commit("t1", newTask("t1", [pushConfig("c1")]));
    await h.commit("t1", status("t1", "TASK_STATE_WORKING", "s1"));
    h.outbox.start();
    const timeouts: Array<number | undefined> = [];
    for (let n = 0; n < 5; n++) {
      const attempt = await h.sent.nth(n);
      timeouts.push(attempt.attempt.timeoutMs);
      attempt.answer(n < 4 ? TIMED_OUT : OK);
    }
    assert.deepEqual(timeouts, [undefined, undefined, undefined, 1500, 1500]);
    assert.equal((await h.sent.nth(5)).attempt.timeoutMs, undefined, "an answer ends it");
  } finally {
    await h.close();
  }
});

test("Outbox keeps a quarter of the slots for receivers that answer, however many origins never do", async () => {
  const h = await open(tempDir(), { maxInFlight: 8 });
  try {
    h.outbox.start();
    await h.commit("known", newTask("known", [pushConfig("k1", "known", "https://known.example/hook")]));
    (await h.sent.nth(0)).answer(OK); // The agent now knows this receiver answers.
    await h.commit("holes", newTask("holes", Array.from({ length: 20 }, (_, i) => pushConfig(`h${i}`, "holes", `https://hole${i}.example/hook`))));
    await waitFor(() => h.sent.unanswered().length === 6, { ...BOUND, what: "the never-answering origins' three quarters" });
    await h.commit("known", status("known", "TASK_STATE_COMPLETED", "done"));
    const done = await h.sent.nth(7);
    assert.equal(done.attempt.url, "https://known.example/hook");
    assert.equal(h.sent.attempts.filter((a) => a.attempt.taskId === "holes").length, 6, "no hole got a seventh slot");
  } finally {
    await h.close();
  }
});
