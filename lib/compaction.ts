/**
 * Keeps an agent's journal small: once it holds several times the live records (or finished tasks'
 * bodies in memory pass their limit), it is rewritten as the live state: the store's tasks and
 * configs, then the outbox's owed deliveries and dead letters, taken at one moment. Checked on a
 * timer, so no commit waits for it and neither the store nor the outbox calls the other.
 *
 * @module
 */

import { clearInterval, setInterval } from "node:timers";
import type { Outbox } from "./outbox.ts";
import type { TaskStore } from "./task_store.ts";

/** How often the journal's size is checked. */
const CHECK_INTERVAL_MS = 1000;

/**
 * Compacts one agent's journal, by itself when due or when asked.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Compactor } from "./compaction.ts";
 * import { openJournal } from "./journal.ts";
 * import { TaskStore } from "./task_store.ts";
 * const journal = await openJournal(mkdtempSync(join(tmpdir(), "c-")));
 * const compactor = new Compactor(new TaskStore(journal), undefined);
 * await compactor.compact();
 * compactor.stop();
 * await journal.close();
 * ```
 */
export class Compactor {
  #store: TaskStore;
  #outbox: Outbox | undefined;
  #warn: (message: string) => void;
  #timer: ReturnType<typeof setInterval>;
  #running: Promise<void> | undefined;

  /**
   * @param store The agent's store.
   * @param outbox The agent's outbox, whose live records are kept too.
   * @param warn Where a failed compaction is reported. @default console.warn
   */
  constructor(store: TaskStore, outbox: Outbox | undefined, warn: (message: string) => void = console.warn) {
    this.#store = store;
    this.#outbox = outbox;
    this.#warn = warn;
    this.#timer = setInterval(() => this.#compactIfDue(), CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * Rewrites the journal as the live state now (or joins the compaction under way).
   *
   * @returns Resolves when the new journal is in place.
   * @throws {JournalError} If it could not be written; the old journal is then whole.
   */
  compact(): Promise<void> {
    const outbox = this.#outbox;
    this.#running ??= this.#store.compact(() => outbox?.snapshot() ?? [], () => outbox?.owedTasks() ?? new Set()).finally(() => (this.#running = undefined));
    return this.#running;
  }

  #compactIfDue(): void {
    if (this.#running || !this.#store.needsCompaction(this.#outbox?.liveCount)) return;
    // A failed compaction leaves the old journal whole; the next check tries again.
    this.compact().catch((error: Error) => this.#warn(`compaction failed: ${error.message}`));
  }

  /** Stops checking; waits for a compaction under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}

/**
 * Which finished tasks a compaction drops: those whose last change is older than the retention,
 * then the oldest beyond `keep`, never one whose notifications are still owed. Pure.
 *
 * @param finished The finished tasks held.
 * @param options `cutoff` (ms since the epoch), `keep` (finished tasks to keep at most), `owed`
 *   (the tasks still owed a notification, asked only when some must go for `keep`).
 * @returns The tasks to drop.
 *
 * @example Drop a task past retention
 * ```ts
 * import { tasksToDrop } from "./compaction.ts";
 * const old = { id: "a", timestamp: "2020-01-01T00:00:00Z" };
 * console.log(tasksToDrop([old], { cutoff: Date.now(), keep: 10, owed: () => new Set() })); // [old]
 * ```
 */
export function tasksToDrop<T extends { id: string; timestamp: string }>(finished: readonly T[], options: { cutoff: number; keep: number; owed: () => ReadonlySet<string> }): T[] {
  const { cutoff, keep, owed } = options;
  const expired = finished.filter((task) => Date.parse(task.timestamp) < cutoff);
  const kept = finished.filter((task) => Date.parse(task.timestamp) >= cutoff);
  let excess = kept.length - keep;
  if (excess <= 0) return expired;
  const pinned = owed();
  const extra: T[] = [];
  for (const task of [...kept].sort((a, b) => a.timestamp.localeCompare(b.timestamp))) {
    if (excess <= 0) break;
    if (pinned.has(task.id)) continue;
    extra.push(task);
    excess--;
  }
  return [...expired, ...extra];
}
