/**
 * What a caller may see, and how much it may hold. Every task records its owner (the principal and
 * tenant of the request that made it); a caller sees a task only when both match, and any other
 * task does not exist for it (A2A §3.3.2: TaskNotFound, never "forbidden"). Tasks journaled before
 * tasks had owners belong to no one: with authentication on, only the admin token reaches them.
 * Code inside the agent's process (no caller) and the admin token see everything.
 *
 * The quotas bound what one caller can make the agent hold or send: push configs per task, open
 * tasks and open streams per principal, and streams in all. Pure but for the counts it keeps.
 *
 * @module
 */

import { A2AError, ERROR_CODES } from "./errors.ts";
import { TERMINAL_STATES } from "./types.ts";
import type { TaskState } from "./types.ts";
import type { Caller } from "./auth.ts";

/** Whose a task (or push config) is. */
export interface Owner {
  /** The principal that made it; undefined when authentication was off (or before owners existed). */
  principal?: string;
  /** The tenant the request named, if any. */
  tenant?: string;
}

/**
 * Whether a caller may see and change what an owner made.
 *
 * @param caller The request's caller; undefined for the agent's own code, which sees everything.
 * @param owner The task's owner.
 * @returns True when the caller is the admin, or the same principal in the same tenant.
 *
 * @example Bob may not see alice's task
 * ```ts
 * import { mayAccess } from "./access.ts";
 * console.log(mayAccess({ principal: "bob" }, { principal: "alice" })); // false
 * console.log(mayAccess({ principal: "alice" }, { principal: "alice" })); // true
 * ```
 */
export function mayAccess(caller: Caller | undefined, owner: Owner): boolean {
  if (caller === undefined || caller.admin) return true;
  return owner.principal === caller.principal && owner.tenant === caller.tenant;
}

/**
 * The tasks a caller may see, in their order.
 *
 * @param tasks Tasks (or anything with an owner).
 * @param caller The request's caller.
 * @returns Those the caller may see.
 */
export function* visibleTasks<T extends Owner>(tasks: Iterable<T>, caller: Caller | undefined): Generator<T> {
  for (const task of tasks) if (mayAccess(caller, task)) yield task;
}

/**
 * The owner fields a record made by this caller carries (none for the agent's own code).
 *
 * @param caller The request's caller.
 * @returns `{principal?, tenant?}`, without undefined members (they are journaled as is).
 */
export function ownerOf(caller: Caller | undefined): Owner {
  const owner: Owner = {};
  if (caller?.principal !== undefined) owner.principal = caller.principal;
  if (caller?.tenant !== undefined) owner.tenant = caller.tenant;
  return owner;
}

/** Options of {@linkcode Quotas}. */
export interface QuotaOptions {
  /** Push configs one task may have. @default 10 */
  maxConfigsPerTask?: number;
  /** Unfinished tasks one principal may have. @default 1000 */
  maxOpenTasks?: number;
  /** Streams (`SendStreamingMessage`, `SubscribeToTask`) one principal may hold open. @default 32 */
  maxStreamsPerPrincipal?: number;
  /** Streams open in all; keep it well below the server's `maxConnections`. @default 512 */
  maxStreams?: number;
}

/**
 * The quotas of one agent. Callers without a principal (authentication off) share one allowance;
 * the agent's own code and the admin have none.
 *
 * @example Refuse an 11th push config
 * ```ts
 * import { Quotas } from "./access.ts";
 * const quotas = new Quotas();
 * quotas.checkConfigs({ principal: "alice" }, 9); // fine: this one is the 10th
 * try { quotas.checkConfigs({ principal: "alice" }, 10); } catch (error) { console.log((error as Error).message); }
 * ```
 */
export class Quotas {
  readonly maxConfigsPerTask: number;
  readonly maxOpenTasks: number;
  readonly maxStreamsPerPrincipal: number;
  readonly maxStreams: number;
  #reserved = new Map<string, number>();
  #streams = new Map<string, number>();
  #streamCount = 0;

