/**
 * The durable push outbox: the loop that sends what changes owe. The store plans each delivery into
 * the very record that changes the task (`plan.ts`), so a crash cannot lose one; whoever committed
 * the change hands it here with {@linkcode Outbox.add}. Every attempt's outcome is journaled too, so
 * a restarted agent resumes each delivery where it was, with the same `webhook-id`.
 *
 * Deliveries for one (task, config) form a queue: only its head is sent, so a receiver sees a
 * task's events in order. While a queue is blocked, a new intermediate status update replaces the
 * previous one still waiting behind the head (decided as records are applied, so a replay decides
 * the same); the first Task, artifacts and final updates stay. One timer fires at the earliest due
 * head (a min-heap finds it), which then waits, using no attempt, for a send slot: slots go in fair
 * turns to callers and origins (`fair_share.ts`), each origin within a window its outcomes set
 * (`origin_health.ts`), so a dead endpoint holds up only its own queues. Deliveries that run out
 * of retries become dead letters; so do those to an endpoint disabled for failing for days
 * (`endpoint_health.ts`), without an attempt.
 *
 * @module
 */

import { clearTimeout, setTimeout } from "node:timers";
import { DEFAULT_RETRY_SCHEDULE_MS, I32_MAX } from "./backoff.ts";
import { Backpressure } from "./backpressure.ts";
import { DeliveryQueues, keyOf, outcomeRecord } from "./delivery_queues.ts";
import { EndpointHealth, reportEndpoints } from "./endpoint_health.ts";
import type { EndpointRecord, EndpointReport } from "./endpoint_health.ts";
import { FairShare } from "./fair_share.ts";
import { MinHeap } from "./heap.ts";
import { ATTEMPT_SECONDS_BUCKETS, Histogram } from "./histogram.ts";
import { escapeLogText } from "./log_text.ts";
import { OriginHealth, resultOf } from "./origin_health.ts";
import type { Delivery } from "./plan.ts";
import type { TaskRecord } from "./task_records.ts";
import type { TaskChange, TaskStore } from "./task_store.ts";
import type { SendOutcome, WebhookAttempt } from "./webhook_sender.ts";

/** Options of {@linkcode Outbox}. */
export interface OutboxOptions {
  /** Makes one attempt (a `WebhookSender`'s `send`). */
  send: (attempt: WebhookAttempt) => Promise<SendOutcome>;
  /** Delay before each attempt; its length is the number of attempts. @default DEFAULT_RETRY_SCHEDULE_MS */
  schedule?: readonly number[];
  /** Attempts in flight at once. @default 256 */
  maxInFlight?: number;
  /** Attempts in flight at once to one origin, at most: its window starts at 8, halves per failure down to 1 and grows by 1 per answer. @default 64 */
  maxInFlightPerOrigin?: number;
  /** The attempt timeout, ms, for an origin whose last 3 attempts timed out (every 4th still gets the sender's own, which also caps it). @default 2000 */
  slowOriginTimeoutMs?: number;
  /** Backpressure: {@linkcode Outbox.admit} holds new work for an origin with this many deliveries never attempted. @default 64 */
  maxFreshPerOrigin?: number;
  /** Disable an endpoint (scheme, host, port, path) once every attempt to it has failed this long, ms; `Infinity`: never. @default 5 days */
  disableAfterMs?: number;
  /** One line per attempt outcome, and one when an origin is cut to a single probe or recovers, or an endpoint is disabled. @default none */
  log?: (line: string) => void;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  /** Random numbers in [0, 1), for jitter. @default Math.random */
  random?: () => number;
  /** Replicas: takes a delivery for one attempt; false when another replica sends it. @default every attempt is this process's */
  claim?: (deliveryId: string) => Promise<boolean>;
}

/** A delivery another replica holds is looked at again after this (its outcome usually comes first). */
const CLAIM_RETRY_MS = 1000;
/** The `outcome` label each record an attempt ends in counts under (`metrics.ts`). */
const OUTCOME_OF: Readonly<Record<string, string>> = { "push.done": "delivered", "push.attempt": "retry", "push.dead": "dead", "push.config.deleted": "gone" };

/** The push outbox of one agent. */
export class Outbox {
  #store: TaskStore;
  #send: OutboxOptions["send"];
  #claim: OutboxOptions["claim"];
  #schedule: readonly number[];
  #log: ((line: string) => void) | undefined;
  #now: () => number;
  #random: () => number;
  #backpressure: Backpressure;
  /** The queues and dead letters, as the records say (`delivery_queues.ts`). */
  #owed: DeliveryQueues;
  #heap = new MinHeap<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  /** Attempts not settled yet (sent, or their outcome being journaled), by queue key. */
  #inFlight = new Map<string, Promise<void>>();
  #fair: FairShare;
  #health: OriginHealth;
  #originCache = new Map<string, string>();
  /** Each never-attempted delivery's origin, as counted for backpressure. */
  #freshOrigin = new WeakMap<Delivery, string>();
  #running = false;
  #endpoints: EndpointHealth;
  /** Settled attempts (and dead letters made without one) by outcome, since start. */
  #outcomes = new Map<string, number>();
  /** How long each attempt took, seconds. */
  readonly attemptSeconds = new Histogram(ATTEMPT_SECONDS_BUCKETS);

