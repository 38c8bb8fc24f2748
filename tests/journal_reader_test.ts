import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { encodeRecord, parseJson } from "../lib/journal_format.ts";
import { readJournal } from "../lib/journal_reader.ts";
import { tempDir } from "./helpers.ts";

/** Writes `lines` to a fresh file and reads it back with readJournal(). */
async function readBack(...lines: Uint8Array[]) {
  const path = join(tempDir(), "journal.jsonl");
  writeFileSync(path, Buffer.concat(lines));
  const handle = await open(path, "r");
  try {
    return await readJournal(handle, (await handle.stat()).size, parseJson);
  } finally {
    await handle.close();
  }
}

test("readJournal() reads every record of an intact file", async () => {
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: 2 })];
  assert.deepEqual(await readBack(...lines), { records: [{ n: 1 }, { n: 2 }], goodBytes: lines[0]!.length + lines[1]!.length, damaged: false });
  assert.deepEqual(await readBack(), { records: [], goodBytes: 0, damaged: false });
});

test("readJournal() stops at a bad line, telling a torn last line (no newline) from damage (a whole bad line)", async () => {
  const first = encodeRecord({ n: 1 });
  const bad = new TextEncoder().encode("00000000 {\"n\":2}\n");
  const torn = await readBack(first, bad.subarray(0, bad.length - 1));
  assert.deepEqual(torn, { records: [{ n: 1 }], goodBytes: first.length, badLine: 2, damaged: false });
  assert.deepEqual(await readBack(first, bad), { records: [{ n: 1 }], goodBytes: first.length, badLine: 2, damaged: true });
  const damaged = await readBack(first, bad, encodeRecord({ n: 3 }));
  assert.deepEqual(damaged, { records: [{ n: 1 }], goodBytes: first.length, badLine: 2, damaged: true });
});
