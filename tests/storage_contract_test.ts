/**
 * The store seam's contract, run against both implementations: the file journal (`fileStorage`)
 * and PostgreSQL (`PgStorage`, skipped with the reason without a database). A task store over
 * either keeps what it committed across a reopen, in order, with owners and deliveries; compaction
 * drops what retention dropped and keeps the rest; a process alone gets every lease and claim it
 * asks for, and gets a run again once it let it go.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeTaskRecordAt } from "../lib/frozen_task.ts";
import { openJournal } from "../lib/journal.ts";
import { PgStorage } from "../lib/pg_storage.ts";
import { fileStorage } from "../lib/storage.ts";
import type { TaskStorage } from "../lib/storage.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { Task } from "../lib/types.ts";
import { tempDir } from "./helpers.ts";
import { DATABASE_URL, freshSchema, needsDatabase } from "./pg_helpers.ts";

/** Opens the same store again and again (a restart), and cleans up at the end. */
interface Subject {
  open(): Promise<TaskStorage>;
  cleanUp(): Promise<void>;
}

const SUBJECTS: Array<{ name: string; options: { skip: string | false }; make: () => Promise<Subject> }> = [
  {
    name: "file journal",
    options: { skip: false },
    make: async () => {
      const dir = tempDir();
      return { open: async () => fileStorage(await openJournal(dir, { warn: () => {}, decode: decodeTaskRecordAt })), cleanUp: async () => {} };
    },
  },
  {
    name: "PostgreSQL",
    options: needsDatabase(),
    make: async () => {
      const { schema, drop } = await freshSchema();
      return { open: () => PgStorage.open({ url: DATABASE_URL!, schema }), cleanUp: drop };
    },
  },
];

async function reopen(storage: TaskStorage, options: ConstructorParameters<typeof TaskStore>[1] = {}): Promise<TaskStore> {
  const store = new TaskStore(storage, options);
  for (const record of await storage.load()) store.replay(record);
  store.freezeFinished();
  return store;
}

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
const newTask = (id: string, minutesAgo = 0): Task => ({ id, contextId: "c", status: { state: "TASK_STATE_SUBMITTED", timestamp: at(minutesAgo) } });

for (const { name, options, make } of SUBJECTS) {
  test(`${name}: a task store keeps what it committed, in order, with owners, configs and owed deliveries, across a reopen`, options, async () => {
    const subject = await make();
    try {
      const first = await subject.open();
      const store = new TaskStore(first);
      const config = { id: "c1", taskId: "t1", url: "https://r.example/hook", principal: "alice" };
      await store.commit("t1", () => ({ type: "task", task: newTask("t1"), principal: "alice", tenant: "x", pushConfigs: [config] }));
      for (let step = 1; step <= 3; step++) {
        await store.commit("t1", () => ({ type: "status", taskId: "t1", status: { state: "TASK_STATE_WORKING", timestamp: at(0), message: { messageId: `m${step}`, role: "ROLE_AGENT", parts: [{ text: `step ${step}` }] } }, checkpoint: step }));
      }
      await store.commit("t2", () => ({ type: "task", task: newTask("t2") }));
      await first.close();
      const second = await subject.open();
      const again = await reopen(second);
      const t1 = again.get("t1")!;
      assert.deepEqual([t1.state, t1.checkpoint, t1.principal, t1.tenant], ["TASK_STATE_WORKING", 3, "alice", "x"]);
      assert.deepEqual(t1.task.history?.map((m) => m.parts[0]?.text), ["step 1", "step 2", "step 3"]);
      assert.equal(again.config("t1", "c1")?.principal, "alice");
      assert.deepEqual([...again.all()].map((s) => s.id), ["t1", "t2"]);
      assert.deepEqual([again.openTasks("alice"), again.openTasks(undefined)], [1, 1]);
      await second.close();
    } finally {
      await subject.cleanUp();
    }
  });

  test(`${name}: compaction drops the finished tasks past retention and keeps everything else`, options, async () => {
    const subject = await make();
    try {
      const storage = await subject.open();
      const store = new TaskStore(storage, { retentionMs: 60 * 60_000 });
      for (const [id, minutesAgo] of [["old", 120], ["recent", 10]] as const) {
        await store.commit(id, () => ({ type: "task", task: newTask(id, minutesAgo) }));
        await store.commit(id, () => ({ type: "status", taskId: id, status: { state: "TASK_STATE_COMPLETED", timestamp: at(minutesAgo) } }));
      }
      await store.commit("live", () => ({ type: "task", task: newTask("live", 300) }));
      await store.compact(() => []);
      await storage.close();
      const reopened = await subject.open();
      const again = await reopen(reopened, { retentionMs: 60 * 60_000 });
      assert.deepEqual([...again.all()].map((s) => [s.id, s.state]).sort(), [["live", "TASK_STATE_SUBMITTED"], ["recent", "TASK_STATE_COMPLETED"]]);
      await reopened.close();
    } finally {
      await subject.cleanUp();
    }
  });

  test(`${name}: a process alone gets every run lease and delivery claim it asks for, and a run again after letting it go`, options, async () => {
    const subject = await make();
    try {
      const storage = await subject.open();
      const store = new TaskStore(storage);
      const delivery = { id: "w1", taskId: "t1", configId: "c1", kind: "task" as const, body: "{}", attempts: 0, nextAt: 0 };
      await store.commit("t1", () => ({ type: "task", task: newTask("t1"), pushConfigs: [{ id: "c1", taskId: "t1", url: "https://r.example/hook" }] }));
      await storage.append({ type: "push.delivery", taskId: "t1", delivery });
      assert.deepEqual(await storage.claimRuns(["t1", "t2"], 10_000), new Set(["t1", "t2"]));
      assert.deepEqual(await storage.claimRuns(["t1"], 10_000), new Set(["t1"]), "renewing its own");
      await storage.releaseRun("t1");
      assert.deepEqual(await storage.claimRuns(["t1"], 10_000), new Set(["t1"]));
      assert.deepEqual(await storage.claimDeliveries(["w1"], 10_000), new Set(["w1"]));
      await storage.catchUp(); // Nothing committed elsewhere: nothing to hand over, and it resolves.
      await storage.close();
    } finally {
      await subject.cleanUp();
    }
  });
}
