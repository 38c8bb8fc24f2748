/**
 * Compactor: the journal rewritten as the live state, by hand or on its timer, read back into a
 * fresh store and outbox as Agent.open does. Sends are injected and answered by the test.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Compactor } from "../lib/compaction.ts";
import { decodeTaskRecordAt } from "../lib/frozen_task.ts";
import { openJournal } from "../lib/journal.ts";
import type { FileJournal } from "../lib/journal.ts";
import { Outbox } from "../lib/outbox.ts";
import type { StoredPushConfig } from "../lib/push_config.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { TaskStoreOptions } from "../lib/task_store.ts";
import type { TaskChange, TaskRecord } from "../lib/task_store.ts";
import type { TaskState } from "../lib/types.ts";
import type { SendOutcome, WebhookAttempt } from "../lib/webhook_sender.ts";
import { tempDir, waitFor } from "./helpers.ts";

const NOW = Date.parse("2026-01-01T00:00:00.000Z");
const RECENT = "2025-12-31T23:59:59.000Z";
const LONG_AGO = "2025-01-01T00:00:00.000Z";
const BOUND = { timeoutMs: 3000 };

interface Agentlike {
  journal: FileJournal;
  store: TaskStore;
  outbox: Outbox;
  compactor: Compactor;
  attempts: Array<{ attempt: WebhookAttempt; answer(outcome: SendOutcome): void }>;
  commit(taskId: string, record: TaskRecord): Promise<TaskChange>;
  /** Stops the outbox, failing the attempts in flight (their outcomes are journaled). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Opens `dir` the way Agent.open does: journal, store, outbox, replay, compactor. */
async function open(dir: string, storeOptions: TaskStoreOptions = {}, schedule: number[] = [0, 0]): Promise<Agentlike> {
  const journal = await openJournal(dir, { warn: () => {}, decode: decodeTaskRecordAt });
  const store = new TaskStore(journal, { now: () => NOW, retentionMs: 24 * 3600 * 1000, ...storeOptions });
  const attempts: Agentlike["attempts"] = [];
  const outbox = new Outbox(store, {
    send: (attempt) => new Promise((resolve) => attempts.push({ attempt, answer: resolve })),
    now: () => NOW,
    random: () => 0,
    schedule,
  });
  for (const record of await journal.load()) {
    store.replay(record);
    outbox.replay(record);
  }
  store.freezeFinished();
  const compactor = new Compactor(store, outbox, (message) => assert.fail(message));
  const settle = async () => {
    const stopped = outbox.stop();
    for (const { answer } of attempts) answer({ ok: false, error: "test over" });
    await stopped;
  };
  return {
    journal,
    store,
    outbox,
    compactor,
    attempts,
    async commit(taskId, record) {
      const change = await store.commit(taskId, () => record);
      outbox.add(change);
      return change!;
    },
    settle,
    async close() {
      await settle();
      await compactor.stop();
      await journal.close();
    },
  };
}

function config(id: string, taskId: string): StoredPushConfig {
  return { id, taskId, url: `https://hooks.example/${taskId}/${id}` };
}

function newTask(taskId: string, configs: StoredPushConfig[] = []): TaskRecord {
  return {
    type: "task",
    task: { id: taskId, contextId: "ctx", status: { state: "TASK_STATE_SUBMITTED", timestamp: RECENT }, history: [{ messageId: `m-${taskId}`, role: "ROLE_USER", parts: [{ text: "go" }] }] },
    pushConfigs: configs,
  };
}

function status(taskId: string, state: TaskState, timestamp = RECENT, text: string = state): TaskRecord {
  return {
    type: "status",
    taskId,
    status: { state, timestamp, message: { messageId: crypto.randomUUID(), role: "ROLE_AGENT", parts: [{ text }] } },
  };
}

/** Every task, config, pending delivery and dead letter, as one comparable value. */
async function stateOf(a: Agentlike) {
  const tasks = [];
  for (const stored of a.store.all()) tasks.push({ task: await a.store.read(stored), checkpoint: stored.checkpoint, configs: a.store.configs(stored.id) });
  return { tasks, pending: a.outbox.deliveries("pending"), dead: a.outbox.deliveries("dead") };
}

test("Compactor.compact() keeps tasks, configs, pending deliveries and dead letters across a restart", async () => {
  const dir = tempDir();
  const first = await open(dir);
  let before: Awaited<ReturnType<typeof stateOf>>;
  try {
    await first.commit("running", newTask("running", [config("c1", "running"), config("c2", "running")]));
    await first.commit("running", { type: "status", taskId: "running", status: { state: "TASK_STATE_WORKING", timestamp: RECENT }, checkpoint: { step: 2 } });
    await first.commit("done", newTask("done", [config("c1", "done")]));
    first.outbox.start();
    await waitFor(() => first.attempts.length === 3, BOUND);
    // The delivery to "done" fails for good (a dead letter); the other heads stay in flight.
    const failed = { ok: false, status: 500, error: "HTTP 500" };
    first.attempts.find((a) => a.attempt.taskId === "done")!.answer(failed);
    await waitFor(() => first.attempts.length === 4, BOUND);
    first.attempts[3]!.answer(failed);
    await waitFor(() => first.outbox.deliveries("dead").length === 1, BOUND);
    await first.commit("done", status("done", "TASK_STATE_COMPLETED"));
    await first.commit("running", status("running", "TASK_STATE_WORKING", RECENT, "progress"));
    await first.settle(); // The heads in flight fail once: their attempt counts are part of the state.
    for (let n = 0; n < 20; n++) await first.commit("running", { type: "checkpoint", taskId: "running", checkpoint: { step: n } });
    await first.compactor.compact();
    assert.ok(first.journal.recordCount < 20, `${first.journal.recordCount} records after compaction`);
    before = await stateOf(first);
  } finally {
    await first.close();
  }
  assert.equal(before.tasks.length, 2);
  assert.equal(before.dead.length, 1);
  assert.ok(before.pending.length >= 4, JSON.stringify(before.pending));
  assert.ok(before.pending.some((d) => d.attempts > 0), "attempt counts are part of what is kept");

  const second = await open(dir);
  try {
    assert.deepEqual(await stateOf(second), before);
    assert.deepEqual(second.store.get("running")!.checkpoint, { step: 19 }, "the handler's last checkpoint is kept");
  } finally {
    await second.close();
  }
});

