/**
 * The append-only journal: the single source of truth of an agent, and, with its start-up reader
 * (`journal_reader.ts`) and compaction writer (`journal_compaction.ts`), the only code here that
 * touches its data directory's journal file.
 *
 * One record a line: `<crc32 as 8 hex digits> <JSON>\n`. A line whose checksum fails at the end of
 * the file is a write the last process did not finish (a torn tail): it is dropped on load. A bad
 * line followed by good ones is damage: the load stops with an error naming file and line, unless
 * `repair` is set, which truncates there and says how much it dropped.
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

import { mkdir, open } from "node:fs/promises";
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
import { syncDirectory, writeAll } from "./fs_util.ts";

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
  /** Truncate at a damaged record instead of refusing to start. @default false */
  repair?: boolean;
  /** Take the directory lock. @default true */
  lock?: boolean;
  /** Called with a sentence when load dropped a torn tail or repaired damage. @default console.warn */
  warn?: (message: string) => void;
  /** The journal's file name inside the directory. @default "journal.jsonl" */
  fileName?: string;
  /**
   * Opens a file; tests inject one that fails (a full disk) to check no half record is ever read
   * back. @default `open` from node:fs/promises
   */
  openFile?: (path: string, flags: string) => Promise<FileHandle>;
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
  const { sync = true, repair = false, lock = true, warn = console.warn, fileName = "journal.jsonl", openFile = open, decode = parseJson } = options;
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new JournalError("IO", `Cannot create data directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const held = lock ? await acquireLock(dir) : undefined;
  const path = join(dir, fileName);
  try {
    const handle = await openFile(path, "a+");
    const { size } = await handle.stat();
    const decoded = await readJournal(handle, size, decode);
    if (decoded.badLine !== undefined) {
      const dropped = size - decoded.goodBytes;
      if (decoded.damaged && !repair) {
        await handle.close();
        throw new JournalError(
          "CORRUPT",
          `Journal ${path} is damaged at line ${decoded.badLine}: its checksum does not match. ` +
            `Start with repair to truncate there (drops ${dropped} bytes from line ${decoded.badLine} on).`,
        );
      }
      warn(
        decoded.damaged
          ? `Journal ${path}: repaired by truncating at line ${decoded.badLine}, dropping ${dropped} bytes`
          : `Journal ${path}: dropped a torn last record (${dropped} bytes at line ${decoded.badLine})`,
      );
      await handle.truncate(decoded.goodBytes);
      if (sync) await handle.datasync();
    }
    return new FileJournal(dir, path, handle, decoded, { sync, lock: held, openFile, decode });
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

  /** Use {@linkcode openJournal}. */
  constructor(dir: string, path: string, handle: FileHandle, decoded: DecodedJournal, options: { sync: boolean; lock?: DirectoryLock; openFile?: JournalOptions["openFile"]; decode?: JournalOptions["decode"] }) {
    this.#dir = dir;
    this.path = path;
    this.#handle = handle;
    this.#records = decoded.records;
    this.#recordCount = decoded.records.length;
    this.#size = decoded.goodBytes;
    this.#sync = options.sync;
    this.#lock = options.lock;
    this.#openFile = options.openFile ?? open;
    this.#decode = options.decode ?? parseJson;
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
    const records = this.#records ?? (await readJournal(this.#handle, this.#size, this.#decode)).records;
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
      if (this.#sync) await this.#handle.datasync();
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
      const items = [...snapshot()];
      const { handle: next, size, moved } = await writeCompactedJournal(items, { from: this.#handle, path: this.path, openFile: this.#openFile });
      // In one turn: the new handle, and every moved line's new place; reads already started on
      // the old handle finish before it is closed.
      const old = this.#handle;
      const reads = [...this.#reads];
      this.#handle = next;
      this.#size = size;
      this.#recordCount = items.length;
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
