/**
 * Tasks as the journal says they are, with their push configs. Every change is a journal record;
 * the store applies a record to its in-memory view only after the journal has made it durable, and
 * only then hands it out, so nobody ever sees a change a crash could take back.
 *
 * `commit` is where a notification is born: while it builds the record it asks `plan.ts` (pure)
 * what the change owes, writes those deliveries in the same record, and returns them with the
 * change. It never calls the outbox: whoever committed hands the change on (`Outbox.add`).
 * Streams (`follow`) get each durable event of their task.
 *
 * Changes to one task are serialised through a promise chain, so each change is validated against
 * the state the one before it left; changes to different tasks run side by side and share fsyncs.
 *
 * @module
 */

import { OpenTasks, ownerOf } from "./access.ts";
import { tasksToDrop } from "./compaction.ts";
import { FrozenTask } from "./frozen_task.ts";
import type { Storage } from "./journal.ts";
import { planDeliveries } from "./plan.ts";
import { StaleWriteError, taskIdOf } from "./storage.ts";
import type { TaskStorage } from "./storage.ts";
import type { Delivery, PlanOptions } from "./plan.ts";
import type { StoredPushConfig } from "./push_config.ts";
import { LiveTask, TASK_FIELD_TYPES, applyRecord, toEvent } from "./task_records.ts";
import type { StoredTask, TaskRecord } from "./task_records.ts";
import { TaskStream } from "./task_stream.ts";
import type { StreamResponse, Task } from "./types.ts";
import { TERMINAL_STATES } from "./types.ts";

export { applyRecord } from "./task_records.ts";
export type { StoredTask, TaskRecord } from "./task_records.ts";

/** Rebuilds of one change that lost the race to another replica, before giving up. */
const MAX_STALE_RETRIES = 20;

/** The records that may owe notifications (see `plan.ts`); the outbox's own, the most frequent, never do. */
const OWING_TYPES: ReadonlySet<string> = new Set(["task", "status", "message", "artifact", "push.config"]);

/** A durable change, as `commit` returns it. */
export interface TaskChange {
  /** The record as journaled. */
  record: TaskRecord;
  /** The task after the change; undefined only for a push record about a dropped task. */
  stored: StoredTask | undefined;
  /** The record as a stream event, for the records that are one. */
  event: StreamResponse | undefined;
  /** The notifications the change owes (in the record too): hand them to the outbox. */
  deliveries: Delivery[];
}

/** Options of {@linkcode TaskStore}. */
export interface TaskStoreOptions {
  /** Drop terminal tasks this long after their last change, at compaction. @default 7 days */
  retentionMs?: number;
  /**
   * Keep at most this many finished tasks: at compaction the oldest beyond it are dropped (never
   * one whose notifications are still owed), and passing it by a tenth asks for a compaction.
   * @default 100000
   */
  maxFinishedTasks?: number;
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
  /** The v0.3 Task shape, for webhooks to configs made through v0.3 (see `plan.ts`). */
  v03Task?: (task: Task) => unknown;
  /**
   * What a change owes, asked while its record is built. A caller whose deliveries are planned
   * before the record (the SDK sender's: bodies are the SDK's own events) passes one that returns
   * what the record already carries.
   * @default planDeliveries (`plan.ts`)
   */
  plan?: (record: TaskRecord, before: Task | undefined, configs: readonly StoredPushConfig[], options: PlanOptions) => Delivery[];
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/**
 * Holds tasks and their push configs in memory, replays them from a journal, and commits changes
 * through it.
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
  #journal: Storage & Partial<Pick<TaskStorage, "catchUp">>;
  #tasks = new Map<string, StoredTask>();
  #configs = new Map<string, Map<string, StoredPushConfig>>();
  #configCount = 0;
  #chains = new Map<string, Promise<unknown>>();
  #followers = new Map<string, Set<TaskStream>>();
  #options: Required<Omit<TaskStoreOptions, "v03Task">> & Pick<TaskStoreOptions, "v03Task">;
  /** JSON characters (UTF-16 units) of finished tasks held in memory. */
  #frozenBytes = 0;
  /** Finished tasks held (frozen). */
  #finished = 0;
  /** Unfinished tasks, by principal (the open-task quota, and what replicas may take over). */
  #open = new OpenTasks();

