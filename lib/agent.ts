/**
 * The agent: A2A v1.0 methods over the task store, the runner and the push outbox. Each method is
 * one function that validates, commits to the store, hands what the change owes to the outbox,
 * starts work and replies; none of them waits on the work except where the protocol says so
 * (blocking `SendMessage`, streams). Transport lives in `server.ts`; how the parts are wired, and
 * when webhooks start to go out, is `Agent.open`, in numbered steps.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Quotas, mayAccess, ownerOf, visibleTasks } from "./access.ts";
import type { Caller } from "./auth.ts";
import { buildCard, checkMediaTypes, extendedCardOf } from "./agent_card.ts";
import { Compactor } from "./compaction.ts";
import type { AgentOptions } from "./agent_options.ts";
import { A2AError, ERROR_CODES, taskNotFound } from "./errors.ts";
import { decodeTaskRecordAt, FrozenTask } from "./frozen_task.ts";
import { FSYNC_SECONDS_BUCKETS, Histogram } from "./histogram.ts";
import { openJournal } from "./journal.ts";
import type { FileJournal } from "./journal.ts";
import { messageRecord } from "./message_record.ts";
import type { Outbox } from "./outbox.ts";
import { createConfig, deleteConfig, getConfig, listConfigs, parseConfigListParams, parseConfigRef, parsePushConfig } from "./push_config.ts";
import type { StoredPushConfig } from "./push_config.ts";
import { openPushDelivery, replayJournal } from "./push_delivery.ts";
import type { Signer } from "./push_delivery.ts";
import { PgStorage } from "./pg_storage.ts";
import { DEFAULT_LEASE_MS, Replicas, deliveryClaims } from "./replicas.ts";
import { TaskRunner } from "./runner.ts";
import { fileStorage } from "./storage.ts";
import type { TaskStorage } from "./storage.ts";
import { loadAdminToken, loadSigningKeys, rotateSigningKey } from "./signing_keys.ts";
import type { SigningKeys } from "./signing.ts";
import type { ResolverFunction, SsrfOptions } from "./ssrf.ts";
import { TaskStore } from "./task_store.ts";
import type { StoredTask, TaskChange, TaskRecord } from "./task_store.ts";
import type { TaskStream } from "./task_stream.ts";
import { pageOfTasks, viewTask } from "./task_view.ts";
import type { AgentCard, ListTasksParams, ListTasksResult, SendMessageParams, Task, TaskPushNotificationConfig } from "./types.ts";
import { TERMINAL_STATES } from "./types.ts";
import { toV03Task } from "./v03.ts";
import type { WebhookSender } from "./webhook_sender.ts";

export type { TaskStream } from "./task_stream.ts";
export type { AgentOptions, PushOptions } from "./agent_options.ts";

/**
 * An A2A agent whose tasks are journaled and run in the background, and whose notifications are
 * delivered from a durable outbox. Webhooks go out once the agent's URL is known: from `open` when
 * `publicUrl` is given, else from {@linkcode Agent.startDelivery}, which the script that starts the
 * server calls once it listens.
 *
 * @example Open an agent and run a task to its end
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Agent } from "./agent.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "agent-")), handler: async (_task, ctx) => {
 *   await ctx.addArtifact({ artifactId: "a1", parts: [{ text: "done" }] });
 * } });
 * const result = await agent.sendMessage({ message: { messageId: "m1", role: "ROLE_USER", parts: [{ text: "hi" }] } });
 * console.log(result.task.status.state); // "TASK_STATE_COMPLETED"
 * await agent.close();
 * ```
 */
export class Agent {
  /** The task store. */
  readonly store: TaskStore;
  /** The background runner. */
  readonly runner: TaskRunner;
  /** The push outbox, unless push is off. */
  readonly outbox: Outbox | undefined;
  /** The admin interface's bearer token, when push is on. */
  readonly adminToken: string | undefined;
  /** What one caller may hold: push configs per task, open tasks, streams. */
  readonly quotas: Quotas;
  /** How long each journal fsync took, seconds (none on a database), for `/metrics`. */
  readonly fsyncSeconds: Histogram;
  #journal: FileJournal | undefined;
  #storage: TaskStorage;
  #replicas: Replicas | undefined;
  #options: AgentOptions;
  #sender: WebhookSender | undefined;
  #signer: Signer;
  #compactor: Compactor;

