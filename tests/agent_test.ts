import assert from "node:assert/strict";
import { test } from "node:test";
import { Agent } from "../lib/agent.ts";
import { A2AError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import type { TaskContext } from "../lib/runner.ts";
import type { StreamResponse, Task } from "../lib/types.ts";
import { startAgent, tempDir, userMessage, waitFor } from "./helpers.ts";

/** A handler that waits for a release per task, so tests control when work ends. */
function gatedHandler() {
  const gates = new Map<string, () => void>();
  const started: string[] = [];
  const handler = async (_task: Task, ctx: TaskContext) => {
    started.push(ctx.taskId);
    await new Promise<void>((resolve, reject) => {
      gates.set(ctx.taskId, resolve);
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    });
    await ctx.addArtifact({ artifactId: "out", parts: [{ text: "done" }] });
  };
  const release = async (taskId: string) => {
    const open = await waitFor(() => gates.get(taskId), { what: `task ${taskId} to start` });
    open();
  };
  return { handler, release, started };
}

test("SendMessage blocks until the task completes and returns its artifacts", async () => {
  const t = await startAgent({ handler: async (_task, ctx) => void (await ctx.addArtifact({ artifactId: "a", parts: [{ text: "hello" }] })) });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}) });
    assert.equal(task.status.state, "TASK_STATE_COMPLETED");
    assert.equal(task.artifacts?.[0]?.parts[0]?.text, "hello");
    assert.equal(task.history?.[0]?.role, "ROLE_USER");
  } finally {
    await t.close();
  }
});

test("SendMessage with returnImmediately answers before the work ends, and historyLength cuts history", async () => {
  const gate = gatedHandler();
  const t = await startAgent({ handler: gate.handler });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true, historyLength: 0 } });
    assert.equal(task.status.state, "TASK_STATE_SUBMITTED");
    assert.equal(task.history, undefined);
    await gate.release(task.id);
    const done = await waitFor(async () => {
      const current = await t.client.getTask({ id: task.id, historyLength: 1 });
      return current.status.state === "TASK_STATE_COMPLETED" ? current : undefined;
    }, { what: "completion" });
    assert.equal(done.history?.length, 1);
  } finally {
    await t.close();
  }
});

test("a stream dropped after its first event does not stop the task", async () => {
  const gate = gatedHandler();
  const t = await startAgent({ handler: gate.handler });
  try {
    const controller = new AbortController();
    const events = t.client.sendStreamingMessage({ message: userMessage({}) }, { signal: controller.signal });
    const first = (await events.next()).value as StreamResponse;
    assert.ok("task" in first);
    controller.abort();
    await events.return(undefined);
    await gate.release(first.task.id);
    await waitFor(async () => (await t.client.getTask({ id: first.task.id })).status.state === "TASK_STATE_COMPLETED", { what: "completion after disconnect" });
  } finally {
    await t.close();
  }
});

test("SendStreamingMessage streams the Task, status and artifact updates, then closes at completion", async () => {
  const t = await startAgent({
    handler: async (_task, ctx) => {
      await ctx.working("half way");
      await ctx.addArtifact({ artifactId: "a", parts: [{ text: "one " }] });
      await ctx.addArtifact({ artifactId: "a", parts: [{ text: "two" }] }, { append: true, lastChunk: true });
    },
  });
  try {
    const kinds: string[] = [];
    let taskId = "";
    for await (const event of t.client.sendStreamingMessage({ message: userMessage({}) })) {
      if ("task" in event) taskId = event.task.id;
      kinds.push("statusUpdate" in event ? event.statusUpdate.status.state : Object.keys(event)[0]!);
    }
    assert.deepEqual(kinds, ["task", "TASK_STATE_WORKING", "TASK_STATE_WORKING", "artifactUpdate", "artifactUpdate", "TASK_STATE_COMPLETED"]);
    const task = await t.client.getTask({ id: taskId });
    assert.deepEqual(task.artifacts?.[0]?.parts.map((p) => p.text), ["one ", "two"]);
  } finally {
    await t.close();
  }
});

test("SubscribeToTask sends the current Task first, then updates; on a terminal task it is refused", async () => {
  const gate = gatedHandler();
  const t = await startAgent({ handler: gate.handler });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true } });
    await waitFor(() => gate.started.includes(task.id));
    const events: StreamResponse[] = [];
    const reading = (async () => {
      for await (const event of t.client.subscribeToTask({ id: task.id })) {
        events.push(event);
        if (events.length === 1) await gate.release(task.id);
      }
    })();
    await reading;
    assert.ok("task" in events[0]!);
    const last = events.at(-1)!;
    assert.ok("statusUpdate" in last && last.statusUpdate.status.state === "TASK_STATE_COMPLETED");
    await assert.rejects(async () => {
      for await (const _ of t.client.subscribeToTask({ id: task.id })) break;
    }, { code: -32004 });
  } finally {
    await t.close();
  }
});

