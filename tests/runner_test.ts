/**
 * TaskRunner over a real TaskStore and journal, without an agent: the concurrency limit and the
 * queue's order, abort() and stop(), how a run ends (returned, thrown, asked for input, ended by
 * the handler), a rerun, what the handler's context carries, and a journal that refuses writes for
 * a while. Handlers wait on gates the tests open; every wait is bounded.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { JournalError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import type { Storage } from "../lib/journal.ts";
import { TaskRunner, agentMessage } from "../lib/runner.ts";
import type { TaskContext, TaskHandler, TaskRunnerOptions } from "../lib/runner.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { TaskChange } from "../lib/task_store.ts";
import type { Message, Task } from "../lib/types.ts";
import { tempDir, waitFor, within } from "./helpers.ts";

const WAIT = { timeoutMs: 3_000 };

/** A promise the test resolves by hand. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Resolves when `gate` opens or the run is aborted, whichever is first. */
function until(opened: Promise<void>, signal: AbortSignal): Promise<void> {
  return Promise.race([opened, new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }))]);
}

function userText(taskId: string, text: string): Message {
  return { messageId: `m-${taskId}-${text}`, role: "ROLE_USER", parts: [{ text }], contextId: "ctx", taskId };
}

/** Journals a submitted task with one user message. */
async function submit(store: TaskStore, taskId: string): Promise<void> {
  const task: Task = { id: taskId, contextId: "ctx", status: { state: "TASK_STATE_SUBMITTED", timestamp: new Date().toISOString() }, history: [userText(taskId, "go")] };
  await store.commit(taskId, () => ({ type: "task", task }));
}

/** A store over a fresh journal and a runner for `handler`; the runner is stopped and the journal closed after `run`. */
async function withRunner(handler: TaskHandler, options: TaskRunnerOptions, run: (runner: TaskRunner, store: TaskStore) => Promise<void>): Promise<void> {
  const journal = await openJournal(tempDir(), { warn: () => {} });
  const store = new TaskStore(journal);
  const runner = new TaskRunner(store, handler, { onError: (error) => assert.fail(error), ...options });
  try {
    await run(runner, store);
  } finally {
    await runner.stop();
    await journal.close();
  }
}

const stateOf = (store: TaskStore, taskId: string) => store.get(taskId)?.state;

test("TaskRunner runs at most `concurrency` handlers and starts the rest in the order they were queued", async () => {
  const gates = new Map<string, ReturnType<typeof gate>>();
  const started: string[] = [];
  const handler: TaskHandler = async (task, ctx) => {
    started.push(task.id);
    await until(gates.get(task.id)!.opened, ctx.signal);
  };
  await withRunner(handler, { concurrency: 2 }, async (runner, store) => {
    const ids = ["t1", "t2", "t3", "t4", "t5"];
    for (const id of ids) {
      gates.set(id, gate());
      await submit(store, id);
      runner.enqueue(id);
    }
    await waitFor(() => started.length === 2, { ...WAIT, what: "two handlers" });
    assert.deepEqual([runner.running, runner.waiting], [2, 3]);
    assert.deepEqual(ids.map((id) => stateOf(store, id)), ["TASK_STATE_WORKING", "TASK_STATE_WORKING", "TASK_STATE_SUBMITTED", "TASK_STATE_SUBMITTED", "TASK_STATE_SUBMITTED"]);
    runner.enqueue("t4"); // Already queued: not queued twice.
    assert.equal(runner.waiting, 3);
    gates.get("t2")!.open();
    await waitFor(() => started.length === 3, { ...WAIT, what: "a freed slot to be taken" });
    assert.equal(started[2], "t3");
    for (const id of ids) gates.get(id)!.open();
    await waitFor(() => ids.every((id) => stateOf(store, id) === "TASK_STATE_COMPLETED"), { ...WAIT, what: "every task to complete" });
    assert.deepEqual(started, ids);
    assert.deepEqual([runner.running, runner.waiting], [0, 0]);
  });
});

test("TaskRunner does not start a handler whose run was aborted while WORKING was journaled, so stop() does not wait forever", async () => {
  const journal = await openJournal(tempDir(), { warn: () => {} });
  const store = new TaskStore(journal);
  let started = false;
  // A handler that only listens for the abort event: it would never hear one that came before it started.
  const runner = new TaskRunner(store, async (_task, ctx) => {
    started = true;
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
  }, { onError: (error) => assert.fail(error) });
  try {
    await submit(store, "t1");
    const append = journal.append.bind(journal);
    journal.append = async (record) => {
      await append(record);
      // The abort lands between WORKING being durable and the handler's start.
      if ((record as { status?: { state: string } }).status?.state === "TASK_STATE_WORKING") runner.abort("t1");
    };
    runner.enqueue("t1");
    await waitFor(() => store.get("t1")?.state === "TASK_STATE_WORKING", { ...WAIT, what: "WORKING" });
    assert.equal(await within(runner.stop(), 3_000), "resolved");
    assert.equal(started, false);
  } finally {
    await journal.close();
  }
});

