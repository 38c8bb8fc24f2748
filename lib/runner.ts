/**
 * The background runner: drives tasks to an end by calling the agent's handler, away from any
 * request. At most `concurrency` handlers run at once; the rest wait, submitted, in arrival order.
 * Every `ctx` call is a journaled change (see `task_store.ts`), so a handler that awaits its `ctx`
 * calls never gets ahead of what a crash would keep. A change the journal cannot write (a full
 * disk) is not given up: the call waits and tries again, backing off up to 5 s, until the disk
 * takes it or the task is canceled or the agent stops; the handler just sees a slow `ctx` call. After a restart the agent enqueues every task
 * that was submitted or working, and the handler is called again with its last checkpoint.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { JournalError } from "./errors.ts";
import type { Outbox } from "./outbox.ts";
import type { StoredTask, TaskChange, TaskRecord, TaskStore } from "./task_store.ts";
import type { Artifact, Message, Part, Task, TaskState } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";

/** What a handler gets besides the task: ways to report progress, and the cancel signal. */
export interface TaskContext {
  /** The task's id. */
  readonly taskId: string;
  /** The task's context id. */
  readonly contextId: string;
  /** The user message this run answers (the latest one in the history). */
  readonly message: Message | undefined;
  /** The last saved checkpoint, or undefined on a first run. */
  readonly checkpoint: unknown;
  /** Whether this run continues one cut short by a restart. */
  readonly resumed: boolean;
  /** Fires when the task is canceled. */
  readonly signal: AbortSignal;
  /**
   * Reports a new status. A terminal or interrupted state ends the run: return after it.
   * @param options `checkpoint`: saved in the same journal record, atomically with the status.
   */
  setStatus(state: TaskState, message?: string | Message, options?: { checkpoint?: unknown }): Promise<void>;
  /** Reports `TASK_STATE_WORKING` with a progress message (and optionally a checkpoint). */
  working(message?: string | Message, options?: { checkpoint?: unknown }): Promise<void>;
  /** Emits an artifact, or a chunk of one (`append` to extend it, `lastChunk` on the last). */
  addArtifact(artifact: Artifact, options?: { append?: boolean; lastChunk?: boolean }): Promise<void>;
  /** Saves a checkpoint, handed back to the handler if it is run again after a restart. */
  saveCheckpoint(checkpoint: unknown): Promise<void>;
  /** Asks the client for input (`TASK_STATE_INPUT_REQUIRED`); the next message runs the handler again. */
  requestInput(message: string | Message): Promise<void>;
}

/**
 * The agent's work. It may return early after asking for input; returning otherwise completes the
 * task, and throwing fails it with the error's message.
 */
export type TaskHandler = (task: Task, ctx: TaskContext) => Promise<void> | void;

/** Options of {@linkcode TaskRunner}. */
export interface TaskRunnerOptions {
  /** Handlers running at once. @default 32 */
  concurrency?: number;
  /** Called when a handler's outcome cannot be journaled (e.g. a full disk). @default console.error */
  onError?: (error: Error, taskId: string) => void;
  /** Where the notifications each change owes go; none, no webhooks. */
  outbox?: Pick<Outbox, "add">;
  /**
   * Replicas on one database: takes the task's run (a lease) before it starts, false when another
   * replica runs it; `release` lets it go when the run returns. @default every run is this process's
   */
  leases?: {
    claim(taskId: string): Promise<boolean>;
    release(taskId: string): Promise<void>;
    /** Whether the lease is surely still this process's: a change is not journaled on one that may have passed. */
    holds(taskId: string): boolean;
  };
}

/**
 * Makes an agent message from text or passes a message through.
 *
 * @param contextId The task's context.
 * @param taskId The task.
 * @param content Text or a whole message.
 * @returns A `ROLE_AGENT` message.
 */
export function agentMessage(contextId: string, taskId: string, content: string | Message): Message {
  if (typeof content !== "string") return { ...content, contextId, taskId };
  const parts: Part[] = [{ text: content }];
  return { messageId: randomUUID(), role: "ROLE_AGENT", parts, contextId, taskId };
}

