import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { JournalError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import { ROOT, tempDir } from "./helpers.ts";

const quiet = { warn: () => {} };

test("append() makes records readable after reopening", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, quiet);
  await journal.append({ n: 1 });
  await journal.append({ n: 2, text: "é ✓" });
  await journal.close();
  const again = await openJournal(dir, quiet);
  assert.deepEqual(await again.load(), [{ n: 1 }, { n: 2, text: "é ✓" }]);
  await again.close();
});

test("append() shares one write and fsync among appends of the same tick", async () => {
  const journal = await openJournal(tempDir(), quiet);
  await Promise.all(Array.from({ length: 100 }, (_, n) => journal.append({ n })));
  assert.equal(journal.recordCount, 100);
  assert.ok(journal.batchCount <= 2, `expected group commit, got ${journal.batchCount} batches`);
  await journal.close();
});

test("openJournal() drops a torn last record and keeps appending after it", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, quiet);
  await journal.append({ n: 1 });
  await journal.close();
  const path = join(dir, "journal.jsonl");
  const torn = encodeRecord({ n: 2 }).subarray(0, 7);
  appendFileSync(path, torn);
  const warnings: string[] = [];
  const again = await openJournal(dir, { warn: (m) => warnings.push(m) });
  assert.deepEqual(await again.load(), [{ n: 1 }]);
  assert.match(warnings[0]!, /torn last record/);
  await again.append({ n: 3 });
  await again.close();
  const third = await openJournal(dir, quiet);
  assert.deepEqual(await third.load(), [{ n: 1 }, { n: 3 }]);
  await third.close();
});

test("openJournal() refuses a flipped bit in the last whole line (damage, not a torn write), and starts on a torn one with a warning", async () => {
  const dir = tempDir();
  const path = join(dir, "journal.jsonl");
  const journal = await openJournal(dir, quiet);
  for (let n = 1; n <= 3; n++) await journal.append({ n });
  await journal.close();
  const intact = readFileSync(path);
  const flipped = Buffer.from(intact);
  flipped[flipped.length - 5]! ^= 0x01;
  writeFileSync(path, flipped);
  await assert.rejects(openJournal(dir, quiet), (error: JournalError) => error.code === "CORRUPT" && /line 4/.test(error.message) && /repair/.test(error.message));
  assert.deepEqual(readFileSync(path), flipped, "a refusal changes nothing");
  writeFileSync(path, intact.subarray(0, intact.length - 4)); // The last write cut short.
  const warnings: string[] = [];
  const torn = await openJournal(dir, { warn: (m) => warnings.push(m) });
  assert.deepEqual(await torn.load(), [{ n: 1 }, { n: 2 }]);
  assert.match(warnings[0]!, /dropped a torn last record/);
  await torn.close();
});

test("openJournal() with repair keeps every good record of a journal damaged in the middle and moves only the bad lines aside", async () => {
  const dir = tempDir();
  const path = join(dir, "journal.jsonl");
  const journal = await openJournal(dir, quiet);
  for (let n = 1; n <= 60; n++) await journal.append({ n });
  await journal.close();
  const lines = readFileSync(path, "utf8").split("\n");
  lines[21] = lines[21]!.replace('"n":21', '"n":71'); // One flipped byte: the checksum no longer matches.
  writeFileSync(path, lines.join("\n"));
  await assert.rejects(openJournal(dir, quiet), { code: "CORRUPT" });
  const warnings: string[] = [];
  const repaired = await openJournal(dir, { repair: true, warn: (m) => warnings.push(m) });
  assert.deepEqual((await repaired.load()).map((r) => (r as { n: number }).n), Array.from({ length: 60 }, (_, i) => i + 1).filter((n) => n !== 21));
  assert.match(warnings[0]!, /moved 1 damaged line\(s\) \(line 22\) to .*journal\.jsonl\.damaged, kept 60/);
  assert.equal(readFileSync(`${path}.damaged`, "utf8"), `${lines[21]}\n`);
  assert.equal(statSync(`${path}.damaged`).mode & 0o777, 0o600);
  await repaired.append({ n: "after" });
  await repaired.close();
  const again = await openJournal(dir, quiet);
  assert.equal((await again.load()).length, 60, "the repaired journal loads cleanly");
  await again.close();
});

test("openJournal() refuses an emptied journal in a directory that has kept records, unless repair; a new directory starts clean", async () => {
  const dir = tempDir();
  const fresh = await openJournal(dir, { ...quiet, usedBefore: false });
  await fresh.close();
  const reopened = await openJournal(dir, { ...quiet, usedBefore: true });
  assert.deepEqual(await reopened.load(), [], "a journal that never held a record still has its header");
  await reopened.close();
  writeFileSync(join(dir, "journal.jsonl"), "");
  await assert.rejects(openJournal(dir, { ...quiet, usedBefore: true }), (error: JournalError) => error.code === "CORRUPT" && /is empty/.test(error.message));
  const repaired = await openJournal(dir, { ...quiet, usedBefore: true, repair: true });
  await repaired.close();
});