test("new TaskRunner() refuses a concurrency that is not a positive integer", async () => {
  const store = new TaskStore({ load: async () => [], append: async () => {}, compact: async () => {}, recordCount: 0, close: async () => {} });
  for (const concurrency of [0, -1, 1.5, Number.NaN]) assert.throws(() => new TaskRunner(store, () => {}, { concurrency }), RangeError, String(concurrency));
});

test("TaskRunner.abort() fires the running handler's signal and drops a queued task before it starts", async () => {
  const started: string[] = [];
  let reason: unknown;
  let lateCall: Promise<void> | undefined;
  const handler: TaskHandler = async (task, ctx) => {
    started.push(task.id);
    await until(new Promise(() => {}), ctx.signal);
    reason = ctx.signal.reason;
    lateCall = ctx.working("too late");
    await lateCall.catch(() => {});
  };
  await withRunner(handler, { concurrency: 1 }, async (runner, store) => {
    for (const id of ["t1", "t2"]) {
      await submit(store, id);
      runner.enqueue(id);
    }
    await waitFor(() => started.length === 1, { ...WAIT, what: "the first handler" });
    runner.abort("t2");
    assert.equal(runner.waiting, 0);
    runner.abort("t1");
    await waitFor(() => runner.running === 0, { ...WAIT, what: "the aborted run to return" });
    assert.match(String((reason as Error).message), /Task was canceled/);
    await assert.rejects(lateCall!, /Task was canceled/, "a ctx call after the abort is refused");
    assert.deepEqual(started, ["t1"], "the dropped task never started");
    assert.equal(stateOf(store, "t1"), "TASK_STATE_WORKING", "the cancel itself is the caller's to journal");
    assert.equal(stateOf(store, "t2"), "TASK_STATE_SUBMITTED");
    runner.abort("unknown"); // Nothing to do.
  });
});

test("TaskRunner fails the task with the message of what its handler throws, and completes it when the handler returns", async () => {
  const handler: TaskHandler = async (task) => {
    if (task.id === "throws") throw new Error("the model is down");
    if (task.id === "throws-string") throw "no Error at all";
  };
  const errors: Error[] = [];
  await withRunner(handler, { onError: (error) => errors.push(error) }, async (runner, store) => {
    for (const id of ["throws", "throws-string", "returns"]) {
      await submit(store, id);
      runner.enqueue(id);
    }
    await waitFor(() => runner.running === 0 && stateOf(store, "returns") === "TASK_STATE_COMPLETED", { ...WAIT, what: "every run to end" });
    const failed = store.get("throws")!.task;
    assert.equal(failed.status.state, "TASK_STATE_FAILED");
    assert.deepEqual([failed.status.message?.role, failed.status.message?.parts, failed.status.message?.taskId], ["ROLE_AGENT", [{ text: "the model is down" }], "throws"]);
    assert.equal(store.get("throws-string")!.task.status.message?.parts[0]?.text, "no Error at all");
    assert.equal(store.get("returns")!.task.status.message, undefined);
    assert.deepEqual(errors, [], "a failed handler is the task's outcome, not the runner's error");
  });
});

test("TaskRunner leaves a state the handler set itself, and refuses its ctx calls after it", async () => {
  let refused: unknown;
  const handler: TaskHandler = async (_task, ctx) => {
    await ctx.setStatus("TASK_STATE_REJECTED", "not my kind of task");
    refused = await ctx.working("still here?").then(() => "taken", (error: Error) => error.message);
  };
  await withRunner(handler, {}, async (runner, store) => {
    await submit(store, "t1");
    runner.enqueue("t1");
    await waitFor(() => refused !== undefined && runner.running === 0, { ...WAIT, what: "the run to end" });
    assert.equal(stateOf(store, "t1"), "TASK_STATE_REJECTED");
    assert.equal(store.get("t1")!.task.status.message?.parts[0]?.text, "not my kind of task");
    assert.match(String(refused), /has ended \(TASK_STATE_REJECTED\); no more changes/);
  });
});