test("a handler that throws fails the task with the error's message, and the agent goes on", async () => {
  const t = await startAgent({
    handler: async (_task, ctx) => {
      if (ctx.message?.parts[0]?.data === "boom") throw new Error("the model is down");
    },
  });
  try {
    const failed = await t.client.sendMessage({ message: userMessage("boom") });
    assert.equal(failed.task.status.state, "TASK_STATE_FAILED");
    assert.equal(failed.task.status.message?.parts[0]?.text, "the model is down");
    const ok = await t.client.sendMessage({ message: userMessage("fine") });
    assert.equal(ok.task.status.state, "TASK_STATE_COMPLETED");
  } finally {
    await t.close();
  }
});

test("CancelTask cancels, fires the handler's signal, and refuses a second cancel", async () => {
  let aborted = false;
  const gate = gatedHandler();
  const t = await startAgent({
    handler: async (task, ctx) => {
      ctx.signal.addEventListener("abort", () => (aborted = true));
      await gate.handler(task, ctx);
    },
  });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true } });
    await waitFor(() => gate.started.includes(task.id));
    const canceled = await t.client.cancelTask({ id: task.id });
    assert.equal(canceled.status.state, "TASK_STATE_CANCELED");
    assert.equal(aborted, true);
    await assert.rejects(t.client.cancelTask({ id: task.id }), { code: -32002 });
    assert.equal((await t.client.getTask({ id: task.id })).status.state, "TASK_STATE_CANCELED");
  } finally {
    await t.close();
  }
});

test("input required: the task waits, and a message with its taskId runs the handler again", async () => {
  const t = await startAgent({
    handler: async (_task, ctx) => {
      const answer = ctx.message?.parts[0]?.text;
      if (answer === undefined) return ctx.requestInput("What is your name?");
      await ctx.addArtifact({ artifactId: "greeting", parts: [{ text: `Hello, ${answer}` }] });
    },
  });
  try {
    const first = await t.client.sendMessage({ message: userMessage({}) });
    assert.equal(first.task.status.state, "TASK_STATE_INPUT_REQUIRED");
    assert.equal(first.task.status.message?.parts[0]?.text, "What is your name?");
    await assert.rejects(
      t.client.sendMessage({ message: { ...userMessage(null), parts: [{ text: "x" }], taskId: first.task.id, contextId: "other" } }),
      (error: A2AError) => error.code === -32602 && /contextId/.test(error.message),
    );
    const second = await t.client.sendMessage({ message: { messageId: "m2", role: "ROLE_USER", parts: [{ text: "Ada" }], taskId: first.task.id } });
    assert.equal(second.task.status.state, "TASK_STATE_COMPLETED");
    assert.equal(second.task.artifacts?.[0]?.parts[0]?.text, "Hello, Ada");
    await assert.rejects(
      t.client.sendMessage({ message: { messageId: "m3", role: "ROLE_USER", parts: [{ text: "again" }], taskId: first.task.id } }),
      { code: -32004 },
    );
    await assert.rejects(t.client.sendMessage({ message: { ...userMessage({}), taskId: "no-such-task" } }), { code: -32001 });
  } finally {
    await t.close();
  }
});

test("no more than `concurrency` handlers run at once; the rest wait submitted", async () => {
  const gate = gatedHandler();
  const t = await startAgent({ handler: gate.handler, concurrency: 2 });
  try {
    const tasks: Task[] = [];
    for (let i = 0; i < 4; i++) tasks.push((await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true } })).task);
    await waitFor(() => gate.started.length === 2, { what: "two handlers" });
    assert.equal(t.agent.runner.running, 2);
    assert.equal((await t.client.getTask({ id: tasks[3]!.id })).status.state, "TASK_STATE_SUBMITTED");
    for (const task of tasks) await gate.release(task.id);
    await waitFor(async () => (await t.client.listTasks({ status: "TASK_STATE_COMPLETED" })).totalSize === 4, { what: "all four done" });
  } finally {
    await t.close();
  }
});

test("ListTasks filters by context and state and pages newest first", async () => {
  const t = await startAgent({ handler: () => {} });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.client.sendMessage({ message: userMessage({}, { contextId: "ctx-a" }) })).task.id);
    await t.client.sendMessage({ message: userMessage({}, { contextId: "ctx-b" }) });
    const seen: string[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < 5; page++) {
      const result = await t.client.listTasks({ contextId: "ctx-a", pageSize: 2, pageToken });
      assert.equal(result.totalSize, 5);
      assert.ok(result.tasks.every((task) => task.artifacts === undefined));
      seen.push(...result.tasks.map((task) => task.id));
      if (!result.nextPageToken) break;
      pageToken = result.nextPageToken;
    }
    assert.deepEqual(new Set(seen), new Set(ids));
    assert.equal(seen.length, 5);
    assert.equal((await t.client.listTasks({ status: "TASK_STATE_WORKING" })).totalSize, 0);
    await assert.rejects(t.client.listTasks({ pageToken: "garbage" }), { code: -32602 });
    await assert.rejects(t.client.listTasks({ pageSize: 101 }), { code: -32602 });
  } finally {
    await t.close();
  }
});