/** The first and the longest wait before writing a change the journal refused again. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;

/** Runs handlers for tasks; made by the agent. */
export class TaskRunner {
  #store: TaskStore;
  #handler: TaskHandler;
  #concurrency: number;
  #onError: (error: Error, taskId: string) => void;
  #outbox: Pick<Outbox, "add"> | undefined;
  #leases: TaskRunnerOptions["leases"];
  #queue: Array<{ taskId: string; resumed: boolean }> = [];
  #queued = new Set<string>();
  #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #rerun = new Set<string>();
  #stopped = false;

  /**
   * @param store Where tasks live.
   * @param handler The agent's work.
   * @param options See {@linkcode TaskRunnerOptions}.
   */
  constructor(store: TaskStore, handler: TaskHandler, options: TaskRunnerOptions = {}) {
    const { concurrency = 32, onError = (error, taskId) => console.error(`task ${taskId}: ${error.message}`) } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    this.#store = store;
    this.#handler = handler;
    this.#concurrency = concurrency;
    this.#onError = onError;
    this.#outbox = options.outbox;
    this.#leases = options.leases;
  }

  /** The tasks running here now. */
  runningIds(): string[] {
    return [...this.#running.keys()];
  }

  /** Whether the task runs or waits to run here. */
  has(taskId: string): boolean {
    return this.#running.has(taskId) || this.#queued.has(taskId);
  }

  /**
   * Commits a change of a handler's and hands what it owes to the outbox. A journal that cannot
   * write (a full disk) is waited out, backing off, until the run is aborted or the runner stops.
   */
  async #commit(taskId: string, build: (current: StoredTask | undefined) => TaskRecord | undefined, signal: AbortSignal): Promise<TaskChange | undefined> {
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(2 * wait, RETRY_MAX_MS)) {
      try {
        const change = await this.#store.commit(taskId, build);
        this.#outbox?.add(change);
        return change;
      } catch (error) {
        if (!(error instanceof JournalError) || error.code !== "IO" || this.#stopped || signal.aborted) throw error;
        if (wait === RETRY_FIRST_MS) this.#onError(new Error(`cannot journal a change, retrying until the journal takes it: ${error.message}`, { cause: error }), taskId);
        await delay(wait, undefined, { signal });
      }
    }
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Queues a task to run; does nothing if it is queued or running already.
   *
   * @param taskId The task.
   * @param options `resumed`: the run continues one cut short by a restart.
   */
  enqueue(taskId: string, options: { resumed?: boolean } = {}): void {
    if (this.#stopped || this.#queued.has(taskId)) return;
    // A message that continues a task whose previous run is still returning: run it again after.
    if (this.#running.has(taskId)) {
      this.#rerun.add(taskId);
      return;
    }
    this.#queue.push({ taskId, resumed: options.resumed === true });
    this.#queued.add(taskId);
    this.#pump();
  }

  /**
   * Fires the task's abort signal (the cancel itself is journaled by the caller).
   *
   * @param taskId The task.
   */
  abort(taskId: string): void {
    this.#running.get(taskId)?.controller.abort(new Error("Task was canceled"));
    if (this.#queued.delete(taskId)) this.#queue = this.#queue.filter((q) => q.taskId !== taskId);
  }

  /**
   * Stops taking work and aborts running handlers; their tasks stay as journaled and resume at the
   * next start.
   *
   * @returns Resolves when every handler has returned.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue = [];
    this.#queued.clear();
    const running = [...this.#running.values()];
    for (const run of running) run.controller.abort(new Error("Agent is stopping"));
    await Promise.all(running.map((run) => run.done));
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#concurrency && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      this.#queued.delete(next.taskId);
      const controller = new AbortController();
      const done = this.#run(next.taskId, next.resumed, controller).finally(() => {
        this.#running.delete(next.taskId);
        if (this.#rerun.delete(next.taskId)) this.enqueue(next.taskId);
        this.#pump();
      });
      this.#running.set(next.taskId, { controller, done });
    }
  }

  async #run(taskId: string, resumed: boolean, controller: AbortController): Promise<void> {
    if (!this.#leases) return this.#runHere(taskId, resumed, controller);
    if (!(await this.#leases.claim(taskId).catch(() => false))) return; // Another replica runs it.
    try {
      await this.#runHere(taskId, resumed, controller);
    } finally {
      await this.#leases.release(taskId).catch((error: Error) => this.#onError(error, taskId));
    }
  }

  async #runHere(taskId: string, resumed: boolean, controller: AbortController): Promise<void> {
    const stored = this.#store.get(taskId);
    if (!stored || TERMINAL_STATES.has(stored.state)) return;
    const ctx = this.#context(stored, resumed, controller.signal);
    try {
      if (stored.state !== "TASK_STATE_WORKING") await ctx.working();
      // Canceled or stopping while WORKING was journaled: a handler that only waits for the abort
      // event would never hear it, and stop() would wait for it forever.
      if (controller.signal.aborted) return;
      await this.#handler(structuredClone(stored.task), ctx);
      if (!controller.signal.aborted) await this.#finish(taskId, controller.signal, "TASK_STATE_COMPLETED");
    } catch (error) {
      if (controller.signal.aborted) return; // Canceled or stopping: the task is as the journal has it.
      const message = error instanceof Error ? error.message : String(error);
      await this.#finish(taskId, controller.signal, "TASK_STATE_FAILED", message).catch((failure: Error) => this.#onError(failure, taskId));
    }
  }

  /** Ends the run in `state` unless the handler already ended or interrupted the task. */
  async #finish(taskId: string, signal: AbortSignal, state: TaskState, text?: string): Promise<void> {
    await this.#commit(taskId, (current) => {
      if (!current) return undefined;
      // Only the WORKING this run set is its to end: terminal, interrupted, or SUBMITTED again (a
      // reply came in and will run the handler anew) is left as it is.
      if (current.state !== "TASK_STATE_WORKING") return undefined;
      const status = { state, timestamp: new Date().toISOString() } as Task["status"];
      if (text !== undefined) status.message = agentMessage(current.contextId, taskId, text);
      return { type: "status", taskId, status };
    }, signal);
  }