  /** Use {@linkcode Agent.open}. */
  constructor(parts: { journal?: FileJournal; storage: TaskStorage; replicas?: Replicas; store: TaskStore; runner: TaskRunner; outbox?: Outbox; sender?: WebhookSender; signer: Signer; adminToken?: string; fsyncSeconds: Histogram }, options: AgentOptions) {
    this.#journal = parts.journal;
    this.#storage = parts.storage;
    this.#replicas = parts.replicas;
    this.store = parts.store;
    this.runner = parts.runner;
    this.outbox = parts.outbox;
    this.#sender = parts.sender;
    this.#signer = parts.signer;
    this.adminToken = parts.adminToken;
    this.fsyncSeconds = parts.fsyncSeconds;
    this.#options = options;
    this.quotas = new Quotas(options.quotas);
    this.#compactor = new Compactor(parts.store, parts.outbox, options.warn);
  }

  /**
   * Opens the journal, rebuilds every task and owed delivery from it, and resumes the tasks that
   * were running.
   *
   * @param options See {@linkcode AgentOptions}.
   * @returns The agent, already running resumed tasks.
   * @throws {JournalError} If the data directory is locked, read-only or damaged.
   */
  static async open(options: AgentOptions): Promise<Agent> {
    const { dataDir, sync = true, repair = false, warn = console.warn, openFile } = options;
    const push = options.push === false ? undefined : (options.push ?? {});
    // 1. The storage: the journal in the data directory (its lock, then every record, finished tasks
    // as where their line is), or the log replicas share in PostgreSQL. Key files show the directory
    // was used before: an empty journal there is damage, not a new start.
    const usedBefore = ["signing_keys.json", "admin_token"].some((name) => existsSync(join(dataDir, name)));
    const fsyncSeconds = new Histogram(FSYNC_SECONDS_BUCKETS);
    const journal = options.database ? undefined : await openJournal(dataDir, { sync, repair, usedBefore, warn, openFile, decode: decodeTaskRecordAt, onSync: (seconds) => fsyncSeconds.observe(seconds) });
    const storage = journal ? fileStorage(journal) : await PgStorage.open(options.database!);
    // 2. The store: tasks and push configs, and what each change owes (v0.3 bodies from the edge).
    const { retentionMs, maxFinishedTasks, compactionFactor, compactionMinRecords, maxFrozenBytesInMemory } = options;
    const store = new TaskStore(storage, { retentionMs, maxFinishedTasks, compactionFactor, compactionMinRecords, maxFrozenBytesInMemory, v03Task: toV03Task });
    // 3. Webhooks are signed with the keys in the data directory and the agent's URL as issuer.
    const signer: Signer = { keys: push && push.jwt !== false ? await loadSigningKeys(dataDir) : undefined, issuer: options.publicUrl?.replace(/\/$/, "") ?? "" };
    // 4. The webhook sender, and the outbox that sends what the store's changes owe through it and journals outcomes.
    // (`push_delivery.ts`: the SDK sender wires the same two.)
    // With replicas, the one that claims a delivery sends it (the claim is renewed while it does).
    const claim = storage.shared ? deliveryClaims(storage, options.database?.leaseMs ?? DEFAULT_LEASE_MS) : undefined;
    const { sender, outbox } = push ? openPushDelivery(store, push, signer, claim) : { sender: undefined, outbox: undefined };
    // 5. Replay: each record to the store, then to the outbox (which reads the store's configs); a repair skips orphans.
    // Replicas apply each other's records as they commit, from the end of this replay on.
    const replicas = storage.shared ? new Replicas(storage, store, outbox, { leaseMs: options.database?.leaseMs ?? DEFAULT_LEASE_MS, warn }) : undefined;
    await replayJournal(journal ?? storage, store, outbox, { repair, warn });
    // 6. The runner drives tasks (with replicas, those whose lease it holds); its changes' deliveries go to the outbox too.
    const runner = new TaskRunner(store, options.handler, { concurrency: options.concurrency, outbox, leases: replicas?.leases });
    replicas?.start(runner);
    const adminToken = push ? (push.adminToken ?? (await loadAdminToken(dataDir))) : undefined;
    const agent = new Agent({ journal, storage, replicas, store, runner, outbox, sender, signer, adminToken, fsyncSeconds }, options);
    // 7. Webhooks carry the agent's URL (the JWT's iss): they start now if it is known.
    if (signer.issuer) outbox?.start();
    // 8. Tasks a stop or a crash cut short run again, from their last checkpoint.
    for (const { id, state } of store.all()) {
      if (state === "TASK_STATE_SUBMITTED" || state === "TASK_STATE_WORKING") runner.enqueue(id, { resumed: state === "TASK_STATE_WORKING" });
    }
    return agent;
  }