  /**
   * @param store Where the configs are, and where outcomes are journaled.
   * @param options See {@linkcode OutboxOptions}.
   * @throws {RangeError} If `schedule` is empty, or a limit is not a positive integer.
   */
  constructor(store: TaskStore, options: OutboxOptions) {
    const { schedule = DEFAULT_RETRY_SCHEDULE_MS, maxInFlight = 256, maxInFlightPerOrigin = 64, slowOriginTimeoutMs = 2000, log, now = Date.now, random = Math.random } = options;
    if (schedule.length === 0) throw new RangeError("schedule must have at least one entry");
    this.#store = store;
    this.#send = options.send;
    this.#claim = options.claim;
    this.#schedule = schedule;
    this.#health = new OriginHealth({ maxWindow: maxInFlightPerOrigin, shortTimeoutMs: slowOriginTimeoutMs, now });
    this.#fair = new FairShare({ maxInFlight, health: this.#health });
    this.#log = log && ((line) => log(escapeLogText(line))); // URLs and errors come from outside; no log, no line built.
    this.#now = now;
    this.#random = random;
    this.#backpressure = new Backpressure({ maxFreshPerOrigin: options.maxFreshPerOrigin, now });
    this.#endpoints = new EndpointHealth({ disableAfterMs: options.disableAfterMs, now });
    this.#owed = new DeliveryQueues({
      headChanged: (key) => this.#scheduleQueue(key),
      headGone: (key) => this.#fair.delete(key),
      counted: (delivery, delta) => this.#countFresh(delivery, delta),
    });
  }

  /** Deliveries acknowledged since start. */
  get deliveredCount(): number {
    return this.#outcomes.get("delivered") ?? 0;
  }

  /** What attempts came to since start, by outcome: `delivered`, `retry`, `dead`, `gone` (410), `disabled` (no attempt). */
  outcomeCounts(): Map<string, number> {
    return new Map(this.#outcomes);
  }

  /** Dead letters kept. */
  get deadCount(): number {
    return this.#owed.deadCount;
  }

  /** The deliveries being attempted now (their claims are renewed while they are, with replicas). */
  inFlightIds(): string[] {
    return [...this.#inFlight.keys()].flatMap((key) => this.#owed.head(key)?.id ?? []);
  }

  /** Deliveries waiting (or in flight). */
  get pendingCount(): number {
    return this.#owed.pendingCount;
  }

  /** Live records the outbox writes at compaction. */
  get liveCount(): number {
    return this.#owed.pendingCount + this.#owed.deadCount;
  }

  /** Takes a durable change (what `TaskStore.commit` returned): queues what it owes, or drops a deleted config's queue. */
  add(change: TaskChange | undefined): void {
    if (change) this.#apply(change.record);
  }

  /** Applies a record read back at start-up (after the store has replayed it). */
  replay(record: unknown): void {
    this.#apply(record as TaskRecord);
  }

  #apply(record: TaskRecord): void {
    if (record.type === "push.endpoint") this.#endpoints.apply(record);
    else this.#owed.apply(record);
  }

  #countFresh(delivery: Delivery, delta: 1 | -1): void {
    if (delivery.attempts !== 0) return;
    let origin = this.#freshOrigin.get(delivery);
    if (delta < 0) {
      if (origin === undefined) return;
      this.#freshOrigin.delete(delivery);
    } else {
      const url = this.#store.config(delivery.taskId, delivery.configId)?.url;
      if (url === undefined || origin !== undefined) return;
      this.#freshOrigin.set(delivery, (origin = this.#originOf(url)));
    }
    this.#backpressure.count(origin, delta);
  }

  /**
   * Backpressure for new work: resolves when every origin among `urls` has fewer than
   * `maxFreshPerOrigin` deliveries never attempted, or its last attempt failed, or `maxWaitMs`
   * has passed. Call it before journaling a task that will owe webhooks to those URLs.
   *
   * @param urls The webhook URLs the new work will notify.
   * @param maxWaitMs The longest wait. @default 5000
   * @returns Resolves when the work may go ahead; never rejects.
   */
  admit(urls: string[], maxWaitMs = 5000): Promise<void> {
    return this.#backpressure.admit(urls.map((url) => this.#originOf(url)), maxWaitMs, () => this.#running);
  }

  /** Starts sending: every queue's head is scheduled at its due time. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const key of this.#owed.keys()) this.#scheduleQueue(key);
  }

  /** Stops sending and waits (bounded by the sender's timeout) for attempts in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#backpressure.wakeAll(); // New tasks held by backpressure stop waiting.
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    await Promise.all(this.#inFlight.values());
  }

  #scheduleQueue(key: string): void {
    const head = this.#owed.head(key);
    if (!this.#running || !head || this.#inFlight.has(key)) return;
    this.#heap.push(head.nextAt, key);
    this.#arm();
  }

  #arm(): void {
    const next = this.#heap.peek();
    if (!next || !this.#running || next.at >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = next.at;
    this.#timer = setTimeout(() => this.#pump(), Math.min(I32_MAX, Math.max(0, next.at - this.#now())));
    this.#timer.unref();
  }

  #pump(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#now();
    // Every due head goes to its lane to wait for a slot: the heap keeps only what is not due yet.
    for (let next = this.#heap.peek(); this.#running && next && next.at <= now; next = this.#heap.peek()) {
      this.#heap.pop();
      const key = next.value;
      const head = this.#owed.head(key);
      if (!head || head.nextAt !== next.at || this.#inFlight.has(key)) continue; // A stale entry.
      const config = this.#store.config(head.taskId, head.configId);
      if (config) this.#fair.add(key, this.#originOf(config.url), config.principal);
      else this.#owed.remove(head.id); // Its config is gone (deleted, 410, or its task dropped): nothing to send it to.
    }
    this.#sendWaiting();
    this.#arm();
  }

  /** Sends waiting heads while slots are free, in the turns `FairShare` gives. */
  #sendWaiting(): void {
    while (this.#running) {
      const turn = this.#fair.take();
      if (!turn) return;
      const { key, origin } = turn;
      const head = this.#owed.head(key);
      const config = head && this.#store.config(head.taskId, head.configId);
      if (!head || !config || this.#inFlight.has(key)) {
        this.#fair.release(origin); // Left behind by a change (a deleted config); the heap brings back any new head.
        if (head && !config) this.#owed.remove(head.id);
        continue;
      }
      const disabled = this.#endpoints.disabledReason(config.url);
      if (disabled) {
        this.#fair.release(origin); // Nothing is sent: the slot is free for the next turn at once.
        this.#inFlight.set(key, this.#settle(key, head, { type: "push.dead", taskId: head.taskId, id: head.id, attempts: head.attempts, error: disabled }, "disabled"));
        continue;
      }
      const attempt: WebhookAttempt = { id: head.id, taskId: head.taskId, url: config.url, body: head.body };
      if (config.token) attempt.token = config.token;
      if (config.authentication) attempt.authentication = config.authentication;
      const timeoutMs = this.#health.timeoutMs(origin);
      if (timeoutMs !== undefined) attempt.timeoutMs = timeoutMs;
      this.#inFlight.set(key, this.#deliver(key, head, attempt, origin));
    }
  }

  async #deliver(key: string, delivery: Delivery, attempt: WebhookAttempt, origin: string): Promise<void> {
    if (this.#claim && !(await this.#claim(delivery.id).catch(() => false))) {
      // Another replica sends this one: its slot goes to the next turn, its queue waits for that outcome.
      this.#fair.release(origin);
      delivery.nextAt = this.#now() + CLAIM_RETRY_MS;
      this.#inFlight.delete(key);
      this.#scheduleQueue(key);
      return this.#sendWaiting();
    }
    const started = performance.now();
    const outcome = await this.#send(attempt);
    this.attemptSeconds.observe((performance.now() - started) / 1000);
    const change = this.#health.record(origin, resultOf(outcome));
    if (change) this.#log?.(change);
    // The connection is free for the next turn; this queue stays blocked until the outcome is durable.
    this.#fair.release(origin);
    this.#sendWaiting();
    this.#backpressure.outcome(origin, outcome.ok);
    const record = outcomeRecord(delivery, outcome, { schedule: this.#schedule, random: this.#random, now: this.#now() });
    this.#log?.(`webhook ${delivery.id} task ${delivery.taskId} -> ${attempt.url}: ${outcome.ok ? `HTTP ${outcome.status}` : outcome.error} (attempt ${delivery.attempts + 1}, ${record.type})`);
    const endpoint = this.#endpoints.record(attempt.url, outcome.ok, outcome.error);
    if (endpoint.line) this.#log?.(endpoint.line);
    await this.#settle(key, delivery, record, OUTCOME_OF[record.type]!, endpoint.record);
    if (endpoint.line) this.#sweepDisabled();
  }

  /** An endpoint was just disabled: its queues come due now, to go to the dead letters at once rather than at their next attempt. */
  #sweepDisabled(): void {
    const now = this.#now();
    for (const key of this.#owed.keys()) {
      const head = this.#owed.head(key)!;
      const config = this.#store.config(head.taskId, head.configId);
      if (head.nextAt <= now || !config || !this.#endpoints.disabledReason(config.url)) continue;
      head.nextAt = now;
      this.#scheduleQueue(key);
    }
  }

  /** Journals what became of a delivery (after its endpoint's change of health, if any); then its queue goes on. */
  async #settle(key: string, delivery: Delivery, record: TaskRecord, outcome: string, endpoint?: EndpointRecord): Promise<void> {
    try {
      // Not applied again: the endpoint's state moved on when the outcome was recorded, maybe further since.
      if (endpoint) await this.#store.commit(endpoint.taskId, () => endpoint);
      this.add(await this.#store.commit(delivery.taskId, () => record));
      this.#outcomes.set(outcome, (this.#outcomes.get(outcome) ?? 0) + 1);
    } catch (error) {
      // The outcome could not be journaled (e.g. a full disk): try the delivery again later.
      this.#log?.(`webhook ${delivery.id}: cannot journal the outcome: ${(error as Error).message}`);
      delivery.nextAt = this.#now() + 1000;
    } finally {
      this.#inFlight.delete(key);
      this.#scheduleQueue(key);
      this.#pump();
    }
  }

  #originOf(url: string): string {
    let origin = this.#originCache.get(url);
    if (origin === undefined) this.#originCache.set(url, (origin = new URL(url).origin));
    if (this.#originCache.size > 10_000) this.#originCache.clear();
    return origin;
  }

  /** The tasks that still have deliveries pending or dead letters: compaction keeps them. */
  owedTasks(): Set<string> {
    return this.#owed.owedTasks();
  }

  /**
   * The outbox's live records, for compaction: deliveries and dead letters (those of tasks the
   * store dropped, past retention, are dropped too), and each failing or disabled endpoint.
   *
   * @returns Records that rebuild the outbox.
   */
  *snapshot(): Generator<TaskRecord> {
    yield* this.#owed.snapshot((taskId) => this.#store.get(taskId) !== undefined);
    yield* this.#endpoints.records();
  }

  /** Deliveries for the operator, without bodies: pending ones in queue order, or dead letters. */
  deliveries(state: "pending" | "dead"): Array<Omit<Delivery, "body"> & { url: string | undefined }> {
    return this.#owed.list(state).map(({ body: _body, ...rest }) => ({ ...rest, url: this.#store.config(rest.taskId, rest.configId)?.url }));
  }

  /** Each endpoint's health, deliveries owed and dead letters, for the operator: disabled ones first, then failing ones. */
  endpoints(): EndpointReport[] {
    return reportEndpoints(this.#endpoints.list(), { pending: this.deliveries("pending"), dead: this.deliveries("dead") }, this.#health);
  }

  /**
   * Enables an endpoint again, with a fresh failing clock (journaled); its dead letters wait for a replay.
   *
   * @param endpoint The endpoint (scheme, host, port, path), or any webhook URL of it.
   * @returns Whether it was disabled.
   * @throws {TypeError} If `endpoint` is not a URL; a `JournalError` if the change cannot be journaled.
   */
  async enableEndpoint(endpoint: string): Promise<boolean> {
    const { record, wasDisabled } = this.#endpoints.enable(endpoint);
    if (record) await this.#store.commit(record.taskId, () => record);
    if (wasDisabled) this.#log?.(`webhook endpoint ${record!.endpoint} enabled again by an operator`);
    return wasDisabled;
  }

  /** When the oldest delivery still owed was made, ms since the epoch; undefined when none is. */
  oldestPendingAt(): number | undefined {
    return this.#owed.oldestPendingAt();
  }

  /** Puts dead letters (all, or `ids`) back in their queues, due now, with a fresh attempt count; returns the ids. */
  replayDead(ids?: string[]): Promise<string[]> {
    return this.#settleDead(ids, (taskId, id) => ({ type: "push.replay", taskId, id, nextAt: this.#now() }));
  }

  /** Forgets dead letters (all, or `ids`); returns the ids. */
  purgeDead(ids?: string[]): Promise<string[]> {
    return this.#settleDead(ids, (taskId, id) => ({ type: "push.purged", taskId, id }));
  }

  async #settleDead(ids: string[] | undefined, record: (taskId: string, id: string) => TaskRecord): Promise<string[]> {
    const chosen = (ids ?? this.#owed.deadIds()).filter((id) => this.#owed.deadLetter(id));
    for (const id of chosen) {
      const { taskId } = this.#owed.deadLetter(id)!;
      this.add(await this.#store.commit(taskId, () => record(taskId, id)));
    }
    return chosen;
  }
}