  #context(stored: StoredTask, resumed: boolean, signal: AbortSignal): TaskContext {
    const { id: taskId, contextId } = stored.task;
    const history = stored.task.history ?? [];
    const message = history.findLast((m) => m.role === "ROLE_USER");
    let handedBack = false; // Set once this run ended or interrupted the task.
    const change = (build: (current: StoredTask) => TaskRecord) =>
      this
        .#commit(taskId, (current) => {
          // A run whose lease may have passed to another replica stops before it writes.
          if (this.#leases && !signal.aborted && !this.#leases.holds(taskId)) this.abort(taskId);
          if (signal.aborted) throw signal.reason;
          if (!current || TERMINAL_STATES.has(current.state)) {
            throw new Error(`Task ${taskId} has ended (${current?.state}); no more changes`);
          }
          if (handedBack) throw new Error(`Task ${taskId}: this run asked for input or ended the task; a new run takes the next message`);
          const record = build(current);
          const state = (record as { status?: Task["status"] }).status?.state;
          if (state && (TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state))) handedBack = true;
          return record;
        }, signal)
        .then(() => undefined);
    const setStatus: TaskContext["setStatus"] = (state, text, options = {}) =>
      change(() => {
        const status: Task["status"] = { state, timestamp: new Date().toISOString() };
        if (text !== undefined) status.message = agentMessage(contextId, taskId, text);
        return options.checkpoint === undefined
          ? { type: "status", taskId, status }
          : { type: "status", taskId, status, checkpoint: options.checkpoint };
      });
    return {
      taskId,
      contextId,
      message,
      checkpoint: stored.checkpoint,
      resumed,
      signal,
      setStatus,
      working: (text, options) => setStatus("TASK_STATE_WORKING", text, options),
      requestInput: (text) => setStatus("TASK_STATE_INPUT_REQUIRED", text),
      addArtifact: (artifact, options = {}) =>
        change(() => ({ type: "artifact", taskId, artifact, append: options.append === true, lastChunk: options.lastChunk === true })),
      saveCheckpoint: (checkpoint) => change(() => ({ type: "checkpoint", taskId, checkpoint })),
    };
  }
}
