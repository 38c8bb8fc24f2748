/**
 * Repairing a damaged journal without losing what is good in it. Every whole line whose checksum
 * holds is kept, in order; every line that does not (and a torn last line) is moved, as it was, to
 * a side file `<journal>.damaged` for a person to look at; the journal is rewritten through the
 * compaction writer, so a crash during the repair leaves the damaged journal as it was. Only the
 * agent's `--repair` does this; a damaged journal is never repaired silently.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { writeAll } from "./fs_util.ts";
import { writeCompactedJournal } from "./journal_compaction.ts";
import { NEWLINE, checkLine, parseJson } from "./journal_format.ts";
import { readWholeLines } from "./journal_reader.ts";
import type { LineLocation } from "./journal_format.ts";

/** What a repair did. */
export interface Repair {
  /** The repaired journal, open for appending (the old handle is closed). */
  handle: FileHandle;
  /** Its size in bytes. */
  size: number;
  /** Good lines kept. */
  kept: number;
  /** The 1-based numbers of the lines moved to the side file (a torn last line included). */
  moved: number[];
  /** The side file's path. */
  damagedPath: string;
}

/**
 * Rewrites the journal with its good lines only and moves the others to `<path>.damaged`.
 *
 * @param handle The journal file, open.
 * @param path Its path.
 * @param options `openFile` (tests inject failures) for the side file and the rewrite.
 * @returns The new handle and what was kept and moved.
 * @throws {Error} If reading, writing the side file or the rewrite fails; the journal is then as it was.
 *
 * @example Repair a journal with one damaged line in the middle
 * ```ts
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { open } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { encodeRecord } from "./journal_format.ts";
 * import { repairJournal } from "./journal_repair.ts";
 * const path = join(mkdtempSync(join(tmpdir(), "j-")), "journal.jsonl");
 * const bad = encodeRecord({ n: 2 });
 * bad[12] ^= 1;
 * writeFileSync(path, Buffer.concat([encodeRecord({ n: 1 }), bad, encodeRecord({ n: 3 })]));
 * const repair = await repairJournal(await open(path, "a+"), path);
 * console.log(repair.kept, repair.moved); // 2 [ 2 ]
 * await repair.handle.close();
 * ```
 */
export async function repairJournal(handle: FileHandle, path: string, options: { openFile?: (path: string, flags: string, mode?: number) => Promise<FileHandle> } = {}): Promise<Repair> {
  const { openFile = open } = options;
  const { size } = await handle.stat();
  const good: LineLocation[] = [];
  const bad: Array<LineLocation & { line: number }> = [];
  let line = 0;
  for await (const { bytes, base } of readWholeLines(handle, size)) {
    let start = 0;
    for (let end = bytes.indexOf(NEWLINE); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
      line++;
      const location = { position: base + start, length: end - start + 1 };
      if (isGoodLine(bytes, start, end)) good.push(location);
      else bad.push({ ...location, line });
      start = end + 1;
    }
    if (start < bytes.length) bad.push({ position: base + start, length: bytes.length - start, line: line + 1 }); // A torn last line.
  }
  const damagedPath = `${path}.damaged`;
  await keepDamaged(handle, bad, damagedPath, openFile);
  // The compaction writer copies each good line's bytes from the old file and renames the new one in.
  const items = good.map((location) => ({ journalLine: location, relocated: () => {} }));
  const compacted = await writeCompactedJournal(items, { from: handle, path, openFile });
  await handle.close();
  return { handle: compacted.handle, size: compacted.size, kept: good.length, moved: bad.map((b) => b.line), damagedPath };
}

function isGoodLine(bytes: Uint8Array, start: number, end: number): boolean {
  if (!checkLine(bytes, start, end)) return false;
  try {
    parseJson(bytes.subarray(start + 9, end)); // A checksum that matches garbage by chance.
    return true;
  } catch {
    return false;
  }
}

/** Appends the bad lines' bytes, as they were, to the side file (private, synced). */
async function keepDamaged(from: FileHandle, bad: LineLocation[], damagedPath: string, openFile: NonNullable<Parameters<typeof repairJournal>[2]>["openFile"] & {}): Promise<void> {
  if (bad.length === 0) return;
  const side = await openFile(damagedPath, "a", 0o600);
  try {
    let at = (await side.stat()).size;
    for (const { position, length } of bad) {
      const bytes = new Uint8Array(length);
      await from.read(bytes, 0, length, position);
      await writeAll(side, bytes, at);
      at += length;
      if (bytes[length - 1] !== NEWLINE) {
        await writeAll(side, new Uint8Array([NEWLINE]), at); // The torn line ends here; the next one starts on its own line.
        at++;
      }
    }
    await side.sync();
  } finally {
    await side.close();
  }
}
