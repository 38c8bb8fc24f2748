/**
 * Finished tasks keep only where their journal line is; their bodies are read back on demand.
 * These tests hold the journal's side (locations at load, `readLine`, relocation at compaction,
 * reads racing a compaction) and the agent's (GetTask, ListTasks, a push config on a finished task,
 * several compactions and restarts in a row).
 */

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { JournalError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import type { StoredLine } from "../lib/journal.ts";
import type { LineLocation } from "../lib/journal_format.ts";
import { FrozenTask, decodeTaskRecordAt } from "../lib/frozen_task.ts";
import { Compactor } from "../lib/compaction.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { Task } from "../lib/types.ts";
import { TEST_PUSH, startAgent, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";

const finished = (id: string, text: string, at = Date.now()): Task => ({
  id,
  contextId: `ctx-${id}`,
  status: { state: "TASK_STATE_COMPLETED", timestamp: new Date(at).toISOString() },
  artifacts: [{ artifactId: "a", parts: [{ text }] }],
});

/** A snapshot item that remembers where compaction put it. */
class Marker implements StoredLine {
  journalLine: LineLocation | undefined = undefined;
  readonly payload: Record<string, unknown>;
  constructor(payload: Record<string, unknown>) {
    this.payload = payload;
  }
  toJournalJson(): string {
    return JSON.stringify(this.payload);
  }
  relocated(location: LineLocation): void {
    this.journalLine = location;
  }
}

/** A record's JSON bytes, parsed. */
const parse = (json: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(json));

/** Opens the journal in `dir` and loads it, keeping each record with its line's location. */
async function openSeeing(dir: string) {
  const seen: Array<{ record: unknown; line: LineLocation }> = [];
  const journal = await openJournal(dir, { decode: (json, line) => (seen.push({ record: parse(json), line }), null) });
  await journal.load();
  return { journal, seen };
}

/** The records in `dir`'s journal, in order. */
async function recordsIn(dir: string): Promise<unknown[]> {
  const { journal, seen } = await openSeeing(dir);
  await journal.close();
  return seen.map(({ record }) => record);
}

test("journal: load gives each record its line's location, and readLine reads it back", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir);
  for (let i = 0; i < 5; i++) await journal.append({ n: i, text: "ü".repeat(i * 1000) });
  await journal.close();
  const { journal: reopened, seen } = await openSeeing(dir);
  assert.equal(seen.length, 5);
  for (const { record, line } of seen) assert.deepEqual(parse(await reopened.readLine(line)), record);
  // A location that is not exactly one line is refused, not misread.
  const second = seen[1]!.line;
  await assert.rejects(reopened.readLine({ position: second.position + 1, length: second.length }), (e: Error) => e instanceof JournalError && e.code === "CORRUPT");
  await assert.rejects(reopened.readLine({ position: second.position, length: second.length - 1 }), (e: Error) => e instanceof JournalError && e.code === "CORRUPT");
  await assert.rejects(reopened.readLine({ position: 1e9, length: 20 }), (e: Error) => e instanceof JournalError && e.code === "CORRUPT");
  await reopened.close();
});

test("journal: compaction copies lines already on disk, tells every StoredLine where it went, and lets reads in flight finish", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir);
  for (let i = 0; i < 200; i++) await journal.append({ n: i, pad: "x".repeat(3000) });
  await journal.close();
  const { journal: reopened, seen } = await openSeeing(dir);
  // Every other old line stays (copied as bytes), and new records come in between.
  const kept = seen.filter((_, i) => i % 2 === 0).map(({ line }) => Object.assign(new Marker({}), { journalLine: line }));
  const fresh = Array.from({ length: 50 }, (_, i) => new Marker({ fresh: i }));
  const before = await Promise.all(kept.map((m) => reopened.readLine(m.journalLine!)));
  const racing = reopened.readLine(kept[7]!.journalLine!); // Started before the swap, on the old file.
  await reopened.compact(() => [...kept.slice(0, 50), ...fresh, ...kept.slice(50)]);
  assert.deepEqual(await racing, before[7]);
  for (const [i, marker] of kept.entries()) assert.deepEqual(await reopened.readLine(marker.journalLine!), before[i], `kept ${i}`);
  for (const marker of fresh) assert.deepEqual(parse(await reopened.readLine(marker.journalLine!)), marker.payload);
  assert.equal(reopened.recordCount, 150);
  await reopened.close();
  // And the file reads back as exactly those records, in that order.
  const records = await recordsIn(dir);
  assert.equal(records.length, 150);
  assert.deepEqual(records[50], { fresh: 0 });
  assert.deepEqual(records[0], { n: 0, pad: "x".repeat(3000) });
  assert.deepEqual(records[149], { n: 198, pad: "x".repeat(3000) });
});

