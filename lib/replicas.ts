/**
 * Replicas: several agent processes on one database (`pg_storage.ts`). Each holds every task in
 * memory, applies what the others commit as it arrives (so GetTask, ListTasks, streams and the
 * outbox's queues see every replica's changes), and runs a task only while it holds the task's
 * lease. A timer renews the leases of the runs here (a run whose lease was lost stops: another
 * replica has it) and takes over unfinished tasks nobody holds: those of a replica that died
 * resume here from their last checkpoint once its leases expire. A cancel committed on one
 * replica stops the run on whichever replica has it.
 *
 * @module
 */

import { clearInterval, setInterval } from "node:timers";
import type { Outbox } from "./outbox.ts";
import type { TaskRunner } from "./runner.ts";
import type { TaskStorage } from "./storage.ts";
import type { TaskStore } from "./task_store.ts";
import { batchPerTurn } from "./turn_batch.ts";
import { TERMINAL_STATES } from "./types.ts";

/**
 * Delivery claims for the outbox, one query per turn of the event loop however many attempts
 * start in it.
 *
 * @param storage The shared storage.
 * @param leaseMs How long a claim holds: longer than an attempt can take.
 * @returns `claim(deliveryId)`: true when this replica may send it now.
 */
export function deliveryClaims(storage: TaskStorage, leaseMs: number): (deliveryId: string) => Promise<boolean> {
  const claim = batchPerTurn((ids) => storage.claimDeliveries(ids, leaseMs));
  return (deliveryId) => claim([deliveryId]).then((granted) => granted.has(deliveryId), () => false);
}

/** How long a run's (or an attempt's) lease holds unless renewed. */
export const DEFAULT_LEASE_MS = 10_000;

/** Options of {@linkcode Replicas}. */
export interface ReplicasOptions {
  /** How long a run's lease holds unless renewed (renewed every third of it). @default 10000 */
  leaseMs?: number;
  /** Where a failed renewal or takeover is reported. @default console.warn */
  warn?: (message: string) => void;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/**
 * One replica's part: others' commits applied here, leases renewed, dead replicas' tasks taken over.
 *
 * @example Wire a replica (Agent.open does this when given a database URL)
 * ```ts
 * import { Replicas } from "./replicas.ts";
 * // const replicas = new Replicas(storage, store, runner, outbox, { leaseMs: 10_000 });
 * // replicas.start(); ... await replicas.stop();
 * console.log(typeof Replicas); // "function"
 * ```
 */
export class Replicas {
  readonly leaseMs: number;
  #storage: TaskStorage;
  #store: TaskStore;
  #runner: TaskRunner | undefined;
  #outbox: Outbox | undefined;
  #warn: (message: string) => void;
  #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticking: Promise<void> | undefined;
  /** Until when each run here surely holds its lease (this clock, from before the query that took it). */
  #heldUntil = new Map<string, number>();

  /**
   * @param storage The shared storage.
   * @param store The task store, which `onCommitted` records go to.
   * @param outbox The outbox, which they go to next.
   * @param options See {@linkcode ReplicasOptions}.
   */
  constructor(storage: TaskStorage, store: TaskStore, outbox: Outbox | undefined, options: ReplicasOptions = {}) {
    const { leaseMs = DEFAULT_LEASE_MS, warn = console.warn, now = Date.now } = options;
    if (!(leaseMs >= 100)) throw new RangeError(`leaseMs must be at least 100, got ${leaseMs}`);
    this.leaseMs = leaseMs;
    this.#storage = storage;
    this.#store = store;
    this.#outbox = outbox;
    this.#warn = warn;
    this.#now = now;
    storage.onCommitted((record) => this.#apply(record));
  }

  /** The runner's side of a lease: take it (then catch up, so the run starts from the latest checkpoint), let it go. */
  readonly leases = {
    claim: async (taskId: string): Promise<boolean> => {
      const asked = this.#now();
      if (!(await this.#storage.claimRuns([taskId], this.leaseMs)).has(taskId)) return false;
      this.#heldUntil.set(taskId, asked + this.leaseMs);
      await this.#storage.catchUp();
      return true;
    },
    release: (taskId: string): Promise<void> => {
      this.#heldUntil.delete(taskId);
      return this.#storage.releaseRun(taskId);
    },
    // Counted from before the claim's query, less a fifth for clocks that differ: on the safe side.
    holds: (taskId: string): boolean => (this.#heldUntil.get(taskId) ?? 0) - this.#now() > this.leaseMs / 5,
  };

  /** Starts renewing leases and taking over tasks, with the runner that runs them. */
  start(runner: TaskRunner): void {
    this.#runner = runner;
    this.#timer = setInterval(() => void (this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined))), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.#timer.unref();
  }

  /** Stops the timer and waits for a round under way. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#ticking;
  }

  /** A record another replica committed: to the store, then the outbox; a run here of a task that ended there stops. */
  #apply(record: unknown): void {
    this.#store.applyCommitted(record);
    this.#outbox?.replay(record);
    const r = record as { type?: string; taskId?: string; status?: { state?: string } };
    if (r.type === "status" && r.taskId && TERMINAL_STATES.has(r.status?.state as never)) this.#runner?.abort(r.taskId);
  }

  /** One round: renew the runs here (stopping the ones lost), then take over the unfinished tasks nobody holds. */
  async #tick(): Promise<void> {
    const runner = this.#runner!;
    try {
      const mine = runner.runningIds();
      const asked = this.#now();
      const held = await this.#storage.claimRuns(mine, this.leaseMs);
      for (const taskId of mine) {
        if (held.has(taskId)) this.#heldUntil.set(taskId, asked + this.leaseMs);
        else runner.abort(taskId);
      }
      // The attempts under way here keep their claims, however long a receiver takes.
      if (this.#outbox) await this.#storage.claimDeliveries(this.#outbox.inFlightIds(), this.leaseMs);
      // A task nobody has claimed yet is its own replica's for a lease's time after its last change.
      const now = this.#now();
      const candidates: string[] = [];
      for (const taskId of this.#store.openTaskIds()) {
        if (runner.has(taskId)) continue;
        const stored = this.#store.get(taskId);
        if (!stored || (stored.state !== "TASK_STATE_WORKING" && now - Date.parse(stored.timestamp) < this.leaseMs)) continue;
        if (stored.state === "TASK_STATE_WORKING" || stored.state === "TASK_STATE_SUBMITTED") candidates.push(taskId);
      }
      if (candidates.length === 0) return;
      const taken = await this.#storage.claimRuns(candidates, this.leaseMs);
      for (const taskId of taken) runner.enqueue(taskId, { resumed: this.#store.get(taskId)?.state === "TASK_STATE_WORKING" });
    } catch (error) {
      this.#warn(`replica: cannot renew or take over task runs: ${(error as Error).message}`);
    }
  }
}
