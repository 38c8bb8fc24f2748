/**
 * The store seam: what the agent's task store, runner and outbox need from storage, and the
 * embedded implementation over the file journal. The other is PostgreSQL (`pg_storage.ts`), where
 * several agent processes (replicas) share one database.
 *
 * Every record is about one task. `append` commits one, together with the deliveries it owes (they
 * are in the record); a storage others also write refuses a record built on a state that is no
 * longer the task's latest (`StaleWriteError`): the store then catches up and builds it again.
 * What others commit comes to `onCommitted`, in commit order. Task runs and delivery attempts are
 * leased, so one process at a time runs a task or sends a delivery; with the file journal this
 * process is the only one (the directory lock says so), and every claim is granted at once.
 *
 * @module
 */

import type { FileJournal, Storage } from "./journal.ts";

/** What the agent's store, runner and outbox need from storage. */
export interface TaskStorage extends Storage {
  /** Whether other processes write the same records (then leases and claims matter). */
  readonly shared: boolean;
  /**
   * Where records other processes committed go, in commit order (after `load`).
   *
   * @param listener Applies one record.
   */
  onCommitted(listener: (record: unknown) => void): void;
  /** Resolves once every record others committed before the call has gone to the listener. */
  catchUp(): Promise<void>;
  /**
   * Takes or renews the leases of task runs.
   *
   * @param taskIds The tasks to run, or running here.
   * @param leaseMs How long the lease holds unless renewed.
   * @returns The ids this process holds now; the rest run elsewhere.
   */
  claimRuns(taskIds: readonly string[], leaseMs: number): Promise<Set<string>>;
  /** Ends this process's lease on a task's run, so another may take it at once. */
  releaseRun(taskId: string): Promise<void>;
  /**
   * Takes deliveries for one attempt each. Only pending deliveries are granted, and only when no
   * other process holds them.
   *
   * @param ids The deliveries about to be sent (`webhook-id`s).
   * @param leaseMs How long the claim holds: longer than an attempt.
   * @returns The ids this process may send now.
   */
  claimDeliveries(ids: readonly string[], leaseMs: number): Promise<Set<string>>;
}

/** Thrown by `append` when the task changed elsewhere since the record was built. */
export class StaleWriteError extends Error {
  override name = "StaleWriteError";
  /** The task whose newer state wins. */
  readonly taskId: string;

  /**
   * @param taskId The task.
   * @param message What happened.
   */
  constructor(taskId: string, message: string) {
    super(message);
    this.taskId = taskId;
  }
}

/**
 * The file journal as a {@linkcode TaskStorage}: the only writer of its directory, so nothing is
 * committed elsewhere and every lease and claim is this process's.
 *
 * @param journal An open journal.
 * @returns The storage; closing it closes the journal.
 *
 * @example The file journal grants every claim
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openJournal } from "./journal.ts";
 * import { fileStorage } from "./storage.ts";
 * const storage = fileStorage(await openJournal(mkdtempSync(join(tmpdir(), "s-"))));
 * console.log(await storage.claimRuns(["t1"], 10_000)); // Set(1) { "t1" }
 * await storage.close();
 * ```
 */
export function fileStorage(journal: FileJournal): TaskStorage {
  return {
    shared: false,
    load: () => journal.load(),
    append: (record) => journal.append(record),
    compact: (snapshot) => journal.compact(snapshot),
    readLine: (location) => journal.readLine(location),
    get recordCount() {
      return journal.recordCount;
    },
    close: () => journal.close(),
    onCommitted: () => {},
    catchUp: async () => {},
    claimRuns: async (taskIds) => new Set(taskIds),
    releaseRun: async () => {},
    claimDeliveries: async (ids) => new Set(ids),
  };
}

/**
 * The task a record is about: `taskId`, or a task's (or frozen task's) `id`.
 *
 * @param record A task store record.
 * @returns The id, or undefined for something that is not a record.
 */
export function taskIdOf(record: unknown): string | undefined {
  const r = record as { taskId?: unknown; task?: { id?: unknown }; type?: unknown; id?: unknown };
  if (typeof r?.taskId === "string") return r.taskId;
  if (typeof r?.task?.id === "string") return r.task.id;
  return r?.type === "frozen" && typeof r.id === "string" ? r.id : undefined;
}
