import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import type { StoredLine } from "../lib/journal.ts";
import { writeCompactedJournal } from "../lib/journal_compaction.ts";
import { encodeRecord } from "../lib/journal_format.ts";
import type { LineLocation } from "../lib/journal_format.ts";
import { tempDir } from "./helpers.ts";

/** A journal file of `records`, with the location of each line. */
function journalOf(records: unknown[]): { path: string; lines: LineLocation[] } {
  const path = join(tempDir(), "journal.jsonl");
  const encoded = records.map(encodeRecord);
  let position = 0;
  const lines = encoded.map((line) => ({ position: (position += line.length) - line.length, length: line.length }));
  writeFileSync(path, Buffer.concat(encoded));
  return { path, lines };
}

/** A record already on disk, as the task store keeps a finished task (the journal relocates it, not the writer). */
function storedLine(journalLine: LineLocation): StoredLine {
  return { journalLine, relocated: () => assert.fail("writeCompactedJournal() must leave relocating to the journal") };
}

test("writeCompactedJournal() writes records, copies stored lines as bytes, says where they went, and replaces the journal", async () => {
  const { path, lines } = journalOf([{ old: 1 }, { old: 2 }, { old: 3 }]);
  const from = await open(path, "r");
  const kept = [storedLine(lines[1]!), storedLine(lines[2]!)];
  const { handle, size, moved } = await writeCompactedJournal([{ fresh: true }, ...kept], { from, path });
  await Promise.all([from.close(), handle.close()]);
  const fresh = encodeRecord({ fresh: true });
  const expected = Buffer.concat([fresh, encodeRecord({ old: 2 }), encodeRecord({ old: 3 })]);
  assert.deepEqual(readFileSync(path), expected);
  assert.equal(size, expected.length);
  assert.deepEqual(moved, [
    [kept[0], { position: fresh.length, length: lines[1]!.length }],
    [kept[1], { position: fresh.length + lines[1]!.length, length: lines[2]!.length }],
  ]);
  assert.equal(existsSync(`${path}.compact`), false);
});

test("writeCompactedJournal() leaves the old journal and no temp file when a write fails", async () => {
  const { path } = journalOf([{ old: 1 }]);
  const before = readFileSync(path);
  const from = await open(path, "r");
  const failing = async (file: string, flags: string): Promise<FileHandle> => {
    const handle = await open(file, flags);
    return Object.assign(Object.create(handle) as FileHandle, {
      write: () => Promise.reject(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" })),
      close: () => handle.close(),
    });
  };
  await assert.rejects(writeCompactedJournal([{ fresh: true }], { from, path, openFile: failing }), /ENOSPC/);
  await from.close();
  assert.deepEqual(readFileSync(path), before);
  assert.equal(existsSync(`${path}.compact`), false);
});