test("Agent.open() resumes a working task with its last checkpoint after a restart", async () => {
  const dataDir = tempDir();
  const gate = gatedHandler();
  const first = await startAgent({
    dataDir,
    handler: async (task, ctx) => {
      await ctx.saveCheckpoint({ step: 1 });
      await gate.handler(task, ctx);
    },
  });
  const { task } = await first.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true } });
  await waitFor(() => gate.started.includes(task.id));
  await first.close(); // Aborts the handler; the task stays WORKING in the journal.
  const resumed: Array<{ checkpoint: unknown; resumed: boolean }> = [];
  const second = await startAgent({
    dataDir,
    handler: async (_task, ctx) => void resumed.push({ checkpoint: ctx.checkpoint, resumed: ctx.resumed }),
  });
  try {
    await waitFor(async () => (await second.client.getTask({ id: task.id })).status.state === "TASK_STATE_COMPLETED", { what: "resumed completion" });
    assert.deepEqual(resumed, [{ checkpoint: { step: 1 }, resumed: true }]);
  } finally {
    await second.close();
  }
});

test("compaction keeps exactly the live state and drops terminal tasks past retention", async () => {
  const dataDir = tempDir();
  const agent = await Agent.open({
    dataDir,
    warn: () => {},
    compactionMinRecords: 1_000_000,
    handler: async (_t, ctx) => {
      await ctx.working("w", { checkpoint: 7 });
      if (ctx.message?.parts[0]?.data === "ask") await ctx.requestInput("more?");
    },
  });
  const { task } = await agent.sendMessage({ message: userMessage({}) });
  const { task: waiting } = await agent.sendMessage({ message: userMessage("ask") });
  const before = await agent.getTask({ id: task.id });
  const waitingBefore = await agent.getTask({ id: waiting.id });
  const recordsBefore = agent.journal!.recordCount;
  await agent.compact();
  assert.ok(agent.journal!.recordCount < recordsBefore);
  // The finished task's body now lives in the compacted file only, and reads back from there.
  assert.equal((agent.store.get(task.id) as { json?: string }).json, undefined);
  assert.deepEqual(await agent.getTask({ id: task.id }), before);
  await agent.close();
  const reopened = await Agent.open({ dataDir, handler: () => {}, warn: () => {} });
  assert.deepEqual(await reopened.getTask({ id: task.id }), before);
  assert.deepEqual(await reopened.getTask({ id: waiting.id }), waitingBefore);
  assert.equal(reopened.store.get(waiting.id)?.checkpoint, 7, "a live task keeps its checkpoint");
  await reopened.close();
  // Eight days on, the completed task is past the default retention and compaction drops it.
  const { TaskStore } = await import("../lib/task_store.ts");
  const { decodeTaskRecord } = await import("../lib/frozen_task.ts");
  const journal = await openJournal(dataDir, { warn: () => {}, decode: decodeTaskRecord });
  const store = new TaskStore(journal, { now: () => Date.now() + 8 * 24 * 3600 * 1000 });
  for (const record of await journal.load()) store.replay(record);
  await store.compact(() => []);
  assert.equal(store.size, 1, "only the task still waiting for input is left");
  await journal.close();
});

test("a reply that arrives while the run that asked for input is still returning runs the handler again", async () => {
  let releaseFirst!: () => void;
  const firstReturns = new Promise<void>((resolve) => (releaseFirst = resolve));
  let runs = 0;
  const t = await startAgent({
    handler: async (_task, ctx) => {
      runs++;
      const answer = ctx.message?.parts[0]?.text;
      if (answer === undefined) {
        await ctx.requestInput("Name?");
        await firstReturns; // Still busy when the reply comes in.
        await assert.rejects(ctx.working("late"), /a new run takes the next message/);
        return;
      }
      await ctx.addArtifact({ artifactId: "greeting", parts: [{ text: `Hello, ${answer}` }] });
    },
  });
  try {
    const first = await t.client.sendMessage({ message: userMessage({}) });
    assert.equal(first.task.status.state, "TASK_STATE_INPUT_REQUIRED");
    const reply = t.client.sendMessage({ message: { messageId: "m2", role: "ROLE_USER", parts: [{ text: "Ada" }], taskId: first.task.id } });
    await waitFor(async () => (await t.client.getTask({ id: first.task.id })).status.state === "TASK_STATE_SUBMITTED", { what: "the reply journaled" });
    releaseFirst();
    const second = await reply;
    assert.equal(second.task.status.state, "TASK_STATE_COMPLETED");
    assert.equal(second.task.artifacts?.[0]?.parts[0]?.text, "Hello, Ada");
    assert.equal(runs, 2);
  } finally {
    releaseFirst();
    await t.close();
  }
});
