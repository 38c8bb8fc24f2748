/**
 * The journal's start-up reader: a journal file read in bounded chunks and decoded line by line,
 * stopping at the first bad line and telling a torn tail (the file's last bytes, without their
 * newline: a write a crash cut short) from damage (a whole line whose checksum fails: a bad disk or
 * a lost page). It only reads: truncating, repairing and warning are `journal.ts`'s.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";
import { NEWLINE, decodeJournal } from "./journal_format.ts";
import type { Decode, DecodedJournal } from "./journal_format.ts";

/** Bytes read at a time at start-up: bounds the memory a large journal needs beyond its records. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Reads and decodes a journal file chunk by chunk (whole lines at a time), stopping at the first
 * line whose checksum fails and saying whether that is a torn tail or damage.
 *
 * @param handle The journal file, open for reading.
 * @param size Bytes of it to read (its size at open).
 * @param decode Turns each record's JSON bytes into the record.
 * @returns The records, the bytes up to the last good line, and the bad line (1-based) if any.
 * @throws {Error} If a read fails, or `decode` throws.
 *
 * @example Read a journal file
 * ```ts
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { open } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { encodeRecord, parseJson } from "./journal_format.ts";
 * import { readJournal } from "./journal_reader.ts";
 * const path = join(mkdtempSync(join(tmpdir(), "j-")), "journal.jsonl");
 * writeFileSync(path, encodeRecord({ a: 1 }));
 * const handle = await open(path, "r");
 * console.log((await readJournal(handle, (await handle.stat()).size, parseJson)).records); // [{ a: 1 }]
 * await handle.close();
 * ```
 */
export async function readJournal(handle: FileHandle, size: number, decode: Decode): Promise<DecodedJournal> {
  const records: unknown[] = [];
  let lines = 0;
  let goodBytes = 0;
  for await (const { bytes, base } of readWholeLines(handle, size)) {
    const part = decodeJournal(bytes, decode, base);
    for (const record of part.records) records.push(record);
    if (part.badLine !== undefined) return { records, goodBytes: base + part.goodBytes, badLine: lines + part.badLine, damaged: part.damaged };
    lines += part.records.length;
    goodBytes = base + bytes.length;
  }
  return { records, goodBytes, damaged: false };
}

/**
 * A journal file in chunks of whole lines (at most 4 MiB each, unless one line is longer), each with
 * its file offset; the last chunk also holds a last line without its newline, if there is one.
 *
 * @param handle The journal file, open for reading.
 * @param size Bytes of it to read.
 * @returns The chunks, in file order; each is valid only until the next one is asked for.
 * @throws {Error} If a read fails.
 *
 * @example Count a journal's lines
 * ```ts
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { open } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { readWholeLines } from "./journal_reader.ts";
 * const path = join(mkdtempSync(join(tmpdir(), "j-")), "journal.jsonl");
 * writeFileSync(path, "a\nb\n");
 * const handle = await open(path, "r");
 * for await (const { bytes } of readWholeLines(handle, 4)) console.log(bytes.length); // 4
 * await handle.close();
 * ```
 */
export async function* readWholeLines(handle: FileHandle, size: number): AsyncGenerator<{ bytes: Uint8Array; base: number }> {
  let base = 0; // File offset of the first byte not yet handed out.
  let carry = new Uint8Array(0);
  while (base < size) {
    const chunk = new Uint8Array(Math.min(READ_CHUNK_BYTES, size - base - carry.length) + carry.length);
    chunk.set(carry);
    const { bytesRead } = await handle.read(chunk, carry.length, chunk.length - carry.length, base + carry.length);
    const filled = chunk.subarray(0, carry.length + bytesRead);
    const atEnd = base + filled.length >= size || bytesRead === 0;
    // Hand out up to the last newline; the rest waits for the next chunk (unless this is the end).
    const cut = atEnd ? filled.length : filled.lastIndexOf(NEWLINE) + 1;
    if (cut === 0) {
      carry = filled; // One line longer than a chunk: read on.
      if (bytesRead === 0) break;
      continue;
    }
    yield { bytes: filled.subarray(0, cut), base };
    base += cut;
    carry = filled.slice(cut);
    if (atEnd) break;
  }
}
