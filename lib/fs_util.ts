/**
 * File-system steps the durable writers share (the journal, its compaction, the signing key file,
 * the receiver's token): making a rename or link durable, writing a whole buffer at a position,
 * keeping the data directory and its files private, and a secret token kept in a file. What is
 * written, and when, is the callers' business.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, open, readFile, stat, writeFile } from "node:fs/promises";
import type { Stats } from "node:fs";
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
  const existing = await lstatIfPresent(path);
  if (existing?.isSymbolicLink()) {
    throw new JournalError("UNSAFE", `${path} is a symbolic link: a2a-push writes only its own files; replace the link by the file it points to`);
  }
  const handle = await openFile(path, "a+", 0o600);
  if (process.platform !== "win32" && existing && (existing.mode & 0o077) !== 0) await handle.chmod(0o600);
  return handle;
}

/**
 * Reads the secret token kept in `path`, making it first when the file is missing: 24 random
 * bytes in hex (never a leading `-` that a command line would take for a flag), written 0600 and
 * created exclusively, so concurrent first starts agree on one token. Like the journal, it is never
 * read through a symbolic link, and a file with looser permissions is made private.
 *
 * @param path The file, in a data directory that exists.
 * @returns The token.
 * @throws {JournalError} `UNSAFE` for a symbolic link.
 * @throws {Error} If the file cannot be read or written, or is empty.
 *
 * @example Load (or make) a token
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { loadOrMakeToken } from "./fs_util.ts";
 * const token = await loadOrMakeToken(join(mkdtempSync(join(tmpdir(), "t-")), "notification_token"));
 * console.log(token.length); // 48
 * ```
 */
export async function loadOrMakeToken(path: string): Promise<string> {
  let existing = await lstatIfPresent(path);
  if (!existing) {
    await writeFile(path, `${randomBytes(24).toString("hex")}\n`, { mode: 0o600, flag: "wx" }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error; // Another start made it first: read that one.
    });
    existing = await lstatIfPresent(path);
  }
  if (existing?.isSymbolicLink()) {
    throw new JournalError("UNSAFE", `${path} is a symbolic link: a2a-push reads its secrets only from its own files; replace the link by the file it points to`);
  }
  if (process.platform !== "win32" && existing && (existing.mode & 0o077) !== 0) await chmod(path, 0o600);
  const token = (await readFile(path, "utf8")).trim();
  if (token === "") throw new Error(`Cannot use token file ${path}: it is empty; delete it to have a new token made`);
  return token;
}

/** The file's own status (a link's, not its target's), or undefined when there is none. */
async function lstatIfPresent(path: string): Promise<Stats | undefined> {
  return await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
}
