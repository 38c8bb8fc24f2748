/**
 * File-system steps the durable writers share (the journal, its compaction, the signing key file):
 * making a rename or link durable, writing a whole buffer at a position, and keeping the data
 * directory and its files private. What is written, and when, is the callers' business.
 *
 * @module
 */

import { lstat, mkdir, open, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import process from "node:process";
import { JournalError } from "./errors.ts";

/**
 * Flushes a directory, so a rename or link inside it survives a crash (POSIX). Windows cannot open
 * a directory, and some file systems cannot fsync one (`EISDIR`, `EINVAL`, `EPERM`): there the
 * rename is as durable as it gets, and this returns.
 *
 * @param dir The directory.
 * @returns When the directory's entries are on disk.
 * @throws {Error} If the directory cannot be opened or flushed for another reason.
 *
 * @example Publish a file durably
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { rename, writeFile } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { syncDirectory } from "./fs_util.ts";
 * const dir = mkdtempSync(join(tmpdir(), "sync-"));
 * await writeFile(join(dir, "a.tmp"), "hello");
 * await rename(join(dir, "a.tmp"), join(dir, "a"));
 * await syncDirectory(dir);
 * ```
 */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM") throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Writes all of `bytes` at `position`, as many writes as the file system needs (a write may take
 * fewer bytes than it was given).
 *
 * @param handle The file.
 * @param bytes What to write.
 * @param position The file offset of the first byte.
 * @returns When every byte is written (not yet flushed to disk).
 * @throws {Error} If a write fails, or writes nothing (the disk takes no more).
 *
 * @example Write at the start of a file
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { open } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { writeAll } from "./fs_util.ts";
 * const handle = await open(join(mkdtempSync(join(tmpdir(), "w-")), "f"), "w+");
 * await writeAll(handle, new TextEncoder().encode("hello"), 0);
 * await handle.close();
 * ```
 */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    if (bytesWritten === 0) throw new Error("wrote 0 bytes");
    written += bytesWritten;
  }
}

/**
 * Makes `dir` (0700, parents as needed) or checks the one that is there: a data directory holds
 * push-config credentials and every task, so it must not be writable by other users (they could
 * swap the journal) and its files are kept private.
 *
 * @param dir The data directory.
 * @returns When it exists and is safe to use.
 * @throws {JournalError} `UNSAFE` if group or others may write it; `READ_ONLY` or `IO` if it cannot be made.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { prepareDataDirectory } from "./fs_util.ts";
 * await prepareDataDirectory(join(mkdtempSync(join(tmpdir(), "d-")), "agent"));
 * ```
 */
export async function prepareDataDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EROFS" || code === "EPERM") throw new JournalError("READ_ONLY", `Data directory ${dir} is not writable (${code})`, { cause: error });
    throw new JournalError("IO", `Cannot create data directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const { mode } = await stat(dir);
  if (process.platform !== "win32" && (mode & 0o022) !== 0) {
    throw new JournalError("UNSAFE", `Data directory ${dir} can be written by other users (mode ${(mode & 0o777).toString(8)}): another user could replace its journal. Run chmod go-w on it, or use another directory`);
  }
}

/**
 * Opens a file of the data directory for appending, private (0600) and never through a symbolic
 * link: a link could send the journal's writes (and its credentials) elsewhere. A file that is
 * there with looser permissions is made private.
 *
 * @param path The file.
 * @param openFile The open function (tests inject failures). @default `open` from node:fs/promises
 * @returns The handle, open with `a+`.
 * @throws {JournalError} `UNSAFE` for a symbolic link; the open's own error otherwise.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openPrivateFile } from "./fs_util.ts";
 * const handle = await openPrivateFile(join(mkdtempSync(join(tmpdir(), "f-")), "journal.jsonl"));
 * await handle.close();
 * ```
 */
export async function openPrivateFile(path: string, openFile: (path: string, flags: string, mode?: number) => Promise<FileHandle> = open): Promise<FileHandle> {
  const existing = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing?.isSymbolicLink()) {
    throw new JournalError("UNSAFE", `${path} is a symbolic link: a2a-push writes only its own files; replace the link by the file it points to`);
  }
  const handle = await openFile(path, "a+", 0o600);
  if (process.platform !== "win32" && existing && (existing.mode & 0o077) !== 0) await handle.chmod(0o600);
  return handle;
}
