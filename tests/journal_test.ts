import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { crc32, crc32Portable } from "../lib/crc32.ts";
import { JournalError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import { ROOT, tempDir } from "./helpers.ts";

const quiet = { warn: () => {} };

test("crc32() gives the standard check value, natively and in the portable fallback alike", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32(check).toString(16), "cbf43926");
  assert.equal(crc32Portable(check).toString(16), "cbf43926");
  const bytes = new TextEncoder().encode(`{"some":"record ✓"}`.repeat(50));
  assert.equal(crc32Portable(bytes, 3, 700), crc32(bytes, 3, 700));
});

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

test("decodeJournal() drops a last line whose checksum fails even with its newline", () => {
  const good = encodeRecord({ n: 1 });
  const bad = encodeRecord({ n: 2 });
  bad[12] = bad[12]! ^ 1;
  const decoded = decodeJournal(new Uint8Array([...good, ...bad]));
  assert.deepEqual(decoded.records, [{ n: 1 }]);
  assert.equal(decoded.damaged, false);
  assert.equal(decoded.badLine, 2);
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

test("openJournal() with repair truncates at the damage and says how much it dropped", async () => {
  const dir = tempDir();
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: 2 }), encodeRecord({ n: 3 })];
  lines[1]![15] = "X".charCodeAt(0);
  writeFileSync(join(dir, "journal.jsonl"), Buffer.concat(lines));
  const warnings: string[] = [];
  const journal = await openJournal(dir, { repair: true, warn: (m) => warnings.push(m) });
  assert.deepEqual(await journal.load(), [{ n: 1 }]);
  assert.match(warnings[0]!, new RegExp(`line 2, dropping ${lines[1]!.length + lines[2]!.length} bytes`));
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