test("openJournal() keeps the data directory private (0700, journal 0600) and refuses one others can write, or a symlinked journal", async () => {
  const parent = tempDir();
  const dir = join(parent, "agent");
  const journal = await openJournal(dir, quiet);
  await journal.close();
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, "journal.jsonl")).mode & 0o777, 0o600);
  chmodSync(join(dir, "journal.jsonl"), 0o644); // Made by an older version: made private at open.
  await (await openJournal(dir, quiet)).close();
  assert.equal(statSync(join(dir, "journal.jsonl")).mode & 0o777, 0o600);
  chmodSync(dir, 0o777);
  await assert.rejects(openJournal(dir, quiet), (error: JournalError) => error.code === "UNSAFE" && /other users/.test(error.message));
  chmodSync(dir, 0o700);
  const elsewhere = join(parent, "elsewhere.jsonl");
  writeFileSync(elsewhere, "");
  rmSync(join(dir, "journal.jsonl"));
  symlinkSync(elsewhere, join(dir, "journal.jsonl"));
  await assert.rejects(openJournal(dir, quiet), (error: JournalError) => error.code === "UNSAFE" && /symbolic link/.test(error.message));
  assert.equal(readFileSync(elsewhere, "utf8"), "", "nothing was written through the link");
});

test("openJournal() refuses a damaged middle record, naming file and line", async () => {
  const dir = tempDir();
  const path = join(dir, "journal.jsonl");
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: 2 }), encodeRecord({ n: 3 })];
  lines[1]![15] = "X".charCodeAt(0);
  writeFileSync(path, Buffer.concat(lines));
  await assert.rejects(openJournal(dir, quiet), (error: JournalError) => {
    assert.equal(error.code, "CORRUPT");
    assert.ok(error.message.includes(path), error.message);
    assert.match(error.message, /line 2/);
    return true;
  });
  // The refusal leaves the file as it was and releases the lock.
  assert.equal(readFileSync(path).length, Buffer.concat(lines).length);
  assert.equal(existsSync(join(dir, "LOCK")), false);
});

test("openJournal() with repair keeps the lines after the damage", async () => {
  const dir = tempDir();
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: 2 }), encodeRecord({ n: 3 })];
  lines[1]![15] = "X".charCodeAt(0);
  writeFileSync(join(dir, "journal.jsonl"), Buffer.concat(lines));
  const warnings: string[] = [];
  const journal = await openJournal(dir, { repair: true, warn: (m) => warnings.push(m) });
  assert.deepEqual(await journal.load(), [{ n: 1 }, { n: 3 }]);
  assert.match(warnings[0]!, /moved 1 damaged line\(s\) \(line 2\)/);
  await journal.close();
});

test("compact() replaces the file with the snapshot and keeps later appends", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, quiet);
  for (let n = 0; n < 10; n++) await journal.append({ n });
  const pending = journal.append({ n: "during" });
  await journal.compact(() => [{ live: true }]);
  await pending;
  await journal.append({ n: "after" });
  await journal.close();
  const again = await openJournal(dir, quiet);
  const records = await again.load();
  assert.deepEqual(records.at(-1), { n: "after" });
  assert.ok(records.some((r) => JSON.stringify(r) === '{"live":true}'));
  assert.ok(!records.some((r) => (r as { n?: unknown }).n === 3));
  assert.equal(existsSync(join(dir, "journal.jsonl.compact")), false);
  await again.close();
});

test("openJournal() refuses a directory another process holds, naming its pid", async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, ["--import", "tsx", "-e", `
    import { openJournal } from ${JSON.stringify(join(ROOT, "lib/journal.ts"))};
    await openJournal(${JSON.stringify(dir)});
    console.log("locked");
    setInterval(() => {}, 1000);
  `], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("locked") && resolve());
      child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
    });
    await assert.rejects(openJournal(dir, quiet), (error: JournalError) => {
      assert.equal(error.code, "LOCKED");
      assert.match(error.message, new RegExp(`process ${child.pid}`));
      return true;
    });
  } finally {
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  // Killed holders leave a stale lock: the next open takes it over.
  const journal = await openJournal(dir, quiet);
  await journal.close();
});

test("openJournal() refuses a second open in the same process", async () => {
  const dir = tempDir();
  const first = await openJournal(dir, quiet);
  await assert.rejects(openJournal(dir, quiet), { code: "LOCKED" });
  await first.close();
});

test("openJournal() reads a journal larger than its read chunk, and a record larger than a chunk", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, quiet);
  const filler = "x".repeat(3000);
  await Promise.all(Array.from({ length: 3000 }, (_, n) => journal.append({ n, filler })));
  await journal.append({ n: "huge", filler: "y".repeat(5 * 1024 * 1024) });
  await journal.append({ n: "last" });
  await journal.close();
  const again = await openJournal(dir, quiet);
  const records = (await again.load()) as Array<{ n: unknown; filler?: string }>;
  assert.equal(records.length, 3002);
  assert.deepEqual(records.slice(0, 3).map((r) => r.n), [0, 1, 2]);
  assert.equal(records[3000]!.filler!.length, 5 * 1024 * 1024);
  assert.equal(records[3001]!.n, "last");
  await again.close();
});

test("openJournal() finds damage past the first read chunk and names its line", async () => {
  const dir = tempDir();
  const lines = Array.from({ length: 3000 }, (_, n) => encodeRecord({ n, filler: "z".repeat(3000) }));
  lines[2500]![20] = "#".charCodeAt(0);
  writeFileSync(join(dir, "journal.jsonl"), Buffer.concat(lines));
  await assert.rejects(openJournal(dir, quiet), (error: JournalError) => error.code === "CORRUPT" && /line 2501/.test(error.message));
});

test("load() called again reads the file anew with the journal's own decoder", async () => {
  const dir = tempDir();
  const journal = await openJournal(dir, { ...quiet, decode: (json) => ({ decoded: JSON.parse(new TextDecoder().decode(json)) }) });
  await journal.load();
  await journal.append({ n: 1 });
  assert.deepEqual(await journal.load(), [{ decoded: { n: 1 } }]);
  await journal.close();
});
