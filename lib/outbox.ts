/**
 * The durable push outbox. Every notification owed is a delivery written into the very journal
 * record that changes the task (`plan`, run in the task's commit turn), so no change is visible
 * without its notifications, and a crash cannot lose one. Every attempt's outcome is journaled
 * too, so a restarted agent resumes each delivery where it was, with the same `webhook-id`.
 *
 * Deliveries for one (task, config) form a queue: only its head is sent, so a receiver sees a
 * task's events in order. While a queue is blocked, a new intermediate status update replaces the
 * previous one still waiting behind the head; the first Task, artifacts and final updates stay.
 * One timer fires at the earliest due head (a min-heap finds it); sends are bounded overall and
 * per origin, so one slow endpoint holds up only its own queues.
 *
 * Records: task records carry `deliveries`, `supersedes` and inline `pushConfigs`; the outbox's own
 * are `push.config`, `push.config.deleted`, `push.attempt`, `push.done`, `push.dead`,
 * `push.replay`, `push.purged`, and `push.delivery` (written by compaction).
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { clearTimeout, setTimeout } from "node:timers";
import { DEFAULT_RETRY_SCHEDULE_MS, nextDelayMs } from "./backoff.ts";
import { A2AError, ERROR_CODES } from "./errors.ts";
import { MinHeap } from "./heap.ts";
import type { StoredPushConfig } from "./push_config.ts";
import { redactPushConfig } from "./push_config.ts";
import type { StoredTask, TaskChange, TaskRecord, TaskStore } from "./task_store.ts";
import { applyRecord } from "./task_store.ts";
import { toV03Task } from "./v03.ts";
import type { StreamResponse, Task, TaskArtifactUpdateEvent, TaskPushNotificationConfig } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";
import type { SendOutcome, WebhookAttempt } from "./webhook_sender.ts";

/** One notification owed to one webhook. */
export interface Delivery {
  /** The `webhook-id`, stable across attempts. */
  id: string;
  taskId: string;
  configId: string;
  /** What it carries, for the collapse rule: only `status` (intermediate) may be replaced. */
  kind: "task" | "status" | "artifact" | "final";
  /** The exact body. */
  body: string;
  attempts: number;
  /** When the next attempt is due, ms since the epoch. */
  nextAt: number;
  createdAt: number;
  lastError?: string;
}

/** Options of {@linkcode Outbox}. */
export interface OutboxOptions {
  /** Makes one attempt (a {@linkcode WebhookSender}'s `send`). */
  send: (attempt: WebhookAttempt) => Promise<SendOutcome>;
  /** Delay before each attempt; its length is the number of attempts. @default DEFAULT_RETRY_SCHEDULE_MS */
  schedule?: readonly number[];
  /** Attempts in flight at once. @default 256 */
  maxInFlight?: number;
  /** Attempts in flight at once to one origin. @default 64 */
  maxInFlightPerOrigin?: number;
  /** One line per attempt outcome. @default none */
  log?: (line: string) => void;
  /**
   * Backpressure: {@linkcode Outbox.admit} holds new work for an origin that already has this many
   * deliveries never attempted (unless its last attempt failed). @default 64
   */
  maxFreshPerOrigin?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  /** Random numbers in [0, 1), for jitter. @default Math.random */
  random?: () => number;
}

const I32_MAX = 2 ** 31 - 1; // setTimeout fires at once for longer delays.
const PLANNED_TYPES = new Set(["task", "push.config", "status", "message", "artifact"]);
const keyOf = (taskId: string, configId: string) => `${taskId}\u0000${configId}`;

/** The push outbox of one agent. */
export class Outbox {
  #store: TaskStore | undefined;
  #send: OutboxOptions["send"];
  #schedule: readonly number[];
  #maxInFlight: number;
  #maxPerOrigin: number;
  #log: (line: string) => void;
  #now: () => number;
  #random: () => number;
  #configs = new Map<string, Map<string, StoredPushConfig>>();
  #queues = new Map<string, Delivery[]>();
  #byId = new Map<string, Delivery>();
  #dead = new Map<string, Delivery>();
  #heap = new MinHeap<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #inFlight = new Map<string, Promise<void>>();
  #origins = new Map<string, number>();
  #parked = new Map<string, Set<string>>();
  #originCache = new Map<string, string>();
  #configCount = 0;
  #maxFresh: number;
  /** Per origin, deliveries never attempted: the backlog that backpressure looks at. */
  #fresh = new Map<string, number>();
  #deliveryOrigin = new WeakMap<Delivery, string>();
  /** Origins whose last attempt failed: a dead receiver must not hold up new tasks. */
  #failing = new Set<string>();
  #admitWaiters = new Set<() => void>();
  #running = false;
  #delivered = 0;

