/**
 * Tasks as the journal says they are. Every change is a journal record; the store applies a record
 * to its in-memory view only after the journal has made it durable, and only then tells listeners
 * (streams, blocking sends, the push outbox). So nobody ever sees a change a crash could take back.
 *
 * Changes to one task are serialised through a promise chain, so each change is validated against
 * the state the one before it left; changes to different tasks run side by side and share fsyncs.
 *
 * Records (the `type` field): `task` (a new task, or a whole task at compaction), `status`,
 * `message` (a user message joins the history, with the status it puts the task in), `artifact`,
 * `checkpoint`. Other modules may put
 * their own records in the same journal; the store ignores types it does not know.
 *
 * @module
 */

import type { Storage } from "./journal.ts";
import type { Artifact, Message, StreamResponse, Task, TaskStatus } from "./types.ts";
import { TERMINAL_STATES } from "./types.ts";

/** A journal record the store understands. Other modules may add fields (e.g. `deliveries`). */
export type TaskRecord =
  | { type: `push.${string}`; taskId: string; [extra: string]: unknown }
  | { type: "task"; task: Task; checkpoint?: unknown; [extra: string]: unknown }
  | { type: "status"; taskId: string; status: TaskStatus; checkpoint?: unknown; [extra: string]: unknown }
  | { type: "message"; taskId: string; message: Message; status?: TaskStatus; [extra: string]: unknown }
  | { type: "artifact"; taskId: string; artifact: Artifact; append?: boolean; lastChunk?: boolean; [extra: string]: unknown }
  | { type: "checkpoint"; taskId: string; checkpoint: unknown; [extra: string]: unknown };

/** The record types the store applies; other modules' records pass through it untouched. */
const TASK_RECORD_TYPES = new Set(["task", "status", "message", "artifact", "checkpoint"]);

/** The store's view of one task. `task` is live: copy it before handing it out. */
export interface StoredTask {
  task: Task;
  checkpoint: unknown;
}

/** What listeners hear after a record is durable and applied. */
export interface TaskChange {
  /** The record: a task record, or another module's record committed through the task's chain. */
  record: TaskRecord;
  /** The task after the change; undefined only for another module's record about a dropped task. */
  stored: StoredTask | undefined;
  /** The record as a stream event, for the records that are one. */
  event: StreamResponse | undefined;
}

/** Options of {@linkcode TaskStore}. */
export interface TaskStoreOptions {
  /** Drop terminal tasks this long after their last change, at compaction. @default 7 days */
  retentionMs?: number;
  /** Compact when the journal holds this many times the live records. @default 4 */
  compactionFactor?: number;
  /** Never compact a journal smaller than this many records. @default 10000 */
  compactionMinRecords?: number;
  /** Extra live records (e.g. pending deliveries) to keep at compaction. */
  extraSnapshot?: () => Iterable<unknown>;
  /** Extra live record count, for the compaction trigger. */
  extraLiveCount?: () => number;
  /**
   * Called in the task's turn, after a record is built and before it is journaled: the push outbox
   * adds the deliveries owed for the change here, so they are durable in the same record.
   */
  decorate?: (record: TaskRecord, current: StoredTask | undefined) => void;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/**
 * Holds tasks in memory, replays them from a journal, and commits changes through it.
 *
 * @example Create a task and change its status
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openJournal } from "./journal.ts";
 * import { TaskStore } from "./task_store.ts";
 * const journal = await openJournal(mkdtempSync(join(tmpdir(), "store-")));
 * const store = new TaskStore(journal);
 * const status = { state: "TASK_STATE_SUBMITTED" as const, timestamp: new Date().toISOString() };
 * await store.commit("t1", () => ({ type: "task", task: { id: "t1", contextId: "c1", status } }));
 * console.log(store.get("t1")?.task.status.state); // "TASK_STATE_SUBMITTED"
 * await journal.close();
 * ```
 */
export class TaskStore {
  #journal: Storage;
  #tasks = new Map<string, StoredTask>();
  #chains = new Map<string, Promise<unknown>>();
  #listeners = new Set<(change: TaskChange) => void>();
  #retentionMs: number;
  #compactionFactor: number;
  #compactionMinRecords: number;
  #extraSnapshot: () => Iterable<unknown>;
  #extraLiveCount: () => number;
  #decorate: (record: TaskRecord, current: StoredTask | undefined) => void;
  #now: () => number;
  #compacting: Promise<void> | undefined;