test("TaskRunner: requestInput() ends the run, and a later enqueue() runs the handler again with the reply", async () => {
  const seen: Array<{ text: unknown; state: string }> = [];
  let late: unknown;
  const handler: TaskHandler = async (task, ctx) => {
    seen.push({ text: ctx.message?.parts[0]?.text, state: task.status.state });
    if (seen.length === 1) {
      await ctx.requestInput("which date?");
      late = await ctx.saveCheckpoint({ step: 2 }).then(() => "taken", (error: Error) => error.message);
    }
  };
  await withRunner(handler, {}, async (runner, store) => {
    await submit(store, "t1");
    runner.enqueue("t1");
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_INPUT_REQUIRED" && runner.running === 0, { ...WAIT, what: "the request for input" });
    assert.match(String(late), /asked for input or ended the task; a new run takes the next message/);
    assert.equal(store.get("t1")!.task.history?.at(-1)?.parts[0]?.text, "which date?");
    const reply = userText("t1", "tomorrow");
    await store.commit("t1", () => ({ type: "message", taskId: "t1", message: reply, status: { state: "TASK_STATE_SUBMITTED", timestamp: new Date().toISOString() } }));
    runner.enqueue("t1");
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_COMPLETED", { ...WAIT, what: "the second run" });
    assert.deepEqual(seen, [{ text: "go", state: "TASK_STATE_WORKING" }, { text: "tomorrow", state: "TASK_STATE_WORKING" }]);
  });
});

test("TaskRunner.enqueue() of a task whose run is still returning runs it again once that run has returned", async () => {
  const returning = gate();
  let runs = 0;
  const handler: TaskHandler = async (_task, ctx) => {
    runs++;
    if (runs === 1) {
      await ctx.requestInput("more?");
      await until(returning.opened, ctx.signal);
    }
  };
  await withRunner(handler, {}, async (runner, store) => {
    await submit(store, "t1");
    runner.enqueue("t1");
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_INPUT_REQUIRED", { ...WAIT, what: "the request for input" });
    runner.enqueue("t1");
    assert.deepEqual([runner.running, runner.waiting], [1, 0], "not queued beside its own run");
    returning.open();
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_COMPLETED", { ...WAIT, what: "the rerun" });
    assert.equal(runs, 2);
  });
});

test("TaskRunner.stop() aborts running handlers and waits for them, drops the queue, and takes no more work", async () => {
  const started: string[] = [];
  let returned = false;
  let reason: unknown;
  const handler: TaskHandler = async (task, ctx) => {
    started.push(task.id);
    await until(new Promise(() => {}), ctx.signal);
    reason = ctx.signal.reason;
    await Promise.resolve();
    returned = true;
  };
  await withRunner(handler, { concurrency: 1 }, async (runner, store) => {
    for (const id of ["t1", "t2"]) {
      await submit(store, id);
      runner.enqueue(id);
    }
    await waitFor(() => started.length === 1, { ...WAIT, what: "the first handler" });
    await runner.stop();
    assert.equal(returned, true, "stop() resolved after the handler returned");
    assert.match(String((reason as Error).message), /Agent is stopping/);
    assert.deepEqual([runner.running, runner.waiting], [0, 0]);
    await submit(store, "t3");
    runner.enqueue("t3");
    runner.enqueue("t2");
    assert.deepEqual([runner.running, runner.waiting], [0, 0], "a stopped runner takes nothing");
    assert.deepEqual(started, ["t1"]);
    assert.equal(stateOf(store, "t1"), "TASK_STATE_WORKING", "left as journaled, to resume at the next start");
  });
});