test("journal: a compaction file left by a crashed compaction is not glued to the next one", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir);
  for (let i = 0; i < 20; i++) await journal.append({ n: i });
  writeFileSync(join(dir, "journal.jsonl.compact"), "0000000a {\"half\":"); // A crash mid-write.
  const markers = Array.from({ length: 5 }, (_, i) => new Marker({ kept: i }));
  await journal.compact(() => markers);
  for (const marker of markers) assert.deepEqual(parse(await journal.readLine(marker.journalLine!)), marker.payload);
  await journal.close();
  assert.deepEqual(await recordsIn(dir), markers.map((m) => m.payload));
});

test("journal: close() waits for a compaction in progress, which completes", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir);
  for (let i = 0; i < 300; i++) await journal.append({ n: i, pad: "y".repeat(5000) });
  await journal.close();
  const { journal: reopened, seen } = await openSeeing(dir);
  const markers = seen.map(({ line }) => Object.assign(new Marker({}), { journalLine: line }));
  const compaction = reopened.compact(() => markers);
  await reopened.close();
  await compaction;
  assert.throws(() => readFileSync(join(dir, "journal.jsonl.compact")), /ENOENT/);
  assert.equal((await recordsIn(dir)).length, 300);
});

test("store: finished tasks load without their bodies; read() brings one back; compaction and restarts keep them intact", async () => {
  const dir = tempDir();
  let journal = await openJournal(dir, { decode: decodeTaskRecordAt });
  let store = new TaskStore(journal);
  const tasks = Array.from({ length: 30 }, (_, i) => finished(`t${i}`, `body ${i} ${"ß".repeat(i * 50)}`));
  for (const task of tasks) {
    await store.commit(task.id, () => ({ type: "task", task: { ...task, status: { state: "TASK_STATE_WORKING", timestamp: task.status.timestamp } } }));
    await store.commit(task.id, () => ({ type: "status", taskId: task.id, status: task.status }));
  }
  // Finished during this process: kept as text until a compaction writes them.
  assert.equal(typeof (store.get("t3") as FrozenTask).json, "string");
  for (let round = 0; round < 3; round++) {
    await store.compact(() => []);
    assert.equal((store.get("t3") as FrozenTask).json, undefined, `round ${round}: on disk after compaction`);
    for (const task of tasks) assert.deepEqual(await store.read(store.get(task.id)!), task, `round ${round} ${task.id}`);
    await journal.close();
    journal = await openJournal(dir, { decode: decodeTaskRecordAt });
    store = new TaskStore(journal);
    for (const record of await journal.load()) store.replay(record);
    store.freezeFinished();
    assert.equal((store.get("t7") as FrozenTask).json, undefined, `round ${round}: on disk after a restart`);
    for (const task of tasks) assert.deepEqual(await store.read(store.get(task.id)!), task, `round ${round} ${task.id} after restart`);
  }
  await journal.close();
});

test("store: a task dropped by retention reads as gone, never as another task's line", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, { decode: decodeTaskRecordAt });
  let now = Date.now();
  const store = new TaskStore(journal, { now: () => now, retentionMs: 1000 });
  await store.commit("old", () => ({ type: "task", task: finished("old", "old one") }));
  await store.compact(() => []);
  const old = store.get("old")!;
  now += 5000;
  await store.commit("new", () => ({ type: "task", task: finished("new", "new one", now) }));
  await store.compact(() => []); // Drops "old"; "new" may now sit where "old" was.
  assert.equal(store.get("old"), undefined);
  assert.equal(await store.read(old), undefined);
  assert.equal((await store.read(store.get("new")!))?.artifacts?.[0]?.parts[0]?.text, "new one");
  await journal.close();
});

