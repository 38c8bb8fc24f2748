/**
 * Journal faults: a full disk (the write fails after part of the bytes), a read-only data directory,
 * and a journal cut at every byte of its last record. The journal must report the failure, keep the
 * last durable state, never read back a half record, and work again once the disk has room.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Agent } from "../lib/agent.ts";
import { JournalError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import type { TaskContext } from "../lib/runner.ts";
import { ROOT, TEST_PUSH, rawPost, startAgent, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";

const quiet = { warn: () => {} };

/** A disk with `room` bytes left: writes past it are cut short, then fail with ENOSPC. */
interface FakeDisk {
  room: number;
  /** Make `truncate` fail too (EIO), as on a disk that went bad. */
  failTruncate: boolean;
  /** ENOSPC errors raised so far. */
  failures: number;
}

function fakeDisk(): FakeDisk {
  return { room: Infinity, failTruncate: false, failures: 0 };
}

/** An `openFile` for openJournal whose handles write through `disk`. */
function openOn(disk: FakeDisk) {
  return async (path: string, flags: string, mode?: number): Promise<FileHandle> => {
    const handle = await open(path, flags, mode);
    return new Proxy(handle, {
      get(target, property) {
        if (property === "write") {
          return async (buffer: Uint8Array, offset: number, length: number, position: number) => {
            if (disk.room <= 0) {
              disk.failures++;
              throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
            }
            const allowed = Math.min(length, disk.room);
            disk.room -= allowed;
            return target.write(buffer, offset, allowed, position);
          };
        }
        if (property === "truncate" && disk.failTruncate) {
          return async () => {
            throw Object.assign(new Error("EIO: i/o error, ftruncate"), { code: "EIO" });
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
}

const journalPath = (dir: string) => join(dir, "journal.jsonl");

test("append() on a full disk rejects with JournalError IO, cuts off the partial write, and works once there is room", async () => {
  const dir = tempDir();
  const disk = fakeDisk();
  const journal = await openJournal(dir, { ...quiet, openFile: openOn(disk) });
  for (let n = 1; n <= 3; n++) await journal.append({ n, text: "durable" });
  const durableSize = statSync(journalPath(dir)).size;

  disk.room = 25; // Less than one record: the batch reaches the file only in part.
  const batch = [4, 5, 6].map((n) => journal.append({ n, text: "lost to a full disk" }));
  const outcomes = await Promise.allSettled(batch);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    const error = (outcome as PromiseRejectedResult).reason as JournalError;
    assert.ok(error instanceof JournalError);
    assert.equal(error.code, "IO");
    assert.match(error.message, /Cannot append to journal .*journal\.jsonl: ENOSPC/);
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ENOSPC");
  }
  assert.ok(disk.failures >= 1);
  assert.equal(statSync(journalPath(dir)).size, durableSize, "the partial bytes are truncated away");
  assert.deepEqual(decodeJournal(readFileSync(journalPath(dir))).records.slice(1).map((r) => (r as { n: number }).n), [1, 2, 3], "after the journal's header line");
  assert.equal(journal.recordCount, 3);

  // Still full: later appends fail the same way and leave nothing behind.
  await assert.rejects(journal.append({ n: 7 }), { name: "JournalError", code: "IO" });
  assert.equal(statSync(journalPath(dir)).size, durableSize);

  disk.room = Infinity;
  await journal.append({ n: 8, text: "after the disk was freed" });
  await journal.close();
  const reopened = await openJournal(dir, quiet);
  assert.deepEqual((await reopened.load()).map((r) => (r as { n: number }).n), [1, 2, 3, 8]);
  await reopened.close();
});

test("append() after a failed write whose truncate also failed never loses a later record nor revives the failed ones", async () => {
  const dir = tempDir();
  const disk = fakeDisk();
  const journal = await openJournal(dir, { ...quiet, openFile: openOn(disk) });
  await journal.append({ n: 1 });
  const first = encodeRecord({ n: 2, text: "x" }).length;
  disk.room = first + 10; // One whole record and part of the next reach the file...
  disk.failTruncate = true; // ...and cutting them off fails as well.
  const failed = await Promise.allSettled([journal.append({ n: 2, text: "x" }), journal.append({ n: 3, text: "y" })]);
  assert.deepEqual(failed.map((outcome) => outcome.status), ["rejected", "rejected"]);

  disk.room = Infinity;
  disk.failTruncate = false;
  await journal.append({ n: 4 });
  await journal.close();
  const reopened = await openJournal(dir, quiet);
  assert.deepEqual(await reopened.load(), [{ n: 1 }, { n: 4 }], "acknowledged records only, in order");
  await reopened.close();

  // Closed right after such a failure, with no append in between: the stray bytes go at close.
  const closing = await openJournal(dir, { ...quiet, openFile: openOn(disk) });
  disk.room = first + 10;
  disk.failTruncate = true;
  await assert.rejects(Promise.all([closing.append({ n: 5, text: "x" }), closing.append({ n: 6 })]), { code: "IO" });
  disk.failTruncate = false;
  await closing.close();
  const last = await openJournal(dir, quiet);
  assert.deepEqual(await last.load(), [{ n: 1 }, { n: 4 }]);
  await last.close();
});

test("a journal cut at every byte offset of its last record loads exactly the records before it", async () => {
  const dir = tempDir();
  const records: unknown[] = Array.from({ length: 5 }, (_, n) => ({ type: "status", n, text: `record ${n}` }));
  // The last record spans multi-byte UTF-8, so some cuts split a character.
  records.push({ type: "status", n: 5, text: "last: é ✓ 😀 \u2028 \\\" done" });
  const lines = records.map((record) => encodeRecord(record));
  const full = Buffer.concat(lines);
  const lastStart = full.length - lines.at(-1)!.length;
  const expected = records.slice(0, -1);
  const copy = join(dir, "copy");
  mkdirSync(copy);
  const warnings: string[] = [];
  for (let cut = lastStart; cut < full.length; cut++) {
    const bytes = full.subarray(0, cut);
    const decoded = decodeJournal(bytes);
    assert.deepEqual(decoded.records, expected, `decodeJournal() cut at ${cut}`);
    assert.equal(decoded.goodBytes, lastStart, `cut at ${cut}`);
    assert.equal(decoded.damaged, false, `a cut is a torn tail, not damage (cut at ${cut})`);

    writeFileSync(journalPath(copy), bytes);
    const journal = await openJournal(copy, { sync: false, warn: (message) => warnings.push(message) });
    assert.deepEqual(await journal.load(), expected, `openJournal() cut at ${cut}`);
    assert.equal(statSync(journalPath(copy)).size, lastStart, `the torn tail is truncated away (cut at ${cut})`);
    await journal.close();
  }
  // Cut exactly at the end of the previous record there is nothing to drop; whole, all six load.
  assert.equal(warnings.length, full.length - lastStart - 1);
  writeFileSync(journalPath(copy), full);
  const whole = await openJournal(copy, quiet);
  assert.deepEqual(await whole.load(), records);
  await whole.close();
  // And after a cut, appending continues on a clean line.
  copyFileSync(journalPath(copy), join(dir, "journal.jsonl"));
  truncateSync(journalPath(dir), full.length - 3);
  const resumed = await openJournal(dir, quiet);
  assert.equal((await resumed.load()).length, 5);
  await resumed.append({ n: 6 });
  await resumed.close();
  const again = await openJournal(dir, quiet);
  assert.deepEqual(await again.load(), [...expected, { n: 6 }]);
  await again.close();
});

test("SendMessage on a full disk answers -32603, logs the cause, and the agent keeps serving the last durable state", async () => {
  const dataDir = tempDir();
  const disk = fakeDisk();
  const logged: unknown[] = [];
  const t = await startAgent({ handler: () => {}, dataDir, openFile: openOn(disk), push: false }, { logError: (error) => logged.push(error) });
  const url = `${t.url}/`;
  const send = () => rawPost(url, JSON.stringify({ jsonrpc: "2.0", id: 7, method: "SendMessage", params: { message: userMessage({}) } }));
  try {
    const before = (await send()).body.result.task;
    assert.equal(before.status.state, "TASK_STATE_COMPLETED");

    disk.room = 0;
    const refused = await send();
    assert.equal(refused.status, 200);
    assert.equal(refused.body.id, 7);
    assert.equal(refused.body.error.code, -32603);
    assert.doesNotMatch(refused.body.error.message, /ENOSPC|journal\.jsonl/, "file-system details stay in the log");
    assert.equal(logged.length, 1);
    assert.ok(logged[0] instanceof JournalError && logged[0].code === "IO", String(logged[0]));
    assert.match((logged[0] as Error).message, /ENOSPC/);

    // Reads still serve what is durable; nothing of the refused task is visible.
    const listed = (await t.client.listTasks({})).tasks;
    assert.deepEqual(listed.map((task) => task.id), [before.id]);
    assert.equal((await t.client.getTask({ id: before.id })).status.state, "TASK_STATE_COMPLETED");

    disk.room = Infinity;
    assert.equal((await send()).body.result.task.status.state, "TASK_STATE_COMPLETED");
  } finally {
    await t.close();
  }
  const reopened = await Agent.open({ dataDir, handler: () => {}, warn: () => {}, push: false });
  try {
    assert.equal(reopened.store.size, 2);
    for (const { task } of reopened.store.all()) assert.equal(task.status.state, "TASK_STATE_COMPLETED");
  } finally {
    await reopened.close();
  }
});

test("a full disk holds tasks back without losing them: once space returns, every acknowledged task finishes and its webhooks arrive, without a restart", async () => {
  const dataDir = tempDir();
  const disk = fakeDisk();
  const stepped = new Set<string>();
  let release = false;
  const handler = async (_task: unknown, ctx: TaskContext) => {
    await ctx.working("step 1", { checkpoint: 1 });
    stepped.add(ctx.taskId);
    await waitFor(() => release || ctx.signal.aborted, { timeoutMs: 30_000, what: "the disk to fill up" });
    await ctx.working("step 2", { checkpoint: 2 }); // Waits while the disk is full.
    await ctx.addArtifact({ artifactId: "r", parts: [{ text: `done after checkpoint ${ctx.checkpoint ?? 0}` }] });
  };
  const receiver = await startTestReceiver();
  const t = await startAgent({ handler, dataDir, openFile: openOn(disk), push: TEST_PUSH, compactionMinRecords: 20, compactionFactor: 1.5 }, { logError: () => {} });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true, taskPushNotificationConfig: { url: receiver.url } } });
      ids.push(task.id);
    }
    await waitFor(() => stepped.size === ids.length, { what: "every task at step 1" });
    disk.room = 0;
    release = true;
    // While the disk is full, new work is refused cleanly, reads still serve, and nothing finishes.
    const refused = await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SendMessage", params: { message: userMessage({}) } }));
    assert.equal(refused.body.error.code, -32603);
    await waitFor(() => disk.failures >= 10, { what: "writes refused for a while (handlers, outbox, compaction)" });
    for (const id of ids) assert.equal((await t.client.getTask({ id })).status.state, "TASK_STATE_WORKING");
    disk.room = Infinity;
    await waitFor(async () => {
      const states = await Promise.all(ids.map(async (id) => (await t.client.getTask({ id })).status.state));
      return states.every((state) => state === "TASK_STATE_COMPLETED");
    }, { timeoutMs: 20_000, what: "every task to complete once the disk has room" });
    await waitFor(() => ids.every((id) => receiver.seen.some((r) => r.body.includes(id) && r.body.includes("TASK_STATE_COMPLETED"))), { timeoutMs: 20_000, what: "every completion webhook" });
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("an agent refuses to start on a read-only data directory or journal, naming it", async () => {
  const parent = tempDir();
  chmodSync(parent, 0o755); // mkdtemp makes it 0700: the unprivileged child must get through.
  const readOnlyDir = join(parent, "read-only");
  mkdirSync(readOnlyDir);
  chmodSync(readOnlyDir, 0o555);
  const readOnlyFile = join(parent, "read-only-journal");
  mkdirSync(readOnlyFile);
  writeFileSync(join(readOnlyFile, "journal.jsonl"), "");
  chmodSync(join(readOnlyFile, "journal.jsonl"), 0o444);
  // The directory is the agent's own (0700, owned by the user it runs as); only the journal is read-only.
  chmodSync(readOnlyFile, 0o700);
  if (process.getuid?.() === 0) chownSync(readOnlyFile, 65534, 65534);
  const [dirRun, fileRun] = await Promise.all([startAgentScript(readOnlyDir), startAgentScript(readOnlyFile)]);
  assert.notEqual(dirRun.code, 0, dirRun.output);
  assert.match(dirRun.output, new RegExp(`Data directory ${escape(readOnlyDir)} is not writable \\(EACCES\\)`), dirRun.output);
  assert.match(dirRun.output, /code: 'READ_ONLY'/);
  assert.doesNotMatch(dirRun.output, /listening on/);
  assert.notEqual(fileRun.code, 0, fileRun.output);
  assert.match(fileRun.output, new RegExp(`Journal ${escape(join(readOnlyFile, "journal.jsonl"))} is not writable \\(EACCES\\)`), fileRun.output);
  assert.match(fileRun.output, /code: 'READ_ONLY'/);
  assert.equal(readFileSync(join(readOnlyFile, "journal.jsonl"), "utf8"), "");
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Runs the agent script on `dataDir` as an unprivileged user (root ignores file modes), and waits
 * for it to exit; it is killed if it is still running after 20 s.
 */
async function startAgentScript(dataDir: string): Promise<{ code: number | null; output: string }> {
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts/long_running_agent.ts"), "--port", "0", "--data-dir", dataDir], {
    cwd: ROOT,
    env: { ...process.env, HOME: "/tmp" },
    stdio: ["ignore", "pipe", "pipe"],
    ...asNobody,
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await waitFor(() => child.exitCode !== null || child.signalCode !== null || /listening on/.test(output), { timeoutMs: 20_000, what: "the agent script to exit" });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  return { code: await exited, output };
}

test("an agent on a journal with one damaged line in the middle refuses to start; with repair every other task is still readable", async () => {
  const dataDir = tempDir();
  const t = await startAgent({ handler: () => {}, dataDir, push: false });
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await t.client.sendMessage({ message: userMessage({ i }) })).task.id);
  await t.close();
  // Flip one byte inside the line that created the tenth task: its checksum no longer matches.
  const lines = readFileSync(journalPath(dataDir), "utf8").split("\n");
  const victim = lines.findIndex((line) => line.includes(`"type":"task"`) && line.includes(ids[9]!));
  lines[victim] = lines[victim]!.replace('"TASK_STATE_SUBMITTED"', '"TASK_STATE_SUBMITTEX"');
  writeFileSync(journalPath(dataDir), lines.join("\n"));
  await assert.rejects(Agent.open({ dataDir, handler: () => {}, warn: () => {}, push: false }), (error: JournalError) => error.code === "CORRUPT" && error.message.includes(`line ${victim + 1}`));
  const warnings: string[] = [];
  // The damaged task's later records name a task that is gone: those are dropped too, not the agent.
  const repaired = await Agent.open({ dataDir, handler: () => {}, warn: (m) => warnings.push(m), push: false, repair: true }).catch((error: Error) => error);
  assert.ok(!(repaired instanceof Error), String(repaired));
  try {
    for (const [i, id] of ids.entries()) {
      if (i === 9) continue;
      assert.equal((await repaired.getTask({ id })).status.state, "TASK_STATE_COMPLETED", `task ${i}`);
    }
    assert.match(warnings.join("\n"), /moved 1 damaged line/);
  } finally {
    await repaired.close();
  }
});