  /**
   * Starts webhook delivery, setting the agent's public URL (`publicUrl`, the JWT's issuer, e.g.
   * `http://127.0.0.1:8001`) first if it had none. Call it once the server listens; idempotent.
   */
  startDelivery(publicUrl?: string): void {
    if (!this.#signer.issuer && publicUrl) this.#signer.issuer = publicUrl.replace(/\/$/, "");
    this.outbox?.start();
  }

  /** Where clients reach the agent, once known (`publicUrl` or {@linkcode Agent.startDelivery}). */
  get publicUrl(): string {
    return this.#signer.issuer;
  }

  /** The webhook signing keys, when JWT signing is on (see {@linkcode Agent.rotateSigningKey}). */
  get signingKeys(): SigningKeys | undefined {
    return this.#signer.keys;
  }

  /** Commits a change and hands what it owes to the outbox: every change the agent makes goes here. */
  async #commit(taskId: string, build: (current: StoredTask | undefined) => TaskRecord | undefined): Promise<TaskChange | undefined> {
    const change = await this.store.commit(taskId, build);
    this.outbox?.add(change);
    return change;
  }

  /** The agent card for an agent reachable at `baseUrl` (e.g. `http://127.0.0.1:8001`). */
  card(baseUrl: string): AgentCard {
    return buildCard(baseUrl, { card: this.#options.card, pushNotifications: this.outbox !== undefined, extendedAgentCard: this.#options.extendedCard !== undefined });
  }

  /** `GetExtendedAgentCard`: -32004 when the card declares none; -32007 when none is there to give. */
  extendedCard(): AgentCard {
    return extendedCardOf(this.#options.extendedCard);
  }

  /**
   * `SendMessage`: starts a task (or continues one waiting for input) and, unless
   * `returnImmediately`, waits until it ends or asks for input.
   *
   * @param params Validated params.
   * @param caller Who asks (see `access.ts`); undefined for the agent's own code, which sees every task.
   * @returns `{task}`.
   * @throws {A2AError} -32001, -32004, -32005, -32602 as the spec says; -32050 past a quota.
   */
  async sendMessage(params: SendMessageParams, caller?: Caller): Promise<{ task: Task }> {
    const historyLength = params.configuration?.historyLength;
    if (params.configuration?.returnImmediately) {
      const stored = await this.#accept(params, caller);
      return { task: await this.#view(stored, { historyLength }) };
    }
    const stream = await this.#acceptStreaming(params, caller, { counted: false });
    for await (const _event of stream) {
      // Wait for the stream to end: the task is terminal or interrupted.
    }
    return { task: await this.#view(this.#stored(stream.taskId), { historyLength }) };
  }

  /** `SendStreamingMessage`: starts or continues a task and streams its events, the Task first; errors as `sendMessage`. */
  sendStreamingMessage(params: SendMessageParams, caller?: Caller): Promise<TaskStream> {
    return this.#acceptStreaming(params, caller, { counted: true });
  }

  /** A blocking `SendMessage` waits on a stream too, but only real streams count against the stream quota. */
  async #acceptStreaming(params: SendMessageParams, caller: Caller | undefined, options: { counted: boolean }): Promise<TaskStream> {
    const taskId = params.message.taskId ?? randomUUID();
    const release = options.counted ? this.quotas.openStream(caller) : undefined;
    const stream = this.store.follow(taskId, release); // Before the commit, so the stream sees its first event.
    try {
      const stored = await this.#accept(params, caller, taskId);
      // A new task's stream opens with its `task` event; a continued task's with the task as it is now.
      if (params.message.taskId) stream.prepend({ task: await this.#view(stored, { historyLength: params.configuration?.historyLength }) });
      return stream;
    } catch (error) {
      stream.close();
      throw error;
    }
  }

  /** Journals a new task, or the message continuing one, and hands it to the runner. */
  async #accept(params: SendMessageParams, caller: Caller | undefined, newTaskId: string = randomUUID()): Promise<StoredTask> {
    const { message } = params;
    // Another's task is refused before the commit reads its body from disk, whose time would tell it exists.
    if (message.taskId) this.#stored(message.taskId, caller);
    checkMediaTypes(message.parts, this.#options.card);
    const timestamp = new Date().toISOString();
    const taskId = message.taskId ?? newTaskId;
    const inline = params.configuration?.taskPushNotificationConfig;
    const pushConfigs: StoredPushConfig[] = [];
    if (inline) pushConfigs.push({ ...await parsePushConfig(inline, { taskId, path: "configuration.taskPushNotificationConfig", protocolVersion: params.protocolVersion, ...this.#pushCheck() }), ...ownerOf({ principal: caller?.principal }) });
    // Backpressure: wait (bounded) while these webhooks' receivers are behind, before journaling.
    if (pushConfigs.length > 0) await this.outbox?.admit(pushConfigs.map((config) => config.url), this.#options.push ? this.#options.push.admissionWaitMs : undefined);
    // A new task holds one of its caller's open-task slots from here until it is journaled.
    const release = message.taskId ? undefined : this.quotas.reserveOpenTask(caller, this.store.openTasks(caller?.principal));
    const change = await this.#commit(taskId, (current) => messageRecord(message, current, {
      taskId, caller, pushConfigs, existingConfigs: this.store.configs(taskId), quotas: this.quotas, metadata: params.metadata, timestamp, newContextId: randomUUID,
    })).finally(release);
    this.runner.enqueue(taskId);
    return change!.stored!;
  }

  /** `GetTask`: -32001 if there is no such task. */
  getTask(params: { id: string; historyLength?: number }, caller?: Caller): Promise<Task> {
    return this.#view(this.#stored(params.id, caller), { historyLength: params.historyLength });
  }

  /** `ListTasks`: the caller's tasks, newest change first, filtered, paginated with an opaque token (-32602 for a bad one). */
  async listTasks(params: ListTasksParams, caller?: Caller): Promise<ListTasksResult> {
    const { page, nextPageToken, pageSize, totalSize } = pageOfTasks(visibleTasks(this.store.all(), caller), params);
    // Finished tasks' bodies are read from the journal, a page at a time; one dropped meanwhile is left out.
    const bodies = await Promise.all(page.map((stored) => this.store.read(stored)));
    const tasks = bodies.flatMap((task, i) => task ? [viewTask(task, { historyLength: params.historyLength, includeArtifacts: params.includeArtifacts === true, copy: !(page[i] instanceof FrozenTask) })] : []);
    return { tasks, nextPageToken, pageSize, totalSize };
  }

  /** `CancelTask`: journals `TASK_STATE_CANCELED`, fires the handler's abort signal; -32001, or -32002 once ended. */
  async cancelTask(params: { id: string }, caller?: Caller): Promise<Task> {
    const taskId = params.id;
    this.#stored(taskId, caller); // Refused before the commit reads anything (see #accept).
    await this.#commit(taskId, (current) => {
      if (!current || !mayAccess(caller, current)) throw taskNotFound(taskId);
      if (TERMINAL_STATES.has(current.state)) {
        throw new A2AError(ERROR_CODES.TASK_NOT_CANCELABLE, `Task ${taskId} is ${current.state} and cannot be canceled`, { taskId });
      }
      return { type: "status", taskId, status: { state: "TASK_STATE_CANCELED", timestamp: new Date().toISOString() } };
    });
    this.runner.abort(taskId);
    return this.#view(this.#stored(taskId));
  }

  /** `SubscribeToTask`: the current Task, then its updates until it ends or asks for input; -32001, or -32004 once ended. */
  subscribeToTask(params: { id: string }, caller?: Caller): TaskStream {
    const stored = this.#stored(params.id, caller);
    if (TERMINAL_STATES.has(stored.state)) {
      throw new A2AError(ERROR_CODES.UNSUPPORTED_OPERATION, `Task ${params.id} is ${stored.state}; use GetTask for its result`, { taskId: params.id });
    }
    const stream = this.store.follow(params.id, this.quotas.openStream(caller));
    stream.prepend({ task: viewTask(stored.task) });
    return stream;
  }

  /** `CreateTaskPushNotificationConfig` (see `push_config.ts`); `protocolVersion: "0.3"` makes its webhooks carry v0.3 Tasks. */
  async createPushConfig(params: unknown, options: { protocolVersion?: "0.3"; caller?: Caller } = {}): Promise<TaskPushNotificationConfig> {
    const { caller, protocolVersion } = options;
    const config = await parsePushConfig(params, { ...this.#pushCheck(), protocolVersion });
    return createConfig(this.store, (taskId, build) => this.#commit(taskId, build), config, { caller, quotas: this.quotas });
  }

  /** `GetTaskPushNotificationConfig`: -32001 for an unknown task or config; credentials are never returned. */
  getPushConfig(params: unknown, caller?: Caller): TaskPushNotificationConfig {
    this.#pushCheck();
    return getConfig(this.store, parseConfigRef(params), { caller });
  }

  /** `ListTaskPushNotificationConfigs`, in id order, paginated; credentials are never returned. */
  listPushConfigs(params: unknown, caller?: Caller): { configs: TaskPushNotificationConfig[]; nextPageToken: string } {
    this.#pushCheck();
    return listConfigs(this.store, parseConfigListParams(params), { caller });
  }

  /** `DeleteTaskPushNotificationConfig`: idempotent; pending deliveries to it are dropped. */
  async deletePushConfig(params: unknown, caller?: Caller): Promise<Record<string, never>> {
    this.#pushCheck();
    await deleteConfig(this.store, (taskId, build) => this.#commit(taskId, build), parseConfigRef(params), { caller });
    return {};
  }

  /**
   * Makes a new webhook signing key current; the old one stays in the JWKS, so receivers holding
   * either can verify.
   *
   * @returns The new current key's `kid`.
   * @throws {A2AError} -32003 when push (or JWT signing) is off.
   */
  async rotateSigningKey(): Promise<string> {
    if (!this.#signer.keys) throw new A2AError(ERROR_CODES.PUSH_NOTIFICATION_NOT_SUPPORTED, "This agent does not sign webhooks with JWTs");
    this.#signer.keys = await rotateSigningKey(this.#options.dataDir);
    return this.#signer.keys.current.kid;
  }

  /**
   * Rewrites the journal as the live state (tasks, configs, owed deliveries) now; finished tasks
   * past the retention are dropped. The agent also does it by itself when the journal has grown.
   *
   * @returns Resolves when the new journal is in place.
   */
  compact(): Promise<void> {
    return this.#compactor.compact();
  }

  /**
   * Replicas: applies what other replicas committed until now (a client may ask this replica about
   * a task another made a moment ago).
   *
   * @returns False when there are no other replicas (nothing to catch up with).
   */
  async catchUp(): Promise<boolean> {
    if (!this.#storage.shared) return false;
    await this.#storage.catchUp();
    return true;
  }

  /** The journal file, for operators and benchmarks; undefined on a database. */
  get journal(): FileJournal | undefined {
    return this.#journal;
  }

  /** Stops the runner (tasks resume at the next start) and the outbox, and closes the journal. */
  async close(): Promise<void> {
    await this.#replicas?.stop();
    await this.runner.stop();
    await this.outbox?.stop();
    this.#sender?.close();
    await this.#compactor.stop();
    await this.#storage.close();
  }

  #pushCheck(): { ssrf?: SsrfOptions; resolver?: ResolverFunction } {
    if (!this.outbox) throw new A2AError(ERROR_CODES.PUSH_NOTIFICATION_NOT_SUPPORTED, "This agent does not send push notifications");
    const push = this.#options.push || {};
    return { ssrf: push.ssrf, resolver: push.resolver };
  }

  /** The task, if the caller may see it: another's is not found, as if it did not exist (A2A §3.3.2). */
  #stored(taskId: string, caller?: Caller): StoredTask {
    const stored = this.store.get(taskId);
    if (!stored || !mayAccess(caller, stored)) throw taskNotFound(taskId);
    return stored;
  }

  /** The task as a client sees it: a finished task's body is read back (already a fresh copy); a running task's is copied. */
  async #view(stored: StoredTask, options: { historyLength?: number } = {}): Promise<Task> {
    const task = await this.store.read(stored);
    if (!task) throw taskNotFound(stored.id);
    return viewTask(task, { ...options, copy: !(stored instanceof FrozenTask) });
  }
}