test("TaskRunner gives the handler a copy of the task, its message, checkpoint and resumed flag, and journals each ctx change", async () => {
  let ctxSeen: TaskContext | undefined;
  const changes: string[] = [];
  const handler: TaskHandler = async (task, ctx) => {
    ctxSeen = ctx;
    task.status.state = "TASK_STATE_CANCELED"; // The handler's own copy.
    task.history!.length = 0;
    await ctx.working("step 1", { checkpoint: { step: 1 } });
    await ctx.addArtifact({ artifactId: "a1", parts: [{ text: "part 1" }] });
    await ctx.addArtifact({ artifactId: "a1", parts: [{ text: "part 2" }] }, { append: true, lastChunk: true });
    await ctx.saveCheckpoint({ step: 2 });
  };
  const outbox = { add: (change: TaskChange | undefined) => void changes.push(change?.record.type ?? "none") };
  await withRunner(handler, { outbox }, async (runner, store) => {
    await submit(store, "t1");
    await store.commit("t1", () => ({ type: "checkpoint", taskId: "t1", checkpoint: { step: 0 } }));
    runner.enqueue("t1", { resumed: true });
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_COMPLETED", { ...WAIT, what: "the run" });
    assert.deepEqual([ctxSeen!.taskId, ctxSeen!.contextId, ctxSeen!.resumed, ctxSeen!.checkpoint], ["t1", "ctx", true, { step: 0 }]);
    assert.equal(ctxSeen!.message?.parts[0]?.text, "go");
    const task = store.get("t1")!.task;
    assert.equal(task.history?.[0]?.parts[0]?.text, "go", "the store's task is not the handler's copy");
    assert.deepEqual(task.artifacts, [{ artifactId: "a1", parts: [{ text: "part 1" }, { text: "part 2" }] }]);
    assert.deepEqual(task.history?.map((m) => m.parts[0]?.text), ["go", "step 1"]);
    assert.deepEqual(changes, ["status", "status", "artifact", "artifact", "checkpoint", "status"], "every change goes to the outbox");
  });
});

test("TaskRunner waits out a journal that refuses writes (a full disk), reporting it once, and goes on when it takes them", async () => {
  let full = false;
  const records: unknown[] = [];
  const storage: Storage = {
    load: async () => [],
    append: async (record) => {
      if (full) throw new JournalError("IO", "Cannot append journal entry: disk is full");
      records.push(record);
    },
    compact: async () => {},
    recordCount: 0,
    close: async () => {},
  };
  const store = new TaskStore(storage);
  const errors: string[] = [];
  const step = gate();
  const runner = new TaskRunner(store, async (_task, ctx) => {
    await until(step.opened, ctx.signal);
    await ctx.working("after the disk filled");
  }, { onError: (error, taskId) => errors.push(`${taskId}: ${error.message}`) });
  try {
    await submit(store, "t1");
    runner.enqueue("t1");
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_WORKING", { ...WAIT, what: "the run to start" });
    full = true;
    step.open();
    await waitFor(() => errors.length === 1, { ...WAIT, what: "the refusal to be reported" });
    assert.match(errors[0]!, /^t1: cannot journal a change, retrying until the journal takes it: Cannot append journal entry: disk is full/);
    assert.equal(stateOf(store, "t1"), "TASK_STATE_WORKING");
    full = false;
    await waitFor(() => stateOf(store, "t1") === "TASK_STATE_COMPLETED", { ...WAIT, what: "the retried change and the completion" });
    assert.equal(errors.length, 1, "reported once, not per retry");
    assert.equal(store.get("t1")!.task.history?.at(-1)?.parts[0]?.text, "after the disk filled");
  } finally {
    await runner.stop();
  }
});

test("agentMessage() makes a ROLE_AGENT text message, or takes a whole message and sets its ids", () => {
  const made = agentMessage("ctx", "t1", "hello");
  assert.deepEqual({ ...made, messageId: "x" }, { messageId: "x", role: "ROLE_AGENT", parts: [{ text: "hello" }], contextId: "ctx", taskId: "t1" });
  assert.notEqual(agentMessage("ctx", "t1", "hello").messageId, made.messageId, "a new id each time");
  const given: Message = { messageId: "m", role: "ROLE_AGENT", parts: [{ data: { a: 1 } }], contextId: "other", taskId: "other" };
  assert.deepEqual(agentMessage("ctx", "t1", given), { ...given, contextId: "ctx", taskId: "t1" });
  assert.equal(given.taskId, "other", "the given message is not changed");
});

test("TaskRunner stops a run whose lease may have passed to another replica before it writes, without failing the task", async () => {
  let holds = true;
  const leases = { claim: async () => true, release: async () => {}, holds: () => holds };
  let second: Promise<unknown> | undefined;
  const handler: TaskHandler = async (_task, ctx) => {
    await ctx.working("step 1", { checkpoint: 1 });
    holds = false;
    second = ctx.working("step 2", { checkpoint: 2 });
    await second.catch(() => {});
  };
  await withRunner(handler, { leases }, async (runner, store) => {
    await submit(store, "t1");
    runner.enqueue("t1");
    await waitFor(() => second !== undefined && runner.running === 0, { ...WAIT, what: "the run to stop" });
    await assert.rejects(second!, /canceled/);
    assert.equal(store.get("t1")?.state, "TASK_STATE_WORKING", "left for the lease's new holder, not failed");
    assert.equal(store.get("t1")?.checkpoint, 1);
  });
});