  /**
   * @param journal Where records go.
   * @param options See {@linkcode TaskStoreOptions}.
   */
  constructor(journal: Storage, options: TaskStoreOptions = {}) {
    const {
      retentionMs = 7 * 24 * 3600 * 1000,
      compactionFactor = 4,
      compactionMinRecords = 10_000,
      extraSnapshot = () => [],
      extraLiveCount = () => 0,
      decorate = () => {},
      now = Date.now,
    } = options;
    if (!(compactionFactor > 1)) throw new RangeError(`compactionFactor must be > 1, got ${compactionFactor}`);
    this.#journal = journal;
    this.#retentionMs = retentionMs;
    this.#compactionFactor = compactionFactor;
    this.#compactionMinRecords = compactionMinRecords;
    this.#extraSnapshot = extraSnapshot;
    this.#extraLiveCount = extraLiveCount;
    this.#decorate = decorate;
    this.#now = now;
  }

  /** Number of tasks held. */
  get size(): number {
    return this.#tasks.size;
  }

  /** The task with this id, or undefined. The object is live: do not change it. */
  get(taskId: string): StoredTask | undefined {
    return this.#tasks.get(taskId);
  }

  /** Every task held, in creation order. */
  all(): IterableIterator<StoredTask> {
    return this.#tasks.values();
  }

