/**
 * repairJournal() on journal files written by hand: which lines it keeps and moves (damage at the
 * start, in the middle, a torn end, a checksum that matches garbage), what the side file holds,
 * that a good journal is left alone, a journal larger than its read chunk, and a failed repair that
 * leaves the journal as it was. Opening a damaged journal with `repair` is in `journal_test.ts`.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { crc32 } from "../lib/crc32.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import { repairJournal } from "../lib/journal_repair.ts";
import type { Repair } from "../lib/journal_repair.ts";
import { tempDir } from "./helpers.ts";

/** A record line whose checksum no longer matches: one byte of its JSON changed. */
function damaged(record: unknown): Uint8Array {
  const line = encodeRecord(record);
  line[12] ^= 1;
  return line;
}

/** A line whose checksum matches text that is not JSON. */
function checksummedGarbage(text: string): Uint8Array {
  const json = new TextEncoder().encode(text);
  return new TextEncoder().encode(`${crc32(json).toString(16).padStart(8, "0")} ${text}\n`);
}

/** Writes `lines` as a journal, repairs it, and hands back the repair and both files' bytes; closes the handle. */
async function repair(lines: Uint8Array[]): Promise<{ result: Omit<Repair, "handle">; path: string; journal: Buffer; side: Buffer | undefined }> {
  const path = join(tempDir(), "journal.jsonl");
  writeFileSync(path, Buffer.concat(lines), { mode: 0o600 });
  const { handle, ...result } = await repairJournal(await open(path, "a+"), path);
  await handle.close();
  return { result, path, journal: readFileSync(path), side: existsSync(`${path}.damaged`) ? readFileSync(`${path}.damaged`) : undefined };
}

const records = (bytes: Uint8Array) => decodeJournal(bytes).records;

test("repairJournal() keeps every good line in order and moves bad ones at the start, in the middle and a torn end", async () => {
  const torn = encodeRecord({ n: 6 }).subarray(0, 7);
  const lines = [damaged({ n: 1 }), encodeRecord({ n: 2 }), encodeRecord({ n: 3 }), damaged({ n: 4 }), encodeRecord({ n: 5 }), torn];
  const { result, path, journal, side } = await repair(lines);
  assert.deepEqual(records(journal), [{ n: 2 }, { n: 3 }, { n: 5 }]);
  assert.equal(decodeJournal(journal).badLine, undefined, "the repaired journal is whole");
  assert.deepEqual(result, { size: journal.length, kept: 3, moved: [1, 4, 6], damagedPath: `${path}.damaged` });
  assert.deepEqual(side, Buffer.concat([lines[0]!, lines[3]!, torn, Buffer.from("\n")]), "the bad lines as they were; the torn one ends on a newline");
  assert.equal(statSync(`${path}.damaged`).mode & 0o777, 0o600);
});

test("repairJournal() moves a line whose checksum matches text that is not JSON, and empty lines", async () => {
  const garbage = checksummedGarbage("not json at all");
  const { result, journal, side } = await repair([encodeRecord({ n: 1 }), garbage, new Uint8Array([0x0a]), encodeRecord({ n: 2 })]);
  assert.deepEqual(records(journal), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(result.moved, [2, 3]);
  assert.deepEqual(side, Buffer.concat([garbage, Buffer.from("\n")]));
});

test("repairJournal() moves nothing and makes no side file when every line is good", async () => {
  const lines = [encodeRecord({ type: "journal", format: 1 }), encodeRecord({ n: 1 }), encodeRecord({ text: "é ✓" })];
  const { result, journal, side } = await repair(lines);
  assert.deepEqual(journal, Buffer.concat(lines), "byte for byte");
  assert.deepEqual([result.kept, result.moved, result.size], [3, [], journal.length]);
  assert.equal(side, undefined);
});

test("repairJournal() of a journal with no good line leaves it empty, and of an empty one does nothing", async () => {
  const bad = [damaged({ n: 1 }), damaged({ n: 2 })];
  const { result, journal, side } = await repair(bad);
  assert.deepEqual([journal.length, result.kept, result.moved], [0, 0, [1, 2]]);
  assert.deepEqual(side, Buffer.concat(bad));
  const empty = await repair([]);
  assert.deepEqual([empty.journal.length, empty.result.kept, empty.result.moved, empty.side], [0, 0, [], undefined]);
});

test("repairJournal() appends to a side file an earlier repair left", async () => {
  const { path, side: first } = await repair([encodeRecord({ n: 1 }), damaged({ n: 2 }), encodeRecord({ n: 3 })]);
  const again = damaged({ n: 4 });
  writeFileSync(path, Buffer.concat([readFileSync(path), again]));
  const { handle } = await repairJournal(await open(path, "a+"), path);
  await handle.close();
  assert.deepEqual(readFileSync(`${path}.damaged`), Buffer.concat([first!, again]));
  assert.deepEqual(records(readFileSync(path)), [{ n: 1 }, { n: 3 }]);
});

test("repairJournal() finds lines across its 4 MiB read chunks, a line that straddles one included", async () => {
  const big = (n: number) => encodeRecord({ n, pad: "x".repeat(1024 * 1024) });
  const lines = [big(1), big(2), big(3), damaged({ n: 4 }), big(5), damaged({ n: 6 }), big(7)];
  const { result, journal } = await repair(lines);
  assert.deepEqual(records(journal).map((r) => (r as { n: number }).n), [1, 2, 3, 5, 7]);
  assert.deepEqual(result.moved, [4, 6]);
});

test("repairJournal() that cannot write the side file or the new journal fails and leaves the journal as it was", async () => {
  const lines = [encodeRecord({ n: 1 }), damaged({ n: 2 }), encodeRecord({ n: 3 })];
  for (const failing of [".damaged", ".compact"]) {
    const path = join(tempDir(), "journal.jsonl");
    writeFileSync(path, Buffer.concat(lines));
    const openFile = async (file: string, flags: string, mode?: number): Promise<FileHandle> => {
      if (file.endsWith(failing)) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${file}'`), { code: "ENOSPC" });
      return open(file, flags, mode);
    };
    const handle = await open(path, "a+");
    try {
      await assert.rejects(repairJournal(handle, path, { openFile }), /ENOSPC/, failing);
    } finally {
      await handle.close();
    }
    assert.deepEqual(readFileSync(path), Buffer.concat(lines), failing);
    assert.equal(existsSync(`${path}.compact`), false, `${failing}: no half-written journal is left`);
  }
});
