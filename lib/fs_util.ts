/**
 * File-system steps the durable writers share (the journal, its compaction, the signing key file):
 * making a rename or link durable, and writing a whole buffer at a position. What is written, and
 * when, is the callers' business.
 *
 * @module
 */

import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import process from "node:process";

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