  /**
   * Applies a record read back from the journal at start-up. Records of other modules are ignored.
   *
   * @param record A journal record.
   */
  replay(record: unknown): void {
    const r = record as TaskRecord;
    if (TASK_RECORD_TYPES.has(r?.type)) applyRecord(this.#tasks, r);
  }

  /**
   * Listens to every durable change.
   *
   * @param listener Called synchronously after each applied change; must not throw.
   * @returns A function that removes the listener.
   */
  listen(listener: (change: TaskChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Makes one change to a task: in turn with the task's other changes, `build` looks at the current
   * state and returns the record to journal (or throws to refuse, or returns undefined for no
   * change); once durable, the record is applied and listeners are told.
   *
   * @param taskId The task the change is about.
   * @param build Makes the record from the current state (undefined for a new task).
   * @returns The applied change, or undefined if `build` made none.
   * @throws Whatever `build` throws; a {@linkcode JournalError} if the record could not be written.
   */
  commit(taskId: string, build: (current: StoredTask | undefined) => TaskRecord | undefined): Promise<TaskChange | undefined> {
    const previous = this.#chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const current = this.#tasks.get(taskId);
      const record = build(current);
      if (!record) return undefined;
      this.#decorate(record, current);
      await this.#journal.append(record);
      const stored = TASK_RECORD_TYPES.has(record.type) ? applyRecord(this.#tasks, record) : this.#tasks.get(taskId);
      const change: TaskChange = { record, stored, event: stored && toEvent(record, stored) };
      for (const listener of this.#listeners) listener(change);
      this.#maybeCompact();
      return change;
    });
    const tail = next.catch(() => undefined);
    this.#chains.set(taskId, tail);
    void tail.then(() => {
      if (this.#chains.get(taskId) === tail) this.#chains.delete(taskId);
    });
    return next;
  }

  /** Whether the journal has outgrown the live state by the configured factor. */
  get needsCompaction(): boolean {
    const live = this.#tasks.size + this.#extraLiveCount();
    return this.#journal.recordCount > Math.max(this.#compactionMinRecords, live * this.#compactionFactor);
  }

  #maybeCompact(): void {
    if (this.#compacting || !this.needsCompaction) return;
    this.#compacting = this.compact().finally(() => (this.#compacting = undefined));
    // A failed compaction leaves the old journal whole; the next change tries again.
    this.#compacting.catch((error: Error) => console.error(`compaction failed: ${error.message}`));
  }

  /**
   * Rewrites the journal as the live state: one `task` record per task (with its checkpoint), plus
   * the extra records; terminal tasks past their retention are dropped, from memory too.
   *
   * @returns Resolves when the new journal is in place.
   */
  async compact(): Promise<void> {
    await this.#journal.compact(() => {
      const cutoff = this.#now() - this.#retentionMs;
      for (const [id, stored] of this.#tasks) {
        const status = stored.task.status;
        if (TERMINAL_STATES.has(status.state) && Date.parse(status.timestamp) < cutoff) this.#tasks.delete(id);
      }
      return this.#snapshot();
    });
  }

  *#snapshot(): Generator<unknown> {
    for (const stored of this.#tasks.values()) {
      const record: TaskRecord = { type: "task", task: stored.task };
      if (stored.checkpoint !== undefined) record.checkpoint = stored.checkpoint;
      yield record;
    }
    yield* this.#extraSnapshot();
  }
}

/**
 * Applies one record to a map of tasks. Pure but for the map it changes.
 *
 * @param tasks The tasks, by id.
 * @param record The record.
 * @returns The changed task.
 * @throws {Error} If the record names a task that does not exist (a damaged journal).
 */
export function applyRecord(tasks: Map<string, StoredTask>, record: TaskRecord): StoredTask {
  if (record.type === "task") {
    const stored = { task: record.task, checkpoint: record.checkpoint };
    tasks.set(record.task.id, stored);
    return stored;
  }
  const stored = tasks.get(record.taskId);
  if (!stored) throw new Error(`Journal record ${record.type} names unknown task ${record.taskId}`);
  const task = stored.task;
  switch (record.type) {
    case "status":
      task.status = record.status;
      if (record.status.message) (task.history ??= []).push(record.status.message);
      if (record.checkpoint !== undefined) stored.checkpoint = record.checkpoint;
      break;
    case "message":
      (task.history ??= []).push(record.message);
      if (record.status) task.status = record.status;
      break;
    case "artifact":
      mergeArtifact(task, record.artifact, record.append === true);
      break;
    case "checkpoint":
      stored.checkpoint = record.checkpoint;
      break;
  }
  return stored;
}

function mergeArtifact(task: Task, artifact: Artifact, append: boolean): void {
  const artifacts = (task.artifacts ??= []);
  const index = artifacts.findIndex((a) => a.artifactId === artifact.artifactId);
  if (index === -1) artifacts.push(structuredClone(artifact));
  else if (append) artifacts[index] = { ...artifacts[index]!, parts: [...artifacts[index]!.parts, ...artifact.parts] };
  else artifacts[index] = structuredClone(artifact);
}

function toEvent(record: TaskRecord, stored: StoredTask): StreamResponse | undefined {
  const { id: taskId, contextId } = stored.task;
  switch (record.type) {
    case "task":
      return { task: record.task };
    case "status":
      return { statusUpdate: { taskId, contextId, status: record.status } };
    case "message":
      return record.status ? { statusUpdate: { taskId, contextId, status: record.status } } : undefined;
    case "artifact": {
      const update = { taskId, contextId, artifact: record.artifact } as {
        taskId: string;
        contextId: string;
        artifact: Artifact;
        append?: boolean;
        lastChunk?: boolean;
      };
      if (record.append) update.append = true;
      if (record.lastChunk) update.lastChunk = true;
      return { artifactUpdate: update };
    }
    default:
      return undefined;
  }
}
