import assert from "node:assert/strict";
import { test } from "node:test";
import { openJournal } from "../lib/journal.ts";
import { openPushDelivery, replayJournal } from "../lib/push_delivery.ts";
import { TaskStore } from "../lib/task_store.ts";
import { TEST_PUSH, startTestReceiver, tempDir, waitFor } from "./helpers.ts";

const status = { state: "TASK_STATE_WORKING" as const, timestamp: "2026-11-27T00:00:00.000Z" };

test("replayJournal() refuses a record about a task it never saw, and with repair skips it with one warning", async () => {
  const dir = tempDir();
  const writing = await openJournal(dir);
  await writing.append({ type: "task", task: { id: "t1", contextId: "c1", status } });
  await writing.append({ type: "status", taskId: "lost-first-line", status });
  await writing.close();
  const journal = await openJournal(dir);
  await assert.rejects(replayJournal(journal, new TaskStore(journal), undefined, { repair: false, warn: () => {} }), /unknown task lost-first-line/);
  await journal.close();
  const again = await openJournal(dir);
  const warnings: string[] = [];
  const store = new TaskStore(again);
  await replayJournal(again, store, undefined, { repair: true, warn: (line) => warnings.push(line) });
  assert.equal(store.size, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /repair left 1 record\(s\) about tasks whose first record was damaged/);
  await again.close();
});

test("openPushDelivery() makes an outbox that sends nothing until started, then delivers what a commit owes, signed as the options say", async () => {
  const receiver = await startTestReceiver();
  const journal = await openJournal(tempDir());
  const store = new TaskStore(journal);
  const { sender, outbox } = openPushDelivery(store, TEST_PUSH, { keys: undefined, issuer: "" });
  try {
    const config = { id: "c", taskId: "t1", url: receiver.url };
    outbox.add(await store.commit("t1", () => ({ type: "task", task: { id: "t1", contextId: "c1", status }, pushConfigs: [config] })));
    assert.equal(outbox.pendingCount, 1);
    assert.equal(receiver.seen.length, 0);
    outbox.start();
    await waitFor(() => outbox.deliveredCount === 1, { what: "the Task delivered" });
    assert.match(String(receiver.seen[0]!.headers["webhook-signature"]), /^v1,/);
  } finally {
    await outbox.stop();
    sender.close();
    await journal.close();
    await receiver.close();
  }
});
