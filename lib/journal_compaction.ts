/**
 * The journal's compaction writer: the live records written to `<journal>.compact`, fsynced, and
 * renamed over the journal, so a crash leaves either the old file or the new one, never a mix.
 * Lines already on disk (a {@linkcode StoredLine}) are copied from the old file as bytes, runs of
 * neighbours in one read, through a bounded buffer. Taking the snapshot, swapping the journal's
 * handle and fsyncing the directory are `journal.ts`'s.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";
import { open, rename, rm } from "node:fs/promises";
import { writeAll } from "./fs_util.ts";
import type { StoredLine } from "./journal.ts";
import { encodeRecord } from "./journal_format.ts";
import type { LineLocation } from "./journal_format.ts";

/** Options of {@linkcode writeCompactedJournal}. */
export interface CompactionOptions {
  /** The journal file now, where `StoredLine`s' bytes are copied from. */
  from: FileHandle;
  /** The journal's path: the compacted file is renamed over it. */
  path: string;
  /** Opens a file (tests inject failures). @default `open` from node:fs/promises */
  openFile?: (path: string, flags: string, mode?: number) => Promise<FileHandle>;
}

/** The compacted journal, in place. */
export interface CompactedJournal {
  /** The new file, open for appending: the journal's handle from now on. */
  handle: FileHandle;
  /** Its size in bytes. */
  size: number;
  /** Each `StoredLine` among the items, with where its line is in the new file. */
  moved: Array<[StoredLine, LineLocation]>;
}

/**
 * Writes `items` as a new journal file and renames it over `path`. The new file is written
 * through an append handle that, after the rename, is the journal's own: from the rename on,
 * appends go to the new file whatever fails afterwards (a lost directory fsync must not leave the
 * journal appending to the unlinked old file). On failure before the rename, the old file stays
 * and the new one is removed.
 *
 * @param items The records (or `StoredLine`s), in order.
 * @param options See {@linkcode CompactionOptions}.
 * @returns The new file's handle and size, and where the moved lines went.
 * @throws {Error} If a write, the fsync or the rename fails, or the old file ends inside a line.
 *
 * @example Compact a journal file by hand
 * ```ts
 * import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
 * import { open } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { writeCompactedJournal } from "./journal_compaction.ts";
 * const path = join(mkdtempSync(join(tmpdir(), "j-")), "journal.jsonl");
 * writeFileSync(path, "");
 * const from = await open(path, "r");
 * const { handle } = await writeCompactedJournal([{ a: 1 }], { from, path });
 * console.log(readFileSync(path, "utf8").endsWith('{"a":1}\n')); // true
 * await Promise.all([from.close(), handle.close()]);
 * ```
 */
export async function writeCompactedJournal(items: readonly unknown[], options: CompactionOptions): Promise<CompactedJournal> {
  const { from, path, openFile = open } = options;
  const tmpPath = `${path}.compact`;
  // A compaction that failed or crashed may have left its file: start from nothing.
  await rm(tmpPath, { force: true });
  const handle = await openFile(tmpPath, "a+", 0o600);
  const moved: Array<[StoredLine, LineLocation]> = [];
  try {
    const out = new CompactionWriter(from, handle);
    for (const item of items) {
      const line = (item as Partial<StoredLine>)?.journalLine;
      const position = out.size;
      if (line) out.copy(line);
      else out.write(encodeRecord(item));
      if (typeof (item as Partial<StoredLine>)?.relocated === "function") {
        moved.push([item as StoredLine, { position, length: out.size - position }]);
      }
      await out.flushIfFull();
    }
    await out.flush();
    await handle.sync();
    await rename(tmpPath, path);
    return { handle, size: out.size, moved };
  } catch (error) {
    await handle.close();
    await rm(tmpPath, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Bytes a compaction gathers before it writes them (and the most it reads from the old file at once). */
const COMPACTION_BUFFER_BYTES = 1024 * 1024;

/** Writes a compacted journal: encoded records and ranges copied from the old file, in order. */
class CompactionWriter {
  #from: FileHandle;
  #to: FileHandle;
  #parts: Array<Uint8Array | LineLocation> = [];
  #gathered = 0;
  #written = 0;

  /** Bytes written or gathered so far: where the next line goes. */
  get size(): number {
    return this.#written + this.#gathered;
  }

  constructor(from: FileHandle, to: FileHandle) {
    this.#from = from;
    this.#to = to;
  }

  write(line: Uint8Array): void {
    this.#parts.push(line);
    this.#gathered += line.length;
  }

  copy(location: LineLocation): void {
    const last = this.#parts.at(-1);
    // Lines that were neighbours in the old file are read as one range.
    if (last && !(last instanceof Uint8Array) && last.position + last.length === location.position) last.length += location.length;
    else this.#parts.push({ ...location });
    this.#gathered += location.length;
  }

  async flushIfFull(): Promise<void> {
    if (this.#gathered >= COMPACTION_BUFFER_BYTES) await this.flush();
  }

  /** One buffer of everything gathered (copied ranges read into it), one write. */
  async flush(): Promise<void> {
    const bytes = new Uint8Array(this.#gathered);
    let at = 0;
    for (const part of this.#parts) {
      if (part instanceof Uint8Array) {
        bytes.set(part, at);
        at += part.length;
        continue;
      }
      const { bytesRead } = await this.#from.read(bytes, at, part.length, part.position);
      if (bytesRead !== part.length) throw new Error(`the old journal ended inside a record at byte ${part.position}`);
      at += part.length;
    }
    await writeAll(this.#to, bytes, this.#written);
    this.#written += bytes.length;
    this.#parts = [];
    this.#gathered = 0;
  }
}
