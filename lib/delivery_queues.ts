/**
 * What an outbox owes, as the journal's records say: one queue of deliveries per (task, config), in
 * the order they were planned, and the dead letters. Applying a record here decides everything a
 * replay must decide the same way: which progress update a newer one replaces behind a blocked
 * head, where a replayed dead letter goes, what a deleted config takes with it. Pure: no timers,
 * no sending, no journal; the outbox hears when a queue's head changes (`QueueEvents`) and
 * schedules it. Left out: when and how a head is sent (`outbox.ts`).
 *
 * @module
 */

import { nextDelayMs } from "./backoff.ts";
import type { Delivery } from "./plan.ts";
import type { TaskRecord } from "./task_records.ts";
import type { SendOutcome } from "./webhook_sender.ts";

/**
 * The key of one (task, config) queue.
 *
 * @param taskId The task.
 * @param configId The push config.
 * @returns The key.
 *
 * @example Two queues never share a key
 * ```ts
 * import { keyOf } from "./delivery_queues.ts";
 * console.log(keyOf("t1", "c1") !== keyOf("t1c", "1")); // true
 * ```
 */
export function keyOf(taskId: string, configId: string): string {
  return `${taskId}\u0000${configId}`;
}

/** What the owner of the queues hears as records are applied. */
export interface QueueEvents {
  /** The queue has a new head: schedule it. */
  headChanged(key: string): void;
  /** The queue's head left it (done, dead, dropped): whatever it waited for is void. */
  headGone(key: string): void;
  /** A delivery was queued (+1), or attempted or dropped (-1): for counting those never attempted. */
  counted(delivery: Delivery, delta: 1 | -1): void;
}

/**
 * The queues and dead letters of one outbox.
 *
 * @example A status update, then its delivery done
 * ```ts
 * import { DeliveryQueues, keyOf } from "./delivery_queues.ts";
 * const queues = new DeliveryQueues({ headChanged: (key) => console.log("schedule", key), headGone() {}, counted() {} });
 * const delivery = { id: "w1", taskId: "t1", configId: "c1", kind: "status" as const, body: "{}", attempts: 0, nextAt: 0, createdAt: 0 };
 * queues.apply({ type: "push.delivery", taskId: "t1", delivery });
 * console.log(queues.head(keyOf("t1", "c1"))?.id); // "w1"
 * queues.apply({ type: "push.done", taskId: "t1", id: "w1" });
 * console.log(queues.pendingCount); // 0
 * ```
 */
export class DeliveryQueues {
  #events: QueueEvents;
  #queues = new Map<string, Delivery[]>();
  #byId = new Map<string, Delivery>();
  #dead = new Map<string, Delivery>();

  /** @param events Where head changes and counts go. */
  constructor(events: QueueEvents) {
    this.#events = events;
  }

  /** Deliveries waiting (or in flight). */
  get pendingCount(): number {
    return this.#byId.size;
  }

  /** Dead letters kept. */
  get deadCount(): number {
    return this.#dead.size;
  }

  /** The keys of the queues that hold deliveries. */
  keys(): IterableIterator<string> {
    return this.#queues.keys();
  }

  /** The delivery a queue sends next, if any. */
  head(key: string): Delivery | undefined {
    return this.#queues.get(key)?.[0];
  }

  /** A dead letter, if `id` is one. */
  deadLetter(id: string): Delivery | undefined {
    return this.#dead.get(id);
  }

