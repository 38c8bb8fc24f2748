/**
 * An exclusive lock on a data directory, so two agent processes never write one journal. The lock
 * is a file `LOCK` holding the owner's pid, created with `O_EXCL`. A lock whose pid is no longer
 * alive was left by a killed process and is taken over. (A recycled pid could keep a stale lock
 * alive; the error names the pid so an operator can check and remove the file.)
 *
 * @module
 */

import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { JournalError } from "./errors.ts";

/** Directories this process holds, so a second open in the same process is refused too. */
const HELD = new Set<string>();

/** A held lock; `release()` removes it. */
export interface DirectoryLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock file. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the lock on `dir`, taking over a stale one left by a dead process.
 *
 * @param dir An existing directory.
 * @returns The held lock.
 * @throws {JournalError} `LOCKED` naming the holder's pid; `READ_ONLY` if the directory cannot be
 *   written; `IO` for other file-system errors.
 *
 * @example Lock, then release
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { acquireLock } from "./lock.ts";
 * const lock = await acquireLock(mkdtempSync(join(tmpdir(), "lock-")));
 * await lock.release();
 * ```
 */
export async function acquireLock(dir: string): Promise<DirectoryLock> {
  const path = join(dir, "LOCK");
  if (HELD.has(path)) {
    throw new JournalError("LOCKED", `Data directory ${dir} is already in use by this process (pid ${process.pid})`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      HELD.add(path);
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          HELD.delete(path);
          await unlink(path).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== "ENOENT") throw error;
          });
        },
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EROFS" || code === "EPERM") {
        throw new JournalError("READ_ONLY", `Data directory ${dir} is not writable (${code})`, { cause: error });
      }
      if (code !== "EEXIST") throw new JournalError("IO", `Cannot lock data directory ${dir}: ${code}`, { cause: error });
    }
    const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new JournalError(
        "LOCKED",
        `Data directory ${dir} is in use by process ${holder}; stop it first (or remove ${path} if that process is not an agent)`,
      );
    }
    // The holder is gone (killed, or crashed before writing its pid): the lock is stale.
    await unlink(path).catch(() => undefined);
  }
  throw new JournalError("LOCKED", `Cannot take the lock ${path}: another process keeps taking it`);
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
