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
  let base = 0; // File offset of the first byte not yet decoded.
  let lines = 0;
  let carry = new Uint8Array(0);
  while (base < size) {
    const chunk = new Uint8Array(Math.min(READ_CHUNK_BYTES, size - base - carry.length) + carry.length);
    chunk.set(carry);
    const { bytesRead } = await handle.read(chunk, carry.length, chunk.length - carry.length, base + carry.length);
    const filled = chunk.subarray(0, carry.length + bytesRead);
    const atEnd = base + filled.length >= size || bytesRead === 0;
    // Decode up to the last newline; the rest waits for the next chunk (unless this is the end).
    const cut = atEnd ? filled.length : filled.lastIndexOf(NEWLINE) + 1;
    if (cut === 0) {
      carry = filled; // One line longer than a chunk: read on.
      if (bytesRead === 0) break;
      continue;
    }
    const part = decodeJournal(filled.subarray(0, cut), decode, base);
    for (const record of part.records) records.push(record);
    if (part.badLine !== undefined) return { records, goodBytes: base + part.goodBytes, badLine: lines + part.badLine, damaged: part.damaged };
    lines += part.records.length;
    base += cut;
    carry = filled.slice(cut);
    if (atEnd) break;
  }
  return { records, goodBytes: base, damaged: false };
}