test("agent: GetTask, ListTasks and a push config on a finished task work from bodies on disk and in memory after a restart", async () => {
  const dataDir = tempDir();
  const receiver = await startTestReceiver();
  const handler = async (_task: Task, ctx: { addArtifact: (a: { artifactId: string; parts: Array<{ text: string }> }) => Promise<void> }) => {
    await ctx.addArtifact({ artifactId: "report", parts: [{ text: "the report ✓" }] });
  };
  let t = await startAgent({ dataDir, handler, push: TEST_PUSH });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await t.client.sendMessage({ message: userMessage({ i }) })).task.id);
  await t.agent.compact(); // These five are written as frozen lines...
  for (let i = 5; i < 8; i++) ids.push((await t.client.sendMessage({ message: userMessage({ i }) })).task.id); // ...these three are not.
  const before = await Promise.all(ids.map((id) => t.client.getTask({ id })));
  await t.close();
  t = await startAgent({ dataDir, handler, push: TEST_PUSH });
  try {
    const held = ids.map((id) => typeof (t.agent.store.get(id) as FrozenTask).json);
    assert.deepEqual(held, [...Array(5).fill("undefined"), ...Array(3).fill("string")], "compacted bodies stay on disk at start-up");
    assert.deepEqual(await Promise.all(ids.map((id) => t.client.getTask({ id }))), before);
    const listed = await t.client.listTasks({ pageSize: 10, includeArtifacts: true });
    assert.deepEqual(listed.tasks.map((task) => task.id).sort(), [...ids].sort());
    assert.ok(listed.tasks.every((task) => task.artifacts?.[0]?.parts[0]?.text === "the report ✓"));
    // The first webhook of a new config is the task as it is now: read from disk for it.
    await t.client.createPushConfig({ taskId: ids[2]!, url: receiver.url });
    const [first] = await waitFor(() => receiver.seen.length > 0 && receiver.seen, { what: "the config's first webhook" });
    const body = JSON.parse(first!.body) as { task: Task };
    assert.equal(body.task.id, ids[2]);
    assert.equal(body.task.status.state, "TASK_STATE_COMPLETED");
    assert.equal(body.task.artifacts?.[0]?.parts[0]?.text, "the report ✓");
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("Compactor: past maxFrozenBytesInMemory a compaction moves finished tasks' bodies to disk by itself", async () => {
  const journal = await openJournal(tempDir(), { decode: decodeTaskRecordAt });
  const store = new TaskStore(journal, { maxFrozenBytesInMemory: 20_000 });
  const compactor = new Compactor(store, undefined);
  const inMemory = () => [...store.all()].filter((s) => (s as FrozenTask).json !== undefined).length;
  for (let i = 0; i < 40; i++) await store.commit(`t${i}`, () => ({ type: "task", task: finished(`t${i}`, "x".repeat(1000)) }));
  await waitFor(() => inMemory() < 20, { what: "a compaction to move bodies to disk" });
  assert.equal(store.size, 40);
  assert.equal((await store.read(store.get("t0")!))?.artifacts?.[0]?.parts[0]?.text, "x".repeat(1000));
  await compactor.stop();
  await journal.close();
});

test("agent: a journal line damaged under a finished task is reported on GetTask, and the agent keeps serving", async () => {
  const dataDir = tempDir();
  const handler = async () => {};
  let t = await startAgent({ dataDir, handler });
  const { task } = await t.client.sendMessage({ message: userMessage({}) });
  const { task: other } = await t.client.sendMessage({ message: userMessage({}) });
  await t.agent.compact();
  await t.close();
  t = await startAgent({ dataDir, handler });
  const line = (t.agent.store.get(task.id) as FrozenTask).journalLine!;
  // Flip one byte inside the task's body after start-up read the line's head.
  const file = join(dataDir, "journal.jsonl");
  const bytes = readFileSync(file);
  bytes[line.position + line.length - 10] ^= 0x01;
  writeFileSync(file, bytes);
  try {
    await assert.rejects(t.client.getTask({ id: task.id }), (error: Error & { code?: number }) => error.code === -32603);
    assert.equal((await t.client.getTask({ id: other.id })).id, other.id);
  } finally {
    await t.close();
  }
});