  /**
   * @param journal Where records go.
   * @param options See {@linkcode TaskStoreOptions}.
   * @throws {RangeError} If `compactionFactor` is not above 1.
   */
  constructor(journal: Storage & Partial<Pick<TaskStorage, "catchUp">>, options: TaskStoreOptions = {}) {
    const { retentionMs = 7 * 24 * 3600 * 1000, compactionFactor = 4, compactionMinRecords = 10_000, maxFinishedTasks = 100_000, now = Date.now, plan = planDeliveries } = options;
    const maxFrozenBytesInMemory = journal.readLine ? (options.maxFrozenBytesInMemory ?? 64 * 1024 * 1024) : Infinity;
    if (!(compactionFactor > 1)) throw new RangeError(`compactionFactor must be > 1, got ${compactionFactor}`);
    if (!(maxFinishedTasks >= 0)) throw new RangeError(`maxFinishedTasks must be >= 0, got ${maxFinishedTasks}`);
    this.#journal = journal;
    this.#options = { retentionMs, compactionFactor, compactionMinRecords, maxFrozenBytesInMemory, maxFinishedTasks, now, plan, v03Task: options.v03Task };
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

  /** The task's push configs, in creation order (the stored objects: do not change them). */
  configs(taskId: string): StoredPushConfig[] {
    return [...(this.#configs.get(taskId)?.values() ?? [])];
  }

  /** One push config of a task, or undefined. */
  config(taskId: string, configId: string): StoredPushConfig | undefined {
    return this.#configs.get(taskId)?.get(configId);
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
    return (await stored.inMemory(this.#journal.readLine?.bind(this.#journal)))?.task;
  }

  /**
   * Applies a record read back from the journal at start-up; the outbox's records are left to it.
   *
   * @param record A journal record.
   */
  replay(record: unknown): void {
    if (record instanceof FrozenTask) {
      this.#setFrozen(record);
      return;
    }
    const r = record as TaskRecord | { type: "frozen"; task: Task; principal?: string; tenant?: string };
    // A storage that parsed a frozen line as plain JSON (not through decodeTaskRecord).
    if (r?.type === "frozen") {
      this.#setFrozen(FrozenTask.of(r.task, r));
      return;
    }
    if (TASK_FIELD_TYPES.has(r?.type)) this.#open.track(applyRecord(this.#tasks, r));
    this.#applyConfigs(r);
  }

  /** Freezes the finished tasks that replay left live; call once after the last `replay`. */
  freezeFinished(): void {
    for (const [id, stored] of this.#tasks) {
      if (stored instanceof LiveTask && TERMINAL_STATES.has(stored.state)) this.#freeze(id, stored);
    }
  }

  #freeze(id: string, stored: LiveTask): void {
    this.#open.track(stored);
    const frozen = FrozenTask.of(stored.task, stored);
    this.#setFrozen(frozen);
    this.#frozenBytes += frozen.json!.length;
  }

  /** Holds a finished task (replacing whatever the id held), counting finished tasks. */
  #setFrozen(frozen: FrozenTask): void {
    if (!(this.#tasks.get(frozen.id) instanceof FrozenTask)) this.#finished++;
    this.#tasks.set(frozen.id, frozen);
  }

  /**
   * Unfinished tasks of a principal, for the open-task quota.
   *
   * @param principal The principal; undefined for tasks made with authentication off.
   * @returns How many of its tasks are not yet terminal.
   */
  openTasks(principal: string | undefined): number {
    return this.#open.count(principal);
  }

  #drop(id: string, stored: StoredTask): void {
    this.#tasks.delete(id);
    if (stored instanceof FrozenTask) {
      this.#finished--;
      stored.dropped();
    }
    this.#configCount -= this.#configs.get(id)?.size ?? 0;
    this.#configs.delete(id);
  }

  /** Finished tasks held now. */
  get finishedCount(): number {
    return this.#finished;
  }

  #applyConfigs(record: TaskRecord): void {
    const added = record.type === "push.config" ? [record.config] : record.type === "task" || record.type === "message" ? (record.pushConfigs ?? []) : [];
    for (const config of added) {
      let map = this.#configs.get(config.taskId);
      if (!map) this.#configs.set(config.taskId, (map = new Map()));
      if (!map.has(config.id)) this.#configCount++;
      map.set(config.id, config);
    }
    if (record.type === "push.config.deleted" && this.#configs.get(record.taskId)?.delete(record.id)) this.#configCount--;
  }

  /**
   * Follows a task: its durable events from now on, until it ends or asks for input.
   *
   * @param taskId The task.
   * @param onEnd Called once when the stream ends. @default nothing
   * @returns The stream; `close()` it when the client goes away.
   */
  follow(taskId: string, onEnd?: () => void): TaskStream {
    let set = this.#followers.get(taskId);
    if (!set) this.#followers.set(taskId, (set = new Set()));
    const stream = new TaskStream(taskId, () => {
      onEnd?.();
      set!.delete(stream);
      if (set!.size === 0 && this.#followers.get(taskId) === set) this.#followers.delete(taskId);
    });
    set.add(stream);
    return stream;
  }

  /**
   * Makes one change to a task: in turn with the task's other changes, `build` looks at the current
   * state and returns the record to journal (or throws to refuse, or returns undefined for no
   * change); the deliveries the change owes are planned into the record; once durable, the record
   * is applied and the task's streams get its event.
   *
   * @param taskId The task the change is about.
   * @param build Makes the record from the current state (undefined for a new task).
   * @returns The applied change with the deliveries it owes, or undefined if `build` made none.
   * @throws Whatever `build` throws; a {@linkcode JournalError} if the record could not be written.
   */
  commit(taskId: string, build: (current: StoredTask | undefined) => TaskRecord | undefined): Promise<TaskChange | undefined> {
    const previous = this.#chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(async () => {
      // A storage others write too refuses a record built on an old state: catch up, build again.
      for (let attempt = 1; ; attempt++) {
        let current = this.#tasks.get(taskId);
        // `build` and the plan may look at the task's body: bring a finished one's into memory.
        if (current instanceof FrozenTask) current = await current.inMemory(this.#journal.readLine?.bind(this.#journal));
        const record = build(current);
        if (!record) return undefined;
        const deliveries = OWING_TYPES.has(record.type)
          ? this.#options.plan(record, current?.task, this.configs(taskId), { now: this.#options.now(), v03Task: this.#options.v03Task })
          : [];
        if (deliveries.length > 0) (record as { deliveries?: Delivery[] }).deliveries = deliveries;
        try {
          await this.#journal.append(record);
        } catch (error) {
          if (!(error instanceof StaleWriteError) || attempt >= MAX_STALE_RETRIES || !this.#journal.catchUp) throw error;
          await this.#journal.catchUp();
          continue;
        }
        // A change to a finished task (never made by this module) thaws it from the body read above.
        if (TASK_FIELD_TYPES.has(record.type) && record.type !== "task" && current) this.#tasks.set(taskId, current);
        const { stored, event } = this.#applyDurable(taskId, record);
        return { record, stored, event, deliveries };
      }
    });
    const tail = next.catch(() => undefined);
    this.#chains.set(taskId, tail);
    void tail.then(() => {
      if (this.#chains.get(taskId) === tail) this.#chains.delete(taskId);
    });
    return next;
  }

  /**
   * Applies a record another process committed (a replica on the same database): as if this
   * store had committed it, streams included.
   *
   * @param record The record, as the storage read it.
   */
  applyCommitted(record: unknown): void {
    const r = record as TaskRecord;
    const taskId = taskIdOf(r);
    if (taskId === undefined || r instanceof FrozenTask) return;
    // Another replica's record about a task this one already dropped (retention) has nothing to change.
    if (TASK_FIELD_TYPES.has(r.type) && r.type !== "task" && !this.#tasks.has(taskId)) return;
    const found = this.#tasks.get(taskId);
    if (TASK_FIELD_TYPES.has(r.type) && r.type !== "task" && found instanceof FrozenTask && found.json === undefined) return;
    this.#applyDurable(taskId, r);
  }

  /** What a durable record does here: the task and its configs change, streams hear of it, a finished task freezes. */
  #applyDurable(taskId: string, record: TaskRecord): { stored: StoredTask | undefined; event: StreamResponse | undefined } {
    const stored = TASK_FIELD_TYPES.has(record.type) ? applyRecord(this.#tasks, record) : this.#tasks.get(taskId);
    if (stored && record.type === "task") this.#open.track(stored);
    this.#applyConfigs(record);
    const event = stored && toEvent(record, stored);
    if (event) for (const stream of this.#followers.get(taskId) ?? []) stream.push(event);
    // A finished task never changes again: keep it as text from now on.
    if (stored instanceof LiveTask && TERMINAL_STATES.has(stored.state)) this.#freeze(taskId, stored);
    return { stored, event };
  }

  /** Unfinished tasks, by id (what a replica may have to take over). */
  openTaskIds(): IterableIterator<string> {
    return this.#open.ids();
  }

  /**
   * Whether the journal has outgrown the live state by the configured factor, or finished tasks'
   * bodies held in memory passed their limit.
   *
   * @param extraLive Live records others keep in the same journal (the outbox's).
   * @returns True when a compaction is due.
   */
  needsCompaction(extraLive = 0): boolean {
    const { compactionMinRecords, compactionFactor, maxFrozenBytesInMemory, maxFinishedTasks } = this.#options;
    const live = this.#tasks.size + this.#configCount + extraLive;
    return this.#journal.recordCount > Math.max(compactionMinRecords, live * compactionFactor) ||
      this.#frozenBytes > maxFrozenBytesInMemory || this.#finished > maxFinishedTasks + Math.max(1, Math.ceil(maxFinishedTasks / 10));
  }

  /**
   * Rewrites the journal as the live state: one `task` record per task (with its checkpoint), its
   * configs, then `extra()` (the outbox's live records). Finished tasks past their retention are
   * dropped, from memory too, with their configs; so are the oldest finished tasks beyond
   * `maxFinishedTasks`, except those `owed` names (notifications still to deliver).
   *
   * @param extra More live records to keep, taken at the same moment (`() => []` for none).
   * @param owed The tasks whose notifications are still owed, taken at the same moment.
   * @returns Resolves when the new journal is in place.
   */
  async compact(extra: () => Iterable<unknown>, owed: () => ReadonlySet<string> = () => new Set()): Promise<void> {
    await this.#journal.compact(() => {
      const finished = [...this.#tasks.values()].filter((stored) => TERMINAL_STATES.has(stored.state));
      const { retentionMs, maxFinishedTasks, now } = this.#options;
      for (const stored of tasksToDrop(finished, { cutoff: now() - retentionMs, keep: maxFinishedTasks, owed })) this.#drop(stored.id, stored);
      return [...this.#snapshot(), ...extra()];
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
      const record: TaskRecord = { type: "task", task: stored.task, ...ownerOf(stored) };
      if (stored.checkpoint !== undefined) record.checkpoint = stored.checkpoint;
      yield record;
    }
    for (const [taskId, configs] of this.#configs) for (const config of configs.values()) yield { type: "push.config", taskId, config };
  }
}
