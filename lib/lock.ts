/**
 * An exclusive lock on a data directory, so two agent processes never write one journal. The lock
 * is a file `LOCK` holding the owner's pid. It is written whole to a file of its own first and then
 * `link()`ed into place, which fails if `LOCK` exists: nobody ever sees a half-written lock, and
 * only one of two processes starting together gets it.
 *
 * A lock whose pid is no longer alive was left by a killed process and is taken over. Taking over
 * goes through a second lock, `LOCK.takeover` (made the same way), and removes `LOCK` only if it is
 * still the very file found stale (same inode), so two processes taking over one stale lock cannot
 * both win. (A recycled pid could keep a stale lock alive; the error names the pid so an operator
 * can check and remove the file.)
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { link, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { JournalError } from "./errors.ts";

/** Directories this process holds, so a second open in the same process is refused too. */
const HELD = new Set<string>();
/** Tries at taking a lock that others keep taking or releasing meanwhile. */
const MAX_TRIES = 5;

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
  const mine = await writePidFile(dir);
  try {
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      if (await linkExclusive(mine, path, dir)) return held(path);
      const found = await readHolder(path);
      if (found === undefined) continue; // Released meanwhile: try again.
      if (isAlive(found.pid)) {
        throw new JournalError(
          "LOCKED",
          `Data directory ${dir} is in use by process ${found.pid}; stop it first (or remove ${path} if that process is not an agent)`,
        );
      }
      // The holder is gone (killed): take the stale lock over, one taker at a time.
      if (await takeOver(path, found.ino, mine, dir)) return held(path);
    }
    throw new JournalError("LOCKED", `Cannot take the lock ${path}: other processes keep taking it`);
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

function held(path: string): DirectoryLock {
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
}

/** Writes this process's pid, whole and synced, to a file of its own beside the lock. */
async function writePidFile(dir: string): Promise<string> {
  const path = join(dir, `LOCK.${process.pid}.${randomBytes(6).toString("hex")}`);
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return path;
  } catch (error) {
    throw lockError(dir, error);
  }
}

/** Links `from` to `to` unless `to` exists: true when this process made it. */
async function linkExclusive(from: string, to: string, dir: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw lockError(dir, error);
  }
}

/**
 * The holder's pid and the lock file's inode, or undefined when there is no lock file. Both come
 * from one open file: read by name twice, they could belong to two different lock files.
 */
async function readHolder(path: string): Promise<{ pid: number; ino: number } | undefined> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const { ino } = await handle.stat();
    return { pid: Number.parseInt(await handle.readFile("utf8"), 10), ino };
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the stale lock (inode `ino`) with ours while holding `LOCK.takeover`. False when the
 * lock changed hands meanwhile, or another process is taking it over right now.
 */
async function takeOver(path: string, ino: number, mine: string, dir: string): Promise<boolean> {
  const breaker = `${path}.takeover`;
  if (!(await linkExclusive(mine, breaker, dir))) {
    const taker = await readHolder(breaker);
    // A taker that died in the few microseconds it holds the breaker left it behind: clear it.
    if (taker !== undefined && !isAlive(taker.pid)) await unlink(breaker).catch(() => undefined);
    return false;
  }
  try {
    const now = await readHolder(path);
    if (now !== undefined && now.ino !== ino) return false; // Someone else's lock now.
    await unlink(path).catch(() => undefined);
    return await linkExclusive(mine, path, dir);
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

function lockError(dir: string, error: unknown): JournalError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EROFS" || code === "EPERM") {
    return new JournalError("READ_ONLY", `Data directory ${dir} is not writable (${code})`, { cause: error });
  }
  return new JournalError("IO", `Cannot lock data directory ${dir}: ${code ?? (error as Error).message}`, { cause: error });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
