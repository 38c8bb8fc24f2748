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

import { FrozenTask, decodeTaskRecord } from "./frozen_task.ts";
import type { Storage } from "./journal.ts";
import type { Artifact, Message, StreamResponse, Task, TaskState, TaskStatus } from "./types.ts";
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

/**
 * The store's view of one task. A running task is a live object (`task` is the store's own: copy
 * it before handing it out); a finished task is frozen to its JSON text, and `task` parses a fresh
 * copy each time. `id`, `contextId`, `state` and `timestamp` cost nothing either way.
 */
export interface StoredTask {
  readonly id: string;
  readonly contextId: string;
  readonly state: TaskState;
  readonly timestamp: string;
  readonly task: Task;
  readonly checkpoint: unknown;
}

/** A task that can still change: the whole object, and the handler's checkpoint. */
class LiveTask implements StoredTask {
  task: Task;
  checkpoint: unknown;
  constructor(task: Task, checkpoint: unknown) {
    this.task = task;
    this.checkpoint = checkpoint;
  }
  get id(): string {
    return this.task.id;
  }
  get contextId(): string {
    return this.task.contextId;
  }
  get state(): TaskState {
    return this.task.status.state;
  }
  get timestamp(): string {
    return this.task.status.timestamp;
  }
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
  /**
   * With a storage that reads lines back, compact once the JSON of finished tasks held in memory
   * (finished since the last compaction) passes this: the compaction leaves their bodies on disk.
   * @default 64 MiB
   */
  maxFrozenBytesInMemory?: number;
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
  /** JSON characters (UTF-16 units) of finished tasks held in memory, and the most before a compaction. */
  #frozenBytes = 0;
  #maxFrozenBytes: number;

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
      maxFrozenBytesInMemory = 64 * 1024 * 1024,
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
    this.#maxFrozenBytes = journal.readLine ? maxFrozenBytesInMemory : Infinity;
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
   * The task's body: the live object of a running task (do not change it), or a fresh copy of a
   * finished one, read back from the journal when only its location is kept.
   *
   * @param stored A task from {@linkcode TaskStore.get} or {@linkcode TaskStore.all}.
   * @returns The task, or undefined if it was dropped (retention) meanwhile.
   * @throws {JournalError} If its journal line cannot be read back intact.
   */
  async read(stored: StoredTask): Promise<Task | undefined> {
    if (!(stored instanceof FrozenTask) || stored.json !== undefined) return stored.task;
    return (await this.#inMemory(stored))?.task;
  }

  /**
   * A copy of a frozen task with its JSON in memory (read from the journal if need be), for one
   * use; a compaction that relocates the original meanwhile does not touch the copy.
   */
  async #inMemory(stored: FrozenTask): Promise<FrozenTask | undefined> {
    if (stored.json !== undefined) return new FrozenTask(stored, stored.json);
    const line = stored.journalLine;
    if (!line) return undefined;
    if (!this.#journal.readLine) throw new Error(`Task ${stored.id} is on disk, but the storage cannot read lines back`);
    const record = decodeTaskRecord(await this.#journal.readLine(line));
    // A stale location (the task was dropped while this read waited) could name another line.
    if (!(record instanceof FrozenTask) || record.id !== stored.id) return undefined;
    return record;
  }

  /**
   * Applies a record read back from the journal at start-up. Records of other modules are ignored.
   *
   * @param record A journal record.
   */
  replay(record: unknown): void {
    if (record instanceof FrozenTask) {
      this.#tasks.set(record.id, record);
      return;
    }
    const r = record as TaskRecord;
    // A storage that parsed a frozen line as plain JSON (not through decodeTaskRecord).
    if ((r?.type as string) === "frozen" && typeof r.task === "object") {
      const frozen = FrozenTask.of(r.task as Task);
      this.#tasks.set(frozen.id, frozen);
      return;
    }
    if (TASK_RECORD_TYPES.has(r?.type)) applyRecord(this.#tasks, r);
  }

  /** Freezes the finished tasks that replay left live; call once after the last `replay`. */
  freezeFinished(): void {
    for (const [id, stored] of this.#tasks) {
      if (stored instanceof LiveTask && TERMINAL_STATES.has(stored.state)) this.#freeze(id, stored);
    }
  }

  #freeze(id: string, stored: LiveTask): void {
    const frozen = FrozenTask.of(stored.task);
    this.#tasks.set(id, frozen);
    this.#frozenBytes += frozen.json!.length;
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
      let current = this.#tasks.get(taskId);
      // `build` and `decorate` may look at the task's body: bring a finished one's into memory.
      if (current instanceof FrozenTask) current = await this.#inMemory(current);
      const record = build(current);
      if (!record) return undefined;
      this.#decorate(record, current);
      await this.#journal.append(record);
      // A change to a finished task (never made by this module) thaws it from the body read above.
      if (TASK_RECORD_TYPES.has(record.type) && record.type !== "task" && current) this.#tasks.set(taskId, current);
      const stored = TASK_RECORD_TYPES.has(record.type) ? applyRecord(this.#tasks, record) : this.#tasks.get(taskId);
      const change: TaskChange = { record, stored, event: stored && toEvent(record, stored) };
      for (const listener of this.#listeners) listener(change);
      // A finished task never changes again: keep it as text from now on.
      if (stored instanceof LiveTask && TERMINAL_STATES.has(stored.state)) this.#freeze(taskId, stored);
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
    return this.#journal.recordCount > Math.max(this.#compactionMinRecords, live * this.#compactionFactor) || this.#frozenBytes > this.#maxFrozenBytes;
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
        if (!TERMINAL_STATES.has(stored.state) || Date.parse(stored.timestamp) >= cutoff) continue;
        this.#tasks.delete(id);
        if (stored instanceof FrozenTask) stored.dropped();
      }
      return this.#snapshot();
    });
    // The compaction left every body it wrote on disk; count what is still held.
    this.#frozenBytes = 0;
    for (const stored of this.#tasks.values()) if (stored instanceof FrozenTask) this.#frozenBytes += stored.json?.length ?? 0;
  }

  *#snapshot(): Generator<unknown> {
    for (const stored of this.#tasks.values()) {
      if (stored instanceof FrozenTask) {
        yield stored;
        continue;
      }
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
    const stored = new LiveTask(record.task, record.checkpoint);
    tasks.set(record.task.id, stored);
    return stored;
  }
  const found = tasks.get(record.taskId);
  if (!found) throw new Error(`Journal record ${record.type} names unknown task ${record.taskId}`);
  if (found instanceof FrozenTask && found.json === undefined) {
    throw new Error(`Journal record ${record.type} changes task ${record.taskId} after it finished`);
  }
  // A frozen task takes no changes in a healthy journal; thaw it rather than lose one.
  const stored = found instanceof LiveTask ? found : new LiveTask(found.task, undefined);
  if (stored !== found) tasks.set(record.taskId, stored);
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
  const { id: taskId, contextId } = stored; // Not `stored.task`: a finished task's body may be on disk.
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
