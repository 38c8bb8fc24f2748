/**
 * The append-only journal: the single source of truth of an agent, and, with its start-up reader
 * (`journal_reader.ts`) and compaction writer (`journal_compaction.ts`), the only code here that
 * touches its data directory's journal file.
 *
 * One record a line: `<crc32 as 8 hex digits> <JSON>\n`, after a first header line. The file's
 * last bytes without their newline are a write the last process did not finish (a torn tail): they
 * are dropped on load, with a warning. A whole line whose checksum fails is damage, which no crash
 * leaves (a bad disk or a lost page does): the load refuses with the file and line, unless `repair`
 * is set, which keeps every good line and moves the bad ones aside (`journal_repair.ts`). An empty
 * file where the caller knows records were kept (`usedBefore`) is refused the same way. The data
 * directory is made 0700 and the journal 0600; a directory others can write, or a journal that is
 * a symbolic link, is refused.
 *
 * Appends made in the same turn of the event loop share one write and one fsync (group commit);
 * while an fsync runs, new appends gather for the next one, so batches grow with the load.
 * Compaction writes the live records to a new file, fsyncs it, renames it over the journal and
 * fsyncs the directory, so a crash leaves either the old journal or the new one, never a mix.
 *
 * It leaves out what records mean: that is the task store's business.
 *
 * @module
 */

import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import { NEWLINE, checkLine, encodeRecord, parseJson } from "./journal_format.ts";
import type { Decode, DecodedJournal, LineLocation } from "./journal_format.ts";
import { writeCompactedJournal } from "./journal_compaction.ts";
import { readJournal } from "./journal_reader.ts";
import { acquireLock } from "./lock.ts";
import type { DirectoryLock } from "./lock.ts";
import { JournalError } from "./errors.ts";
import { openPrivateFile, prepareDataDirectory, syncDirectory, writeAll } from "./fs_util.ts";
import { repairJournal } from "./journal_repair.ts";

/**
 * A snapshot item whose line is already in the journal file (a finished task left on disk):
 * compaction copies its bytes instead of encoding it, then says where they went.
 */
export interface StoredLine {
  /** Where its line is now; undefined when it is only in memory (then it is encoded as usual). */
  readonly journalLine: LineLocation | undefined;
  /** Called once the compacted journal is in place, with where its line is in it. */
  relocated(location: LineLocation): void;
}

/** What a journal needs to offer the task store; a shared database could stand in for the file. */
export interface Storage {
  /** The records, oldest first, as they were appended or last compacted. */
  load(): Promise<unknown[]>;
  /** Appends one record; resolves once it is durable (or written, with `sync: false`). */
  append(record: unknown): Promise<void>;
  /**
   * Replaces everything with `snapshot()`, taken once every earlier append is applied. Items that
   * are {@linkcode StoredLine}s are told where their line went.
   */
  compact(snapshot: () => Iterable<unknown>): Promise<void>;
  /**
   * Reads one record's JSON back by its line's location (as `decode` was given it at load, or a
   * `StoredLine` was told at compaction), checksum checked. Optional: a storage without it keeps
   * every record in memory.
   */
  readLine?(location: LineLocation): Promise<Uint8Array>;
  /** Records in the store now (grows with appends, shrinks at compaction). */
  readonly recordCount: number;
  /** Flushes what is pending and releases the store. */
  close(): Promise<void>;
}

/** Options of {@linkcode openJournal}. */
export interface JournalOptions {
  /** fsync every batch before acknowledging it. `false` trades durability for speed. @default true */
  sync?: boolean;
  /** Keep the good lines of a damaged journal (moving the bad ones to `<journal>.damaged`) instead of refusing to start. @default false */
  repair?: boolean;
  /** The directory has kept records before (an agent's key files exist): an empty journal is then damage. @default false */
  usedBefore?: boolean;
  /** Take the directory lock. @default true */
  lock?: boolean;
  /** Called with how long each batch's fsync took, seconds (for `a2a_journal_fsync_seconds`). @default none */
  onSync?: (seconds: number) => void;
  /** Called with a sentence when load dropped a torn tail or repaired damage. @default console.warn */
  warn?: (message: string) => void;
  /** The journal's file name inside the directory. @default "journal.jsonl" */
  fileName?: string;
  /**
   * Opens a file; tests inject one that fails (a full disk) to check no half record is ever read
   * back. @default `open` from node:fs/promises
   */
  openFile?: (path: string, flags: string, mode?: number) => Promise<FileHandle>;
  /**
   * Turns a record's JSON bytes into the record; `line` says where the record is in the file, for
   * records that keep only that and read themselves back later (`readLine`).
   * @default UTF-8 decoding, then JSON.parse
   */
  decode?: Decode;
}