  /** Every dead letter's id. */
  deadIds(): string[] {
    return [...this.#dead.keys()];
  }

  /**
   * Applies one record: the deliveries it owes join their queues; an outbox record moves one.
   *
   * @param record A durable record (committed now, replayed, or another replica's).
   */
  apply(record: TaskRecord): void {
    if ("supersedes" in record) for (const id of record.supersedes ?? []) this.remove(id); // Older journals.
    if ("deliveries" in record) for (const delivery of record.deliveries ?? []) this.#enqueue({ ...delivery });
    const delivery = "id" in record ? this.#byId.get(record.id) : undefined;
    switch (record.type) {
      case "push.config.deleted": {
        const key = keyOf(record.taskId, record.id);
        for (const [deadId, dead] of this.#dead) if (dead.taskId === record.taskId && dead.configId === record.id) this.#dead.delete(deadId);
        for (const d of this.#queues.get(key) ?? []) this.#forget(d);
        this.#queues.delete(key);
        this.#events.headGone(key);
        break;
      }
      case "push.attempt":
        if (delivery) {
          this.#events.counted(delivery, -1);
          Object.assign(delivery, { attempts: record.attempts, nextAt: record.nextAt, lastError: record.error });
        }
        break;
      case "push.done":
        this.remove(record.id);
        break;
      case "push.dead":
        if (delivery) {
          this.remove(record.id);
          this.#dead.set(record.id, Object.assign(delivery, { attempts: record.attempts, lastError: record.error }));
        }
        break;
      case "push.replay": {
        const dead = this.#dead.get(record.id);
        if (dead) {
          this.#dead.delete(record.id);
          this.#enqueue(Object.assign(dead, { attempts: 0, nextAt: record.nextAt }), true);
        }
        break;
      }
      case "push.purged":
        this.#dead.delete(record.id);
        break;
      case "push.delivery":
        if (record.dead) this.#dead.set(record.delivery.id, { ...record.delivery });
        else this.#enqueue({ ...record.delivery });
        break;
    }
  }

  #enqueue(delivery: Delivery, replayed = false): void {
    const key = keyOf(delivery.taskId, delivery.configId);
    let queue = this.#queues.get(key);
    if (!queue) this.#queues.set(key, (queue = []));
    // Behind a blocked head, an older progress update is worth nothing once a newer one exists;
    // a replayed dead letter is the older one, so then it is the one dropped.
    const last = queue.at(-1);
    if (delivery.kind === "status" && queue.length > 1 && last?.kind === "status") {
      if (replayed) return;
      this.remove(last.id);
    }
    queue.push(delivery);
    this.#byId.set(delivery.id, delivery);
    this.#events.counted(delivery, 1);
    if (queue.length === 1) this.#events.headChanged(key);
  }

  #forget(delivery: Delivery): void {
    this.#events.counted(delivery, -1);
    this.#byId.delete(delivery.id);
  }

  /**
   * Takes a pending delivery out of its queue (its config is gone, or a record says so).
   *
   * @param id The delivery's `webhook-id`; an unknown one is ignored.
   */
  remove(id: string): void {
    const delivery = this.#byId.get(id);
    if (!delivery) return;
    this.#forget(delivery);
    const key = keyOf(delivery.taskId, delivery.configId);
    const queue = this.#queues.get(key);
    if (!queue) return;
    const index = queue.indexOf(delivery);
    if (index !== -1) queue.splice(index, 1);
    if (index === 0) this.#events.headGone(key); // The head it waited with is gone; the next one is due when it is due.
    if (queue.length === 0) this.#queues.delete(key);
    else if (index === 0) this.#events.headChanged(key);
  }

  /** The tasks that still have deliveries pending or dead letters: compaction keeps them. */
  owedTasks(): Set<string> {
    const tasks = new Set<string>();
    for (const queue of this.#queues.values()) tasks.add(queue[0]!.taskId);
    for (const delivery of this.#dead.values()) tasks.add(delivery.taskId);
    return tasks;
  }

  /**
   * The live records, for compaction; deliveries of tasks no longer alive (dropped past their
   * retention) are dropped here too.
   *
   * @param alive Whether a task is still kept.
   * @returns One `push.delivery` record per delivery owed and per dead letter.
   */
  *snapshot(alive: (taskId: string) => boolean): Generator<TaskRecord> {
    for (const [key, queue] of this.#queues) {
      if (!alive(queue[0]!.taskId)) {
        for (const d of queue) this.#forget(d);
        this.#queues.delete(key);
        this.#events.headGone(key);
        continue;
      }
      for (const delivery of queue) yield { type: "push.delivery", taskId: delivery.taskId, delivery };
    }
    for (const [id, delivery] of this.#dead) {
      if (!alive(delivery.taskId)) this.#dead.delete(id);
      else yield { type: "push.delivery", taskId: delivery.taskId, delivery, dead: true };
    }
  }

  /**
   * Pending deliveries in queue order, or the dead letters (the stored objects: do not change them).
   *
   * @param state Which.
   * @returns The deliveries.
   */
  list(state: "pending" | "dead"): Delivery[] {
    return state === "dead" ? [...this.#dead.values()] : [...this.#queues.values()].flat();
  }

  /** When the oldest delivery still owed was made, ms since the epoch; undefined when none is. */
  oldestPendingAt(): number | undefined {
    let oldest: number | undefined;
    for (const delivery of this.#byId.values()) if (oldest === undefined || delivery.createdAt < oldest) oldest = delivery.createdAt;
    return oldest;
  }
}

/**
 * What an attempt's outcome means, as the record to journal: done, the config gone (410), another
 * attempt later (the schedule's next delay, or the receiver's `Retry-After`), or a dead letter once
 * the schedule is spent. Pure.
 *
 * @param delivery The delivery attempted.
 * @param outcome What the attempt came to.
 * @param options The retry `schedule`, `random` for its jitter, and `now` (ms).
 * @returns The record.
 *
 * @example An acknowledged attempt
 * ```ts
 * import { outcomeRecord } from "./delivery_queues.ts";
 * const delivery = { id: "w1", taskId: "t1", configId: "c1", kind: "task" as const, body: "{}", attempts: 0, nextAt: 0, createdAt: 0 };
 * console.log(outcomeRecord(delivery, { ok: true, status: 200 }, { schedule: [0], random: Math.random, now: 0 }).type); // "push.done"
 * ```
 */
export function outcomeRecord(delivery: Delivery, outcome: SendOutcome, options: { schedule: readonly number[]; random: () => number; now: number }): TaskRecord {
  const { taskId, id } = delivery;
  const attempts = delivery.attempts + 1;
  if (outcome.ok) return { type: "push.done", taskId, id };
  if (outcome.status === 410) return { type: "push.config.deleted", taskId, id: delivery.configId, reason: "the receiver answered 410 Gone" };
  const backoff = nextDelayMs(attempts, options.schedule, options.random);
  return backoff === undefined
    ? { type: "push.dead", taskId, id, attempts, error: outcome.error }
    : { type: "push.attempt", taskId, id, attempts, nextAt: options.now + (outcome.retryAfterMs ?? backoff), error: outcome.error };
}
