/**
 * The journal's line format, with no I/O: one record a line, `<crc32 hex> <json>\n`, the CRC-32 of
 * the JSON bytes in 8 lower-case hex digits. A line whose checksum does not match is a write that
 * never finished (at the end of the file) or damage (anywhere else); `journal.ts` decides which.
 *
 * @module
 */

import { crc32 } from "./crc32.ts";

/** Where one record's line is in the journal file: its first byte, and its length with the newline. */
export interface LineLocation {
  position: number;
  length: number;
}

/** Turns a record's JSON bytes into the record; `line` is where the record's line is in the file. */
export type Decode = (json: Uint8Array, line: LineLocation) => unknown;

const encoder = new TextEncoder();

/** A record that writes its own JSON text. */
interface JournalJson {
  toJournalJson(): string;
}
export const NEWLINE = 0x0a;

/**
 * Encodes one record as a journal line.
 *
 * @param record Any JSON-serialisable value.
 * @returns The line's bytes, newline included.
 *
 * @example
 * ```ts
 * import { encodeRecord } from "./journal_format.ts";
 * console.log(new TextDecoder().decode(encodeRecord({ a: 1 })));
 * ```
 */
export function encodeRecord(record: unknown): Uint8Array {
  // A record may carry JSON it already holds as text (a frozen task): it writes itself.
  const text = typeof (record as JournalJson)?.toJournalJson === "function" ? (record as JournalJson).toJournalJson() : JSON.stringify(record);
  const json = encoder.encode(text);
  const line = new Uint8Array(json.length + 10);
  line.set(encoder.encode(crc32(json).toString(16).padStart(8, "0") + " "), 0);
  line.set(json, 9);
  line[line.length - 1] = NEWLINE;
  return line;
}

/** What {@linkcode decodeJournal} found. */
export interface DecodedJournal {
  records: unknown[];
  /** Bytes that hold good records; anything after is dropped. */
  goodBytes: number;
  /** 1-based line number of the first bad line, if any. */
  badLine?: number;
  /**
   * Whether the bad line is damage (true: a whole line, newline included, whose checksum fails,
   * which no crash leaves behind) or a torn tail (false: the file's last bytes, without a newline).
   */
  damaged: boolean;
}

/**
 * Decodes a journal file's bytes, checking each line's checksum. Pure: no I/O.
 *
 * @param bytes The file's content.
 * @param decode Turns a record's JSON into the record. @default JSON.parse of the UTF-8 text
 * @param base The file position of `bytes[0]`, for the locations `decode` is given. @default 0
 * @returns The good records, where they end, and what stopped the read.
 *
 * @example
 * ```ts
 * import { decodeJournal, encodeRecord } from "./journal_format.ts";
 * console.log(decodeJournal(encodeRecord({ a: 1 })).records); // [{ a: 1 }]
 * ```
 */
export function decodeJournal(bytes: Uint8Array, decode: Decode = parseJson, base = 0): DecodedJournal {
  const records: unknown[] = [];
  let offset = 0;
  let line = 0;
  while (offset < bytes.length) {
    line++;
    const end = bytes.indexOf(NEWLINE, offset);
    const record = end === -1 ? undefined : decodeLine(bytes, offset, end, decode, base);
    if (record === undefined) {
      // A write cut short ends without its newline; a whole line that does not check is damage.
      return { records, goodBytes: offset, badLine: line, damaged: end !== -1 };
    }
    records.push(record.value);
    offset = end + 1;
  }
  return { records, goodBytes: offset, damaged: false };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function parseJson(json: Uint8Array): unknown {
  return JSON.parse(utf8.decode(json));
}

function decodeLine(bytes: Uint8Array, start: number, end: number, decode: Decode, base: number): { value: unknown } | undefined {
  if (!checkLine(bytes, start, end)) return undefined;
  try {
    return { value: decode(bytes.subarray(start + 9, end), { position: base + start, length: end - start + 1 }) };
  } catch {
    return undefined; // A checksum collision on garbage: treat it like any other bad line.
  }
}

/** Whether `bytes[start, end)` is a line (without its newline) whose checksum matches. */
export function checkLine(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start < 10 || bytes[start + 8] !== 0x20) return false;
  const expected = parseHex8(bytes, start);
  return expected !== undefined && crc32(bytes, start + 9, end) === expected;
}

function parseHex8(bytes: Uint8Array, start: number): number | undefined {
  let value = 0;
  for (let i = start; i < start + 8; i++) {
    const c = bytes[i]!;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (digit === -1) return undefined;
    value = value * 16 + digit;
  }
  return value;
}