/**
 * Opens (creating if needed) the journal in `dir`, takes the directory lock, and reads it.
 *
 * @param dir The data directory; created if missing.
 * @param options See {@linkcode JournalOptions}.
 * @returns The open journal; call `load()` for its records.
 * @throws {JournalError} `LOCKED`, `READ_ONLY`, `CORRUPT` (file and line named), or `IO`.
 *
 * @example Append, reopen and read back
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openJournal } from "./journal.ts";
 * const dir = mkdtempSync(join(tmpdir(), "journal-"));
 * const journal = await openJournal(dir);
 * await journal.append({ hello: "world" });
 * await journal.close();
 * const again = await openJournal(dir);
 * console.log(await again.load()); // [{ hello: "world" }]
 * await again.close();
 * ```
 */
export async function openJournal(dir: string, options: JournalOptions = {}): Promise<FileJournal> {
  const { sync = true, repair = false, usedBefore = false, lock = true, warn = console.warn, fileName = "journal.jsonl", openFile = open } = options;
  const decode = withHeader(options.decode ?? parseJson);
  await prepareDataDirectory(dir);
  const held = lock ? await acquireLock(dir) : undefined;
  const path = join(dir, fileName);
  try {
    let handle = await openPrivateFile(path, openFile);
    let { size } = await handle.stat();
    if (size === 0 && usedBefore && !repair) {
      await handle.close();
      throw new JournalError("CORRUPT", `Journal ${path} is empty, but this data directory has kept records before (its key files are there). Start with repair to begin again from nothing.`);
    }
    let decoded = await readJournal(handle, size, decode);
    if (decoded.badLine !== undefined && decoded.damaged) {
      if (!repair) {
        await handle.close();
        throw new JournalError(
          "CORRUPT",
          `Journal ${path} is damaged at line ${decoded.badLine}: a whole line whose checksum does not match, which a crash does not leave. ` +
            `Start with repair to keep every good record and move the damaged lines to ${path}.damaged.`,
        );
      }
      const repaired = await repairJournal(handle, path, { openFile });
      warn(`Journal ${path}: repaired; moved ${repaired.moved.length} damaged line(s) (line ${repaired.moved.join(", ")}) to ${repaired.damagedPath}, kept ${repaired.kept}`);
      [handle, size] = [repaired.handle, repaired.size];
      decoded = await readJournal(handle, size, decode);
    }
    if (decoded.badLine !== undefined) {
      warn(`Journal ${path}: dropped a torn last record (${size - decoded.goodBytes} bytes at line ${decoded.badLine})`);
      await handle.truncate(decoded.goodBytes);
      if (sync) await handle.datasync();
    }
    if (decoded.goodBytes === 0) {
      // A new journal starts with its header, so an emptied one can be told from one never used.
      await writeAll(handle, encodeRecord(JOURNAL_HEADER), 0);
      await handle.datasync();
      decoded = { records: [JOURNAL_HEADER], goodBytes: (await handle.stat()).size, damaged: false };
    }
    if (isHeader(decoded.records[0])) decoded.records.shift();
    return new FileJournal(dir, path, handle, decoded, { sync, lock: held, openFile, decode, onSync: options.onSync });
  } catch (error) {
    await held?.release();
    if (error instanceof JournalError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EROFS") {
      throw new JournalError("READ_ONLY", `Journal ${path} is not writable (${code})`, { cause: error });
    }
    throw new JournalError("IO", `Cannot open journal ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** A journal's first line: it says the file was made by a journal, so an emptied one is noticed. */
const JOURNAL_HEADER = { type: "journal", format: 1 };
const HEADER_JSON = new TextEncoder().encode(JSON.stringify(JOURNAL_HEADER));

function isHeader(record: unknown): boolean {
  return record === JOURNAL_HEADER;
}

/** The caller's decoder, but the header line is the header, whatever the caller makes of JSON. */
function withHeader(decode: Decode): Decode {
  return (json, line) => (json.length === HEADER_JSON.length && json.every((byte, i) => byte === HEADER_JSON[i]) ? JOURNAL_HEADER : decode(json, line));
}

interface Pending {
  line: Uint8Array;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** The file-backed {@linkcode Storage}. Made by {@linkcode openJournal}. */
export class FileJournal implements Storage {
  /** The journal file's path. */
  readonly path: string;
  #dir: string;
  #handle: FileHandle;
  #records: unknown[] | undefined;
  #recordCount: number;
  #size: number;
  #sync: boolean;
  #lock: DirectoryLock | undefined;
  #pending: Pending[] = [];
  #flushScheduled = false;
  #busy: Promise<void> | undefined;
  #compacting = false;
  #compaction: Promise<void> | undefined;
  #closed = false;
  /** Reads in flight (`readLine`), which a compaction lets finish before it closes the old file. */
  #reads = new Set<Promise<unknown>>();
  /** A failed batch left bytes past `#size` that truncate could not remove yet. */
  #torn = false;
  #batches = 0;
  #openFile: NonNullable<JournalOptions["openFile"]>;
  #decode: Decode;
  #onSync: JournalOptions["onSync"];

  /** Use {@linkcode openJournal}. */
  constructor(dir: string, path: string, handle: FileHandle, decoded: DecodedJournal, options: { sync: boolean; lock?: DirectoryLock } & Pick<JournalOptions, "openFile" | "decode" | "onSync">) {
    this.#dir = dir;
    this.path = path;
    this.#handle = handle;
    this.#records = decoded.records;
    this.#recordCount = decoded.records.length;
    this.#size = decoded.goodBytes;
    this.#sync = options.sync;
    this.#lock = options.lock;
    this.#openFile = options.openFile ?? open;
    this.#decode = options.decode ?? withHeader(parseJson);
    this.#onSync = options.onSync;
  }

  /** Records in the file now. */
  get recordCount(): number {
    return this.#recordCount;
  }

  /** Batches written (each one write and, with `sync`, one fsync) since open: group commit at work. */
  get batchCount(): number {
    return this.#batches;
  }

  /** The records read at open; the first call hands them over and frees them. */
  async load(): Promise<unknown[]> {
    const records = this.#records ?? (await readJournal(this.#handle, this.#size, this.#decode)).records.filter((record) => !isHeader(record));
    this.#records = undefined;
    return records;
  }

  /** Appends one record; resolves when it is durable. */
  append(record: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new JournalError("CLOSED", `Journal ${this.path} is closed`));
    const line = encodeRecord(record);
    return new Promise((resolve, reject) => {
      this.#pending.push({ line, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#busy || this.#compacting) return;
    this.#flushScheduled = true;
    // setImmediate, not a microtask: appends made by I/O callbacks of this same turn join the batch.
    setImmediate(() => {
      this.#flushScheduled = false;
      if (!this.#busy && !this.#compacting && this.#pending.length > 0) this.#busy = this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    let length = 0;
    for (const item of batch) length += item.line.length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const item of batch) {
      bytes.set(item.line, offset);
      offset += item.line.length;
    }
    try {
      // The file is opened for appending, so a write lands at its end: cut a torn batch off first,
      // or this batch would be read back glued to it (and dropped), or revive its whole records.
      if (this.#torn) {
        await this.#handle.truncate(this.#size);
        this.#torn = false;
      }
      await writeAll(this.#handle, bytes, this.#size);
      if (this.#sync) {
        const started = performance.now();
        await this.#handle.datasync();
        this.#onSync?.((performance.now() - started) / 1000);
      }
      this.#size += length;
      this.#recordCount += batch.length;
      this.#batches++;
      for (const item of batch) item.resolve();
    } catch (error) {
      // Cut off whatever part of the batch reached the file, so no half record is ever read back.
      // If that fails too, the next batch (or close) cuts them before anything else is written.
      await this.#handle.truncate(this.#size).catch(() => (this.#torn = true));
      const failure = new JournalError("IO", `Cannot append to journal ${this.path}: ${(error as Error).message}`, { cause: error });
      for (const item of batch) item.reject(failure);
    } finally {
      this.#busy = undefined;
      if (this.#pending.length > 0) this.#scheduleFlush();
    }
  }

  /**
   * Reads one record's line back, checks its checksum, and returns its JSON bytes.
   *
   * @param location Where the line is, as `decode` or `StoredLine.relocated` was told.
   * @returns The record's JSON.
   * @throws {JournalError} `CORRUPT` if the bytes there are not that line; `IO` if the read fails.
   */
  async readLine({ position, length }: LineLocation): Promise<Uint8Array> {
    if (this.#closed) throw new JournalError("CLOSED", `Journal ${this.path} is closed`);
    // Read through the handle of this moment: a compaction that swaps it waits for this read.
    const handle = this.#handle;
    const read = handle.read(new Uint8Array(length), 0, length, position);
    this.#reads.add(read);
    let bytes: Uint8Array;
    try {
      const { bytesRead, buffer } = await read;
      bytes = buffer.subarray(0, bytesRead);
    } catch (error) {
      throw new JournalError("IO", `Cannot read journal ${this.path} at byte ${position}: ${(error as Error).message}`, { cause: error });
    } finally {
      this.#reads.delete(read);
    }
    if (bytes.length !== length || bytes[length - 1] !== NEWLINE || !checkLine(bytes, 0, length - 1)) {
      throw new JournalError("CORRUPT", `Journal ${this.path} holds no intact record at byte ${position} (${length} bytes)`);
    }
    return bytes.subarray(9, length - 1);
  }

  /**
   * Rewrites the journal as `snapshot()`: write a new file, fsync, rename, fsync the directory.
   * Records are written as they come, through a bounded buffer; a `StoredLine` on disk is copied
   * from the old file as bytes (runs of neighbouring lines in one read).
   */
  compact(snapshot: () => Iterable<unknown>): Promise<void> {
    if (this.#closed || this.#compacting) return Promise.resolve();
    this.#compacting = true;
    this.#compaction = this.#compact(snapshot);
    return this.#compaction;
  }

  async #compact(snapshot: () => Iterable<unknown>): Promise<void> {
    try {
      while (this.#busy) await this.#busy;
      // Let the continuations of the last batch run, so the snapshot includes what they applied.
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Nothing becomes durable (so nothing changes) until this compaction ends; take the list now.
      const items = [JOURNAL_HEADER, ...snapshot()];
      const { handle: next, size, moved } = await writeCompactedJournal(items, { from: this.#handle, path: this.path, openFile: this.#openFile });
      // In one turn: the new handle, and every moved line's new place; reads already started on
      // the old handle finish before it is closed.
      const old = this.#handle;
      const reads = [...this.#reads];
      this.#handle = next;
      this.#size = size;
      this.#recordCount = items.length - 1; // The header is no record.
      for (const [item, location] of moved) item.relocated(location);
      await Promise.allSettled(reads);
      await old.close().catch(() => undefined); // The old file is unlinked; nothing is lost if its close fails.
      await syncDirectory(this.#dir);
    } catch (error) {
      throw new JournalError("IO", `Cannot compact journal ${this.path}: ${(error as Error).message}`, { cause: error });
    } finally {
      this.#compacting = false;
      if (this.#pending.length > 0) this.#scheduleFlush();
    }
  }

  /** Waits for pending appends, then closes the file and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // A compaction reads the old file and swaps handles: let it finish (or fail) first.
    await this.#compaction?.catch(() => undefined);
    for (let i = 0; i < 1000 && (this.#busy || this.#pending.length > 0 || this.#flushScheduled || this.#compacting); i++) {
      await (this.#busy ?? new Promise<void>((resolve) => setImmediate(resolve)));
    }
    this.#closed = true;
    try {
      if (this.#torn) await this.#handle.truncate(this.#size);
    } finally {
      await this.#handle.close();
      await this.#lock?.release();
    }
  }
}