  /** @param options See {@linkcode OutboxOptions}. */
  constructor(options: OutboxOptions) {
    const { schedule = DEFAULT_RETRY_SCHEDULE_MS, maxInFlight = 256, maxInFlightPerOrigin = 64, log = () => {}, now = Date.now, random = Math.random, maxFreshPerOrigin = 64 } = options;
    if (schedule.length === 0) throw new RangeError("schedule must have at least one entry");
    this.#send = options.send;
    this.#schedule = schedule;
    this.#maxInFlight = maxInFlight;
    this.#maxPerOrigin = maxInFlightPerOrigin;
    this.#log = log;
    this.#now = now;
    this.#random = random;
    this.#maxFresh = maxFreshPerOrigin;
  }

  /** Deliveries acknowledged since start. */
  get deliveredCount(): number {
    return this.#delivered;
  }

  /** Deliveries waiting (or in flight). */
  get pendingCount(): number {
    return this.#byId.size;
  }

  /** Live records the outbox would write at compaction. */
  get liveCount(): number {
    return this.#configCount + this.#byId.size + this.#dead.size;
  }

  /**
   * Connects the outbox to the store: it applies every durable change from now on.
   *
   * @param store The agent's task store.
   */
  bind(store: TaskStore): void {
    this.#store = store;
    store.listen((change: TaskChange) => this.#apply(change.record));
  }

  /**
   * Adds to a record, before it is journaled, the deliveries it owes (and the queued status
   * updates it supersedes). Runs in the task's commit turn, so it sees every earlier change.
   *
   * @param record The record about to be journaled.
   * @param current The task before the change.
   */
  plan(record: TaskRecord, current: StoredTask | undefined): void {
    // Only task changes and new configs owe notifications; the outbox's own records (the most
    // frequent) return here without touching the task, which for a finished one means a parse.
    if (!PLANNED_TYPES.has(record.type)) return;
    const task = record.type === "task" ? record.task : current?.task;
    if (!task) return;
    let event: StreamResponse;
    let kind: Delivery["kind"];
    let configs: StoredPushConfig[];
    const inline = (record.pushConfigs as StoredPushConfig[] | undefined) ?? [];
    const existing = [...(this.#configs.get(task.id)?.values() ?? []), ...inline];
    switch (record.type) {
      case "task":
        [event, kind, configs] = [{ task: viewForWebhook(record.task) }, "task", inline];
        break;
      case "push.config":
        [event, kind, configs] = [{ task: viewForWebhook(task) }, "task", [record.config as StoredPushConfig]];
        break;
      case "status":
      case "message": {
        if (!record.status) return;
        const state = record.status.state;
        const final = TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state);
        [event, kind, configs] = [{ statusUpdate: { taskId: task.id, contextId: task.contextId, status: record.status } }, final ? "final" : "status", existing];
        break;
      }
      case "artifact": {
        const update: TaskArtifactUpdateEvent = { taskId: task.id, contextId: task.contextId, artifact: record.artifact };
        if (record.append) update.append = true;
        if (record.lastChunk) update.lastChunk = true;
        [event, kind, configs] = [{ artifactUpdate: update }, "artifact", existing];
        break;
      }
      default:
        return;
    }
    if (configs.length === 0) return;
    const body = JSON.stringify(event);
    let bodyV03: string | undefined; // Made once, and only when a config was created through v0.3.
    const now = this.#now();
    const deliveries: Delivery[] = [];
    const supersedes: string[] = [];
    for (const config of configs) {
      const configBody = config.protocolVersion === "0.3" ? (bodyV03 ??= v03WebhookBody(record, task)) : body;
      deliveries.push({ id: `msg_${randomUUID().replaceAll("-", "")}`, taskId: task.id, configId: config.id, kind, body: configBody, attempts: 0, nextAt: now, createdAt: now });
      const queue = this.#queues.get(keyOf(task.id, config.id));
      const last = queue?.at(-1);
      // Behind a blocked head, an older progress update is worth nothing once a newer one exists.
      if (kind === "status" && queue && queue.length > 1 && last?.kind === "status") supersedes.push(last.id);
    }
    record.deliveries = deliveries;
    if (supersedes.length > 0) record.supersedes = supersedes;
  }

  /**
   * Applies a record read back at start-up.
   *
   * @param record A journal record.
   */
  replay(record: unknown): void {
    this.#apply(record as TaskRecord);
  }

  #apply(record: TaskRecord): void {
    for (const config of (record.pushConfigs as StoredPushConfig[] | undefined) ?? []) this.#setConfig(config);
    // The config first: its deliveries below are counted against its origin.
    if (record.type === "push.config") this.#setConfig(record.config as StoredPushConfig);
    for (const id of (record.supersedes as string[] | undefined) ?? []) this.#remove(id);
    for (const delivery of (record.deliveries as Delivery[] | undefined) ?? []) this.#enqueue({ ...delivery });
    const id = record.id as string;
    const delivery = this.#byId.get(id);
    switch (record.type) {
      case "push.config.deleted": {
        if (this.#configs.get(record.taskId)?.delete(id)) this.#configCount--;
        for (const [deadId, dead] of this.#dead) if (dead.taskId === record.taskId && dead.configId === id) this.#dead.delete(deadId);
        for (const d of this.#queues.get(keyOf(record.taskId, id)) ?? []) {
          this.#countFresh(d, -1);
          this.#byId.delete(d.id);
        }
        this.#queues.delete(keyOf(record.taskId, id));
        break;
      }
      case "push.attempt":
        if (delivery) {
          this.#countFresh(delivery, -1);
          Object.assign(delivery, { attempts: record.attempts, nextAt: record.nextAt, lastError: record.error });
        }
        break;
      case "push.done":
        this.#remove(id);
        break;
      case "push.dead":
        if (delivery) {
          this.#remove(id);
          this.#dead.set(id, Object.assign(delivery, { attempts: record.attempts, lastError: record.error }));
        }
        break;
      case "push.replay": {
        const dead = this.#dead.get(id);
        if (dead) {
          this.#dead.delete(id);
          this.#enqueue(Object.assign(dead, { attempts: 0, nextAt: record.nextAt as number }));
        }
        break;
      }
      case "push.purged":
        this.#dead.delete(id);
        break;
      case "push.delivery": {
        const d = { ...(record.delivery as Delivery) };
        if (record.dead) this.#dead.set(d.id, d);
        else this.#enqueue(d);
        break;
      }
    }
  }

  #setConfig(config: StoredPushConfig): void {
    let map = this.#configs.get(config.taskId);
    if (!map) this.#configs.set(config.taskId, (map = new Map()));
    if (!map.has(config.id)) this.#configCount++;
    map.set(config.id, config);
  }

  #countFresh(delivery: Delivery, delta: 1 | -1): void {
    if (delivery.attempts !== 0) return;
    let origin = this.#deliveryOrigin.get(delivery);
    if (origin === undefined) {
      const url = this.#configs.get(delivery.taskId)?.get(delivery.configId)?.url;
      if (url === undefined) return;
      this.#deliveryOrigin.set(delivery, (origin = this.#originOf(url)));
    }
    const count = (this.#fresh.get(origin) ?? 0) + delta;
    if (count <= 0) this.#fresh.delete(origin);
    else this.#fresh.set(origin, count);
    if (delta < 0 && this.#admitWaiters.size > 0) {
      const waiters = [...this.#admitWaiters];
      this.#admitWaiters.clear();
      for (const wake of waiters) wake();
    }
  }

  /**
   * Backpressure for new work: resolves when every origin among `urls` has fewer than
   * `maxFreshPerOrigin` deliveries never attempted, or its last attempt failed, or `maxWaitMs`
   * has passed. Call it before journaling a task that will owe webhooks to those URLs, so a fast
   * client cannot pile up more work than the receivers take, and latency stays bounded.
   *
   * @param urls The webhook URLs the new work will notify.
   * @param maxWaitMs The longest wait. @default 5000
   * @returns Resolves when the work may go ahead; never rejects.
   */
  async admit(urls: string[], maxWaitMs = 5000): Promise<void> {
    const origins = urls.map((url) => this.#originOf(url));
    const deadline = this.#now() + maxWaitMs;
    const busy = () => origins.some((origin) => !this.#failing.has(origin) && (this.#fresh.get(origin) ?? 0) >= this.#maxFresh);
    while (this.#running && busy()) {
      const left = deadline - this.#now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        timer.unref();
        const waiters = this.#admitWaiters;
        function wake() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        waiters.add(wake);
      });
    }
  }

  #enqueue(delivery: Delivery): void {
    const key = keyOf(delivery.taskId, delivery.configId);
    let queue = this.#queues.get(key);
    if (!queue) this.#queues.set(key, (queue = []));
    queue.push(delivery);
    this.#byId.set(delivery.id, delivery);
    this.#countFresh(delivery, 1);
    if (queue.length === 1) this.#scheduleQueue(key);
  }

  #remove(id: string): void {
    const delivery = this.#byId.get(id);
    if (!delivery) return;
    this.#byId.delete(id);
    this.#countFresh(delivery, -1);
    const key = keyOf(delivery.taskId, delivery.configId);
    const queue = this.#queues.get(key);
    if (!queue) return;
    const index = queue.indexOf(delivery);
    if (index !== -1) queue.splice(index, 1);
    if (queue.length === 0) this.#queues.delete(key);
    else if (index === 0) this.#scheduleQueue(key);
  }

  /** Starts sending: every queue's head is scheduled at its due time. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const key of this.#queues.keys()) this.#scheduleQueue(key);
  }

  /**
   * Stops sending and waits (bounded by the sender's timeout) for attempts in flight.
   *
   * @returns Resolves when nothing is in flight.
   */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    await Promise.all(this.#inFlight.values());
  }

  #scheduleQueue(key: string): void {
    const head = this.#queues.get(key)?.[0];
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
    while (this.#running && this.#inFlight.size < this.#maxInFlight) {
      const next = this.#heap.peek();
      if (!next || next.at > now) break;
      this.#heap.pop();
      const key = next.value;
      const head = this.#queues.get(key)?.[0];
      if (!head || head.nextAt !== next.at || this.#inFlight.has(key)) continue; // A stale entry.
      const config = this.#configs.get(head.taskId)?.get(head.configId);
      if (!config) {
        this.#remove(head.id); // Its config is gone (deleted, or 410): nothing to send it to.
        continue;
      }
      const origin = this.#originOf(config.url);
      if ((this.#origins.get(origin) ?? 0) >= this.#maxPerOrigin) {
        let parked = this.#parked.get(origin);
        if (!parked) this.#parked.set(origin, (parked = new Set()));
        parked.add(key);
        continue;
      }
      this.#inFlight.set(key, this.#deliver(key, head, config, origin));
    }
    // At the in-flight limit a due entry would re-arm a 0 ms timer over and over; the next
    // finished delivery pumps again instead.
    if (this.#inFlight.size < this.#maxInFlight) this.#arm();
  }

  async #deliver(key: string, delivery: Delivery, config: StoredPushConfig, origin: string): Promise<void> {
    this.#origins.set(origin, (this.#origins.get(origin) ?? 0) + 1);
    const attempt: WebhookAttempt = { id: delivery.id, taskId: delivery.taskId, url: config.url, body: delivery.body };
    if (config.token) attempt.token = config.token;
    if (config.authentication) attempt.authentication = config.authentication;
    const outcome = await this.#send(attempt);
    // The connection is free again; the queue stays blocked until the outcome is durable.
    this.#releaseOrigin(origin);
    if (outcome.ok) this.#failing.delete(origin);
    else {
      this.#failing.add(origin);
      // Bounded: forget the oldest failing origin (it only relaxes backpressure for it).
      if (this.#failing.size > 10_000) this.#failing.delete(this.#failing.values().next().value!);
    }
    const attempts = delivery.attempts + 1;
    const { taskId, id } = delivery;
    let record: TaskRecord;
    if (outcome.ok) record = { type: "push.done", taskId, id };
    else if (outcome.status === 410) record = { type: "push.config.deleted", taskId, id: config.id, reason: "the receiver answered 410 Gone" };
    else {
      const backoff = nextDelayMs(attempts, this.#schedule, this.#random);
      record = backoff === undefined
        ? { type: "push.dead", taskId, id, attempts, error: outcome.error }
        : { type: "push.attempt", taskId, id, attempts, nextAt: this.#now() + (outcome.retryAfterMs ?? backoff), error: outcome.error };
    }
    this.#log(`webhook ${id} task ${taskId} -> ${config.url}: ${outcome.ok ? `HTTP ${outcome.status}` : outcome.error} (attempt ${attempts}, ${record.type})`);
    try {
      await this.#store!.commit(taskId, () => record);
      if (outcome.ok) this.#delivered++;
    } catch (error) {
      // The outcome could not be journaled (e.g. a full disk): try the delivery again later.
      this.#log(`webhook ${id}: cannot journal the outcome: ${(error as Error).message}`);
      delivery.nextAt = this.#now() + 1000;
    } finally {
      this.#inFlight.delete(key);
      this.#scheduleQueue(key);
      this.#pump();
    }
  }

  #releaseOrigin(origin: string): void {
    const count = (this.#origins.get(origin) ?? 1) - 1;
    if (count === 0) this.#origins.delete(origin);
    else this.#origins.set(origin, count);
    // One slot is free: wake one parked queue (waking all would re-park all but one, O(n^2)).
    const parked = this.#parked.get(origin);
    const key = parked?.values().next().value;
    if (key === undefined) return;
    parked!.delete(key);
    if (parked!.size === 0) this.#parked.delete(origin);
    this.#scheduleQueue(key);
    this.#pump();
  }

  #originOf(url: string): string {
    let origin = this.#originCache.get(url);
    if (origin === undefined) {
      origin = new URL(url).origin;
      if (this.#originCache.size > 10_000) this.#originCache.clear();
      this.#originCache.set(url, origin);
    }
    return origin;
  }

  /**
   * The outbox's live records, for compaction. Configs and deliveries of tasks the store dropped
   * (past retention) are dropped too.
   *
   * @returns Records that rebuild the outbox.
   */
  *snapshot(): Generator<TaskRecord> {
    const alive = (taskId: string) => this.#store?.get(taskId) !== undefined;
    for (const [taskId, configs] of this.#configs) {
      if (!alive(taskId)) {
        this.#configCount -= configs.size;
        this.#configs.delete(taskId);
        continue;
      }
      for (const config of configs.values()) yield { type: "push.config", taskId, config };
    }
    for (const [key, queue] of this.#queues) {
      if (!alive(queue[0]!.taskId)) {
        for (const d of queue) {
          this.#countFresh(d, -1);
          this.#byId.delete(d.id);
        }
        this.#queues.delete(key);
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
   * `CreateTaskPushNotificationConfig`: journals the config with its first notification, the task
   * as it is now.
   *
   * @param config A checked config (see `parsePushConfig`).
   * @returns The config, without credentials.
   * @throws {A2AError} -32001 if the task does not exist.
   */
  async createConfig(config: StoredPushConfig): Promise<TaskPushNotificationConfig> {
    await this.#store!.commit(config.taskId, (current) => {
      if (!current) throw taskNotFound(config.taskId);
      return { type: "push.config", taskId: config.taskId, config };
    });
    return redactPushConfig(config);
  }

  /**
   * `GetTaskPushNotificationConfig`.
   *
   * @param ref `{taskId, id}`.
   * @returns The config, without credentials.
   * @throws {A2AError} -32001 for an unknown task or a config id the task does not have (A2A §3.1.8).
   */
  getConfig(ref: { taskId: string; id: string }): TaskPushNotificationConfig {
    this.#requireTask(ref.taskId);
    const config = this.#configs.get(ref.taskId)?.get(ref.id);
    if (!config) throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${ref.taskId} has no push notification config ${ref.id}`, { taskId: ref.taskId, configId: ref.id });
    return redactPushConfig(config);
  }

  /**
   * `ListTaskPushNotificationConfigs`, in id order, paginated.
   *
   * @param params `{taskId, pageSize, pageToken?}`.
   * @returns `{configs, nextPageToken}`.
   * @throws {A2AError} -32001 unknown task.
   */
  listConfigs(params: { taskId: string; pageSize: number; pageToken?: string }): { configs: TaskPushNotificationConfig[]; nextPageToken: string } {
    this.#requireTask(params.taskId);
    const after = params.pageToken ? Buffer.from(params.pageToken, "base64url").toString("utf8") : "";
    const all = [...(this.#configs.get(params.taskId)?.values() ?? [])].sort((a, b) => a.id.localeCompare(b.id)).filter((c) => c.id > after);
    const page = all.slice(0, params.pageSize);
    const more = all.length > page.length;
    return { configs: page.map(redactPushConfig), nextPageToken: more ? Buffer.from(page.at(-1)!.id).toString("base64url") : "" };
  }

  /**
   * `DeleteTaskPushNotificationConfig`: idempotent; pending deliveries to it are dropped.
   *
   * @param ref `{taskId, id}`.
   * @throws {A2AError} -32001 unknown task.
   */
  async deleteConfig(ref: { taskId: string; id: string }): Promise<void> {
    await this.#store!.commit(ref.taskId, (current) => {
      if (!current) throw taskNotFound(ref.taskId);
      if (!this.#configs.get(ref.taskId)?.has(ref.id)) return undefined;
      return { type: "push.config.deleted", taskId: ref.taskId, id: ref.id, reason: "deleted by the client" };
    });
  }

  /**
   * Deliveries for the operator: pending ones in queue order, or dead letters.
   *
   * @param state `pending` or `dead`.
   * @returns Summaries (no bodies' secrets: bodies are task events, no config credentials).
   */
  deliveries(state: "pending" | "dead"): Array<Omit<Delivery, "body"> & { url: string | undefined }> {
    const list = state === "dead" ? [...this.#dead.values()] : [...this.#queues.values()].flat();
    return list.map(({ body: _body, ...rest }) => ({ ...rest, url: this.#configs.get(rest.taskId)?.get(rest.configId)?.url }));
  }

  /**
   * Puts dead letters back in their queues, due now, with a fresh attempt count.
   *
   * @param ids The dead letters; all of them if omitted.
   * @returns The ids replayed.
   */
  async replayDead(ids?: string[]): Promise<string[]> {
    const chosen = (ids ?? [...this.#dead.keys()]).filter((id) => this.#dead.has(id));
    for (const id of chosen) {
      const { taskId } = this.#dead.get(id)!;
      await this.#store!.commit(taskId, () => ({ type: "push.replay", taskId, id, nextAt: this.#now() }));
    }
    return chosen;
  }

  /**
   * Forgets dead letters.
   *
   * @param ids The dead letters; all of them if omitted.
   * @returns The ids purged.
   */
  async purgeDead(ids?: string[]): Promise<string[]> {
    const chosen = (ids ?? [...this.#dead.keys()]).filter((id) => this.#dead.has(id));
    for (const id of chosen) {
      const { taskId } = this.#dead.get(id)!;
      await this.#store!.commit(taskId, () => ({ type: "push.purged", taskId, id }));
    }
    return chosen;
  }

  #requireTask(taskId: string): void {
    if (!this.#store?.get(taskId)) throw taskNotFound(taskId);
  }
}

function taskNotFound(taskId: string): A2AError {
  return new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${taskId} was not found`, { taskId });
}

/** The task as a webhook carries it: no history, to keep bodies small; GetTask has it all. */
function viewForWebhook(task: Task): Task {
  const view: Task = { id: task.id, contextId: task.contextId, status: task.status };
  if (task.artifacts?.length) view.artifacts = task.artifacts;
  if (task.metadata) view.metadata = task.metadata;
  return view;
}

/**
 * The body of a webhook to a config made through A2A v0.3: the whole Task after the change, in
 * v0.3 shape (v0.3 has no event bodies). `plan` runs before the change is applied, so it is applied
 * here to a copy.
 */
function v03WebhookBody(record: TaskRecord, task: Task): string {
  let after = task;
  if (record.type !== "task" && record.type !== "push.config") {
    const copy = new Map<string, StoredTask>();
    applyRecord(copy, { type: "task", task: structuredClone(task) });
    after = applyRecord(copy, record).task;
  }
  return JSON.stringify(toV03Task(viewForWebhook(after)));
}