  /**
   * @param options See {@linkcode QuotaOptions}.
   * @throws {RangeError} If a limit is not a positive integer.
   */
  constructor(options: QuotaOptions = {}) {
    const { maxConfigsPerTask = 10, maxOpenTasks = 1000, maxStreamsPerPrincipal = 32, maxStreams = 512 } = options;
    for (const [name, value] of Object.entries({ maxConfigsPerTask, maxOpenTasks, maxStreamsPerPrincipal, maxStreams })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    this.maxConfigsPerTask = maxConfigsPerTask;
    this.maxOpenTasks = maxOpenTasks;
    this.maxStreamsPerPrincipal = maxStreamsPerPrincipal;
    this.maxStreams = maxStreams;
  }

  /**
   * Refuses a push config that would take a task past `maxConfigsPerTask`.
   *
   * @param caller Who adds it.
   * @param existing The task's configs other than the one being written.
   * @throws {A2AError} -32050 when the task has its quota already.
   */
  checkConfigs(caller: Caller | undefined, existing: number): void {
    if (unlimited(caller) || existing < this.maxConfigsPerTask) return;
    throw exhausted(`A task may have at most ${this.maxConfigsPerTask} push configs; delete one first`, "maxConfigsPerTask", this.maxConfigsPerTask);
  }

  /**
   * Holds one of the principal's open-task slots while its new task is journaled.
   *
   * @param caller Who starts the task.
   * @param open The principal's unfinished tasks now (`TaskStore.openTasks`).
   * @returns Release it once the task is journaled (or refused): from then on `open` counts it.
   * @throws {A2AError} -32050 when the principal has `maxOpenTasks` unfinished tasks.
   */
  reserveOpenTask(caller: Caller | undefined, open: number): () => void {
    if (unlimited(caller)) return () => {};
    const key = caller!.principal ?? "";
    const reserved = this.#reserved.get(key) ?? 0;
    if (open + reserved >= this.maxOpenTasks) {
      throw exhausted(`At most ${this.maxOpenTasks} unfinished tasks per caller; wait for some to finish or cancel them`, "maxOpenTasks", this.maxOpenTasks);
    }
    this.#reserved.set(key, reserved + 1);
    return once(() => decrement(this.#reserved, key));
  }

  /**
   * Takes a stream slot.
   *
   * @param caller Who opens the stream.
   * @returns Release it when the stream ends.
   * @throws {A2AError} -32050 when the principal, or the agent, has its streams open already.
   */
  openStream(caller: Caller | undefined): () => void {
    if (unlimited(caller)) return () => {};
    const key = caller!.principal ?? "";
    const mine = this.#streams.get(key) ?? 0;
    if (mine >= this.maxStreamsPerPrincipal) throw exhausted(`At most ${this.maxStreamsPerPrincipal} open streams per caller; close one, or use GetTask or push notifications`, "maxStreamsPerPrincipal", this.maxStreamsPerPrincipal);
    if (this.#streamCount >= this.maxStreams) throw exhausted(`The agent has ${this.maxStreams} streams open; try again later, or use push notifications`, "maxStreams", this.maxStreams);
    this.#streams.set(key, mine + 1);
    this.#streamCount++;
    return once(() => {
      decrement(this.#streams, key);
      this.#streamCount--;
    });
  }
}

function unlimited(caller: Caller | undefined): boolean {
  return caller === undefined || caller.admin === true;
}

function exhausted(message: string, quota: string, limit: number): A2AError {
  return new A2AError(ERROR_CODES.RESOURCE_EXHAUSTED, message, { quota, limit: String(limit) });
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}

function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

/**
 * The unfinished tasks of each principal, kept as tasks are made and finish, so the open-task quota
 * is a lookup, not a scan.
 *
 * @example Count an unfinished task
 * ```ts
 * import { OpenTasks } from "./access.ts";
 * const open = new OpenTasks();
 * open.track({ id: "t1", state: "TASK_STATE_WORKING", principal: "alice" });
 * console.log(open.count("alice")); // 1
 * ```
 */
export class OpenTasks {
  #owner = new Map<string, string>();
  #count = new Map<string, number>();

  /**
   * Counts a task while it is unfinished, and stops counting it once it is not.
   *
   * @param task Its id, state and principal.
   */
  track(task: { id: string; state: string; principal?: string }): void {
    const open = !TERMINAL_STATES.has(task.state as TaskState);
    const counted = this.#owner.get(task.id);
    if (open === (counted !== undefined)) return;
    const key = counted ?? task.principal ?? "";
    const count = (this.#count.get(key) ?? 0) + (open ? 1 : -1);
    if (count > 0) this.#count.set(key, count);
    else this.#count.delete(key);
    if (open) this.#owner.set(task.id, key);
    else this.#owner.delete(task.id);
  }

  /** Unfinished tasks of a principal (undefined: those made with authentication off). */
  count(principal: string | undefined): number {
    return this.#count.get(principal ?? "") ?? 0;
  }

  /** The ids of every unfinished task. */
  ids(): IterableIterator<string> {
    return this.#owner.keys();
  }
}