test("Compactor.compact() drops finished tasks past retention with their configs and deliveries, and keeps the rest", async () => {
  const dir = tempDir();
  const first = await open(dir, { retentionMs: 3600 * 1000 });
  try {
    await first.commit("old-done", newTask("old-done", [config("c1", "old-done")]));
    await first.commit("old-done", status("old-done", "TASK_STATE_COMPLETED", LONG_AGO));
    await first.commit("recent-done", newTask("recent-done", [config("c1", "recent-done")]));
    await first.commit("recent-done", status("recent-done", "TASK_STATE_FAILED", RECENT));
    await first.commit("old-running", newTask("old-running", [config("c1", "old-running")]));
    await first.commit("old-running", status("old-running", "TASK_STATE_WORKING", LONG_AGO));
    await first.compactor.compact();
    assert.equal(first.store.get("old-done"), undefined);
    assert.deepEqual(first.store.configs("old-done"), []);
    assert.deepEqual([...first.store.all()].map((t) => t.id), ["recent-done", "old-running"]);
    assert.ok(first.outbox.deliveries("pending").every((d) => d.taskId !== "old-done"));
  } finally {
    await first.close();
  }
  const second = await open(dir, { retentionMs: 3600 * 1000 });
  try {
    assert.deepEqual([...second.store.all()].map((t) => t.id), ["recent-done", "old-running"]);
    assert.equal(second.store.get("old-done"), undefined);
    assert.deepEqual(second.store.configs("old-done"), []);
    assert.deepEqual(second.store.configs("recent-done").map((c) => c.id), ["c1"]);
    assert.deepEqual(new Set(second.outbox.deliveries("pending").map((d) => d.taskId)), new Set(["recent-done", "old-running"]));
  } finally {
    await second.close();
  }
});

test("Compactor compacts by itself once the journal outgrows its live records", async () => {
  const dir = tempDir();
  const a = await open(dir, { compactionMinRecords: 20, compactionFactor: 2 });
  try {
    await a.commit("t1", newTask("t1"));
    for (let n = 0; n < 40; n++) await a.commit("t1", { type: "checkpoint", taskId: "t1", checkpoint: { n } });
    const grown = a.journal.recordCount;
    assert.ok(grown > 40);
    await waitFor(() => a.journal.recordCount < grown, { ...BOUND, what: "the timer's compaction" });
    assert.equal(a.journal.recordCount, 1, "one task record, carrying the last checkpoint");
    assert.deepEqual(a.store.get("t1")!.checkpoint, { n: 39 });
  } finally {
    await a.close();
  }
  const again = await open(dir);
  try {
    assert.deepEqual(again.store.get("t1")!.checkpoint, { n: 39 });
  } finally {
    await again.close();
  }
});

test("Compactor does not compact a journal still under compactionMinRecords", async () => {
  const a = await open(tempDir(), { compactionMinRecords: 1000, compactionFactor: 2 });
  try {
    await a.commit("t1", newTask("t1"));
    for (let n = 0; n < 10; n++) await a.commit("t1", { type: "checkpoint", taskId: "t1", checkpoint: { n } });
    assert.equal(a.store.needsCompaction(a.outbox.liveCount), false);
    assert.equal(a.journal.recordCount, 11);
  } finally {
    await a.close();
  }
});

test("Compactor.compact() joins the compaction under way, and stop() waits for it", async () => {
  const a = await open(tempDir());
  try {
    await a.commit("t1", newTask("t1"));
    for (let n = 0; n < 10; n++) await a.commit("t1", { type: "checkpoint", taskId: "t1", checkpoint: { n } });
    let finished = false;
    const first = a.compactor.compact();
    void first.then(() => (finished = true));
    assert.equal(a.compactor.compact(), first, "one compaction at a time");
    await a.compactor.stop();
    assert.equal(finished, true, "stop() resolved before the compaction ended");
    assert.equal(a.journal.recordCount, 1);
  } finally {
    await a.close();
  }
});

test("tasksToDrop() drops expired tasks, then the oldest beyond keep, never an owed one", async () => {
  const { tasksToDrop } = await import("../lib/compaction.ts");
  const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes)).toISOString();
  const tasks = [{ id: "expired", timestamp: at(0) }, { id: "a", timestamp: at(10) }, { id: "owed", timestamp: at(11) }, { id: "b", timestamp: at(12) }, { id: "c", timestamp: at(13) }];
  const cutoff = Date.parse(at(5));
  let asked = 0;
  const owed = () => (asked++, new Set(["owed"]));
  assert.deepEqual(tasksToDrop(tasks, { cutoff, keep: 10, owed }).map((t) => t.id), ["expired"]);
  assert.equal(asked, 0, "owed() is asked only when some must go for keep");
  assert.deepEqual(tasksToDrop(tasks, { cutoff, keep: 2, owed }).map((t) => t.id), ["expired", "a", "b"]);
});
