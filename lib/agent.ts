/**
 * The agent: A2A v1.0 methods over the journal, the task store and the runner. Each method is one
 * function that validates, journals, starts work and replies; none of them waits on the work except
 * where the protocol says so (blocking `SendMessage`, streams). Transport lives in `server.ts`.
 *
 * @module
 */

import { randomBytes, randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { A2AError, ERROR_CODES, invalidParams } from "./errors.ts";
import { openJournal } from "./journal.ts";
import type { Storage } from "./journal.ts";
import { Outbox } from "./outbox.ts";
import { parseConfigListParams, parseConfigRef, parsePushConfig } from "./push_config.ts";
import type { StoredPushConfig } from "./push_config.ts";
import { parseSecrets } from "./signing.ts";
import { loadSigningKeys, rotateSigningKey } from "./signing_keys.ts";
import type { SigningKeys } from "./signing.ts";
import type { ResolverFunction, SsrfOptions } from "./ssrf.ts";
import { WebhookSender } from "./webhook_sender.ts";
import { TaskRunner } from "./runner.ts";
import type { TaskHandler } from "./runner.ts";
import { decodeTaskRecordAt, FrozenTask } from "./frozen_task.ts";
import { TaskStore } from "./task_store.ts";
import type { StoredTask, TaskChange } from "./task_store.ts";
import type { AgentCard, AgentSkill, ListTasksParams, Part, ListTasksResult, SendMessageParams, StreamResponse, Task, TaskPushNotificationConfig } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";

/** Options of {@linkcode Agent.open}. */
export interface AgentOptions {
  /** The agent's work, run in the background for each task. */
  handler: TaskHandler;
  /** Where the journal lives. */
  dataDir: string;
  /** Card fields: name, description, version, skills... */
  card?: Partial<Pick<AgentCard, "name" | "description" | "version" | "provider" | "documentationUrl" | "defaultInputModes" | "defaultOutputModes">> & { skills?: AgentSkill[] };
  /**
   * The card `GetExtendedAgentCard` returns; giving one declares `capabilities.extendedAgentCard`.
   * A function may return undefined when it has none to give (-32007). Without it the method is
   * unsupported (-32004).
   */
  extendedCard?: AgentCard | (() => AgentCard | undefined);
  /** Handlers running at once. @default 32 */
  concurrency?: number;
  /** fsync each journal batch. @default true */
  sync?: boolean;
  /** Truncate a damaged journal instead of refusing to start. @default false */
  repair?: boolean;
  /** Keep terminal tasks this long. @default 7 days */
  retentionMs?: number;
  /** Compact when the journal holds this many times the live records. @default 4 */
  compactionFactor?: number;
  /** Never compact below this many journal records. @default 10000 */
  compactionMinRecords?: number;
  /** Compact once finished tasks' JSON held in memory passes this (their bodies then stay on disk). @default 64 MiB */
  maxFrozenBytesInMemory?: number;
  /** Journal to use instead of the file journal in `dataDir` (a shared database, in tests a fake). */
  storage?: Storage;
  /** Where warnings go. @default console.warn */
  warn?: (message: string) => void;
  /** Push notifications; `false` builds an agent without them (the config methods answer -32003). @default {} */
  push?: PushOptions | false;
  /**
   * The URL clients reach the agent at (the webhook JWT's `iss`). Webhook delivery starts once it
   * is known: at open when given here, else when `createAgentServer` listens (or call
   * {@linkcode Agent.startDelivery}), so no webhook goes out with an empty issuer.
   */
  publicUrl?: string;
}

/** Push notification options of {@linkcode AgentOptions}. */
export interface PushOptions {
  /** Standard Webhooks secrets, `whsec_...`, comma-separated for rotation. @default none: no `webhook-signature` */
  secrets?: string;
  /** Sign each webhook with an ES256 JWT (keys in the data directory, public keys at /.well-known/jwks.json). @default true */
  jwt?: boolean;
  /** Delay before each attempt, ms; the length is the number of attempts. @default 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h */
  schedule?: readonly number[];
  /** Per-attempt timeout. @default 10000 */
  timeoutMs?: number;
  /** SSRF guard: `allowPrivate` opens loopback/private targets, `allowlist` some CIDRs/hosts. @default guard on */
  ssrf?: SsrfOptions;
  /** DNS resolver for the SSRF guard (tests inject one). */
  resolver?: ResolverFunction;
  /** Attempts in flight at once. @default 256 */
  maxInFlight?: number;
  /** Attempts in flight at once per origin (each on its own keep-alive connection). @default 64 */
  maxInFlightPerOrigin?: number;
  /** Bearer token of the admin interface (/admin/outbox). @default read or made in `<dataDir>/admin_token` */
  adminToken?: string;
  /** One line per delivery attempt. @default none */
  log?: (line: string) => void;
  /** Backpressure: a new task waits while its webhook's origin has this many deliveries never attempted. @default 64 */
  maxFreshPerOrigin?: number;
  /** The longest a new task waits for that backpressure. @default 5000 */
  admissionWaitMs?: number;
}

/** A stream of one task's events, ending after a terminal or interrupted status. */
export interface TaskStream extends AsyncIterable<StreamResponse> {
  /** Stops the stream early (the client went away); the task goes on. */
  close(): void;
}

const DEFAULT_PAGE_SIZE = 50;
/** What the agent takes by default: text, and JSON `data` parts. */
const DEFAULT_INPUT_MODES = ["text/plain", "application/json"];

/**
 * An A2A agent whose tasks are journaled and run in the background.
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
  /** The task store (for the push outbox and tests). */
  readonly store: TaskStore;
  /** The background runner. */
  readonly runner: TaskRunner;
  /** The journal. */
  readonly journal: Storage;
  /** The push outbox, unless push is off. */
  readonly outbox: Outbox | undefined;
  /** The webhook signing keys, when JWT signing is on (see {@linkcode Agent.rotateSigningKey}). */
  signingKeys: SigningKeys | undefined;
  /** The admin interface's bearer token, when push is on. */
  readonly adminToken: string | undefined;
  /** Where clients reach the agent; set by the server at listen unless given. */
  publicUrl: string;
  #options: AgentOptions;
  #sender: WebhookSender | undefined;

  /** Use {@linkcode Agent.open}. */
  constructor(journal: Storage, store: TaskStore, runner: TaskRunner, options: AgentOptions, push: { outbox?: Outbox; sender?: WebhookSender; keys?: SigningKeys; adminToken?: string } = {}) {
    this.journal = journal;
    this.store = store;
    this.runner = runner;
    this.#options = options;
    this.outbox = push.outbox;
    this.#sender = push.sender;
    this.signingKeys = push.keys;
    this.adminToken = push.adminToken;
    this.publicUrl = options.publicUrl ?? "";
  }

  /**
   * Opens the journal, rebuilds every task from it, and resumes the ones that were running.
   *
   * @param options See {@linkcode AgentOptions}.
   * @returns The agent, already running resumed tasks.
   * @throws {JournalError} If the data directory is locked, read-only or damaged.
   */
  static async open(options: AgentOptions): Promise<Agent> {
    const { dataDir, sync = true, repair = false, warn = console.warn } = options;
    // Finished tasks are read at start-up as their ids and where their line is, bodies left on disk.
    const journal = options.storage ?? (await openJournal(dataDir, { sync, repair, warn, decode: decodeTaskRecordAt }));
    const push = options.push === false ? undefined : (options.push ?? {});
    let agent: Agent | undefined;
    const keys = push && push.jwt !== false ? await loadSigningKeys(dataDir) : undefined;
    const sender = push && new WebhookSender({
      secrets: parseSecrets(push.secrets),
      keys: () => agent?.signingKeys,
      issuer: () => agent?.publicUrl ?? "",
      timeoutMs: push.timeoutMs,
      ssrf: push.ssrf,
      resolver: push.resolver,
      maxSocketsPerOrigin: push.maxInFlightPerOrigin,
    });
    const outbox = sender && new Outbox({
      send: (attempt) => sender.send(attempt),
      schedule: push!.schedule,
      maxInFlight: push!.maxInFlight,
      maxInFlightPerOrigin: push!.maxInFlightPerOrigin,
      maxFreshPerOrigin: push!.maxFreshPerOrigin,
      log: push!.log,
    });
    const store = new TaskStore(journal, {
      retentionMs: options.retentionMs,
      compactionFactor: options.compactionFactor,
      compactionMinRecords: options.compactionMinRecords,
      maxFrozenBytesInMemory: options.maxFrozenBytesInMemory,
      decorate: outbox && ((record, current) => outbox.plan(record, current)),
      extraSnapshot: outbox && (() => outbox.snapshot()),
      extraLiveCount: outbox && (() => outbox.liveCount),
    });
    for (const record of await journal.load()) {
      store.replay(record);
      outbox?.replay(record);
    }
    store.freezeFinished();
    outbox?.bind(store);
    const runner = new TaskRunner(store, options.handler, { concurrency: options.concurrency });
    const adminToken = push ? (push.adminToken ?? (await loadAdminToken(dataDir))) : undefined;
    agent = new Agent(journal, store, runner, options, { outbox, sender, keys, adminToken });
    // Webhooks carry the agent's URL (the JWT's iss): they start once it is known.
    if (options.publicUrl) outbox?.start();
    for (const { id, state } of store.all()) {
      if (state === "TASK_STATE_SUBMITTED" || state === "TASK_STATE_WORKING") runner.enqueue(id, { resumed: state === "TASK_STATE_WORKING" });
    }
    return agent;
  }

  /**
   * The agent card for an agent reachable at `baseUrl`.
   *
   * @param baseUrl E.g. `http://127.0.0.1:8001`.
   * @returns The card.
   */
  card(baseUrl: string): AgentCard {
    const card = this.#options.card ?? {};
    return {
      name: card.name ?? "a2a-push agent",
      description: card.description ?? "An A2A agent whose tasks outlive connections and restarts.",
      version: card.version ?? "0.1.0",
      // JSON-RPC first, the preferred interface; v0.3 is spoken at the same JSON-RPC URL (see v03.ts).
      supportedInterfaces: [
        { url: `${baseUrl}/`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
        { url: baseUrl, protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
        { url: `${baseUrl}/`, protocolBinding: "JSONRPC", protocolVersion: "0.3" },
      ],
      capabilities: { streaming: true, pushNotifications: this.outbox !== undefined, extendedAgentCard: this.#options.extendedCard !== undefined },
      defaultInputModes: card.defaultInputModes ?? DEFAULT_INPUT_MODES,
      defaultOutputModes: card.defaultOutputModes ?? ["text/plain"],
      skills: card.skills ?? [],
      ...(card.provider ? { provider: card.provider } : {}),
      ...(card.documentationUrl ? { documentationUrl: card.documentationUrl } : {}),
    };
  }

  /**
   * `GetExtendedAgentCard`.
   *
   * @returns The configured extended card.
   * @throws {A2AError} -32004 when the card does not declare one; -32007 when it does but none is there.
   */
  extendedCard(): AgentCard {
    const { extendedCard } = this.#options;
    if (extendedCard === undefined) {
      throw new A2AError(ERROR_CODES.UNSUPPORTED_OPERATION, "This agent's card does not declare an extended agent card");
    }
    const card = typeof extendedCard === "function" ? extendedCard() : extendedCard;
    if (!card) throw new A2AError(ERROR_CODES.EXTENDED_AGENT_CARD_NOT_CONFIGURED, "This agent has no extended agent card to give");
    return card;
  }

  /**
   * `SendMessage`: starts a task (or continues one waiting for input) and, unless
   * `returnImmediately`, waits until it ends or asks for input.
   *
   * @param params Validated params.
   * @returns `{task}`.
   * @throws {A2AError} -32001, -32004, -32602 as the spec says.
   */
  async sendMessage(params: SendMessageParams): Promise<{ task: Task }> {
    const historyLength = params.configuration?.historyLength;
    if (params.configuration?.returnImmediately) {
      const stored = await this.#accept(params);
      return { task: await this.#view(stored, { historyLength }) };
    }
    const stream = await this.#acceptStreaming(params);
    for await (const _event of stream) {
      // Wait for the stream to end: the task is terminal or interrupted.
    }
    const stored = this.#stored(stream.taskId);
    return { task: await this.#view(stored, { historyLength }) };
  }

  /**
   * `SendStreamingMessage`: starts or continues a task and streams its events, the Task first.
   *
   * @param params Validated params.
   * @returns The event stream.
   * @throws {A2AError} As {@linkcode Agent.sendMessage}.
   */
  sendStreamingMessage(params: SendMessageParams): Promise<TaskStream> {
    return this.#acceptStreaming(params);
  }

  async #acceptStreaming(params: SendMessageParams): Promise<TaskStream & { taskId: string }> {
    const taskId = params.message.taskId ?? randomUUID();
    const stream = this.#openStream(taskId);
    try {
      const stored = await this.#accept(params, taskId);
      // A new task's stream opens with its `task` record, which the listener has already queued; a
      // continued task's stream opens with the task as it is now, as the spec wants a Task first.
      if (params.message.taskId) stream.prepend({ task: await this.#view(stored, { historyLength: params.configuration?.historyLength }) });
      return stream;
    } catch (error) {
      stream.close();
      throw error;
    }
  }

  /** Journals a new task, or the message continuing one, and hands it to the runner. */
  async #accept(params: SendMessageParams, newTaskId: string = randomUUID()): Promise<StoredTask> {
    const { message } = params;
    this.#checkMediaTypes(message.parts);
    const timestamp = new Date().toISOString();
    const inline = params.configuration?.taskPushNotificationConfig;
    const pushConfigs: StoredPushConfig[] = [];
    if (inline) {
      const taskId = message.taskId ?? newTaskId;
      pushConfigs.push(await parsePushConfig(inline, { taskId, path: "configuration.taskPushNotificationConfig", protocolVersion: params.protocolVersion, ...this.#pushCheck() }));
    }
    // Backpressure: wait (bounded) while these webhooks' receivers are behind, before journaling.
    if (pushConfigs.length > 0) await this.outbox?.admit(pushConfigs.map((config) => config.url), this.#options.push ? this.#options.push.admissionWaitMs : undefined);
    if (message.taskId) {
      const taskId = message.taskId;
      const change = await this.store.commit(taskId, (current) => {
        if (!current) throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${taskId} was not found`, { taskId });
        const { task } = current;
        if (message.contextId && message.contextId !== task.contextId) {
          throw invalidParams("message.contextId", `does not match task ${taskId}'s context ${task.contextId}`);
        }
        if (TERMINAL_STATES.has(task.status.state)) {
          throw new A2AError(ERROR_CODES.UNSUPPORTED_OPERATION, `Task ${taskId} is ${task.status.state}: a terminal task takes no more messages; start a new task with referenceTaskIds`, { taskId });
        }
        if (!INTERRUPTED_STATES.has(task.status.state)) {
          throw new A2AError(ERROR_CODES.UNSUPPORTED_OPERATION, `Task ${taskId} is ${task.status.state}: it takes a message only when it asks for input`, { taskId });
        }
        const continued = { ...message, taskId, contextId: task.contextId };
        return { type: "message", taskId, message: continued, status: { state: "TASK_STATE_SUBMITTED", timestamp }, ...(pushConfigs.length ? { pushConfigs } : {}) };
      });
      this.runner.enqueue(taskId);
      return change!.stored!;
    }
    const contextId = message.contextId ?? randomUUID();
    const task: Task = {
      id: newTaskId,
      contextId,
      status: { state: "TASK_STATE_SUBMITTED", timestamp },
      history: [{ ...message, taskId: newTaskId, contextId }],
    };
    if (params.metadata) task.metadata = params.metadata;
    const change = await this.store.commit(newTaskId, () => (pushConfigs.length ? { type: "task", task, pushConfigs } : { type: "task", task }));
    this.runner.enqueue(newTaskId);
    return change!.stored!;
  }

  /**
   * `GetTask`.
   *
   * @param params `{id, historyLength?}`.
   * @returns The task.
   * @throws {A2AError} -32001 if there is no such task.
   */
  async getTask(params: { id: string; historyLength?: number }): Promise<Task> {
    const stored = this.#stored(params.id);
    return this.#view(stored, { historyLength: params.historyLength });
  }

  /**
   * `ListTasks`: newest change first, filtered, paginated with an opaque token.
   *
   * @param params Validated params.
   * @returns A page of tasks.
   * @throws {A2AError} -32602 for a bad page token.
   */
  async listTasks(params: ListTasksParams): Promise<ListTasksResult> {
    const after = params.statusTimestampAfter ? Date.parse(params.statusTimestampAfter) : undefined;
    const matches: StoredTask[] = [];
    for (const stored of this.store.all()) {
      if (params.contextId && stored.contextId !== params.contextId) continue;
      if (params.status && stored.state !== params.status) continue;
      if (after !== undefined && Date.parse(stored.timestamp) < after) continue;
      matches.push(stored);
    }
    matches.sort(compareNewestFirst);
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
    let start = 0;
    if (params.pageToken) {
      const cursor = decodePageToken(params.pageToken);
      start = matches.findIndex((task) => compareNewestFirst(task, cursor) > 0);
      if (start === -1) start = matches.length;
    }
    const page = matches.slice(start, start + pageSize);
    const last = page.at(-1);
    const more = start + pageSize < matches.length;
    // Finished tasks' bodies are read from the journal, a page at a time; one dropped meanwhile is left out.
    const bodies = await Promise.all(page.map((stored) => this.store.read(stored)));
    const tasks = bodies.flatMap((task, i) => task ? [viewTask(task, { historyLength: params.historyLength, includeArtifacts: params.includeArtifacts === true, copy: !(page[i] instanceof FrozenTask) })] : []);
    return {
      tasks,
      nextPageToken: more && last ? encodePageToken(last) : "",
      pageSize,
      totalSize: matches.length,
    };
  }

  /**
   * `CancelTask`: journals `TASK_STATE_CANCELED` and fires the handler's abort signal.
   *
   * @param params `{id}`.
   * @returns The canceled task.
   * @throws {A2AError} -32001 unknown task; -32002 if it has already ended.
   */
  async cancelTask(params: { id: string }): Promise<Task> {
    const taskId = params.id;
    await this.store.commit(taskId, (current) => {
      if (!current) throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${taskId} was not found`, { taskId });
      const state = current.state;
      if (TERMINAL_STATES.has(state)) {
        throw new A2AError(ERROR_CODES.TASK_NOT_CANCELABLE, `Task ${taskId} is ${state} and cannot be canceled`, { taskId });
      }
      return { type: "status", taskId, status: { state: "TASK_STATE_CANCELED", timestamp: new Date().toISOString() } };
    });
    this.runner.abort(taskId);
    const stored = this.#stored(taskId);
    return this.#view(stored);
  }

  /**
   * `SubscribeToTask`: the current Task, then its updates until it ends or asks for input.
   *
   * @param params `{id}`.
   * @returns The event stream.
   * @throws {A2AError} -32001 unknown task; -32004 if it has ended.
   */
  subscribeToTask(params: { id: string }): TaskStream {
    const stored = this.#stored(params.id);
    if (TERMINAL_STATES.has(stored.state)) {
      throw new A2AError(ERROR_CODES.UNSUPPORTED_OPERATION, `Task ${params.id} is ${stored.state}; use GetTask for its result`, { taskId: params.id });
    }
    const stream = this.#openStream(params.id);
    stream.prepend({ task: viewTask(stored.task) });
    return stream;
  }

  /**
   * Starts webhook delivery, setting the agent's public URL first if it had none. Idempotent.
   *
   * @param publicUrl Where clients reach the agent, e.g. `http://127.0.0.1:8001`.
   */
  startDelivery(publicUrl?: string): void {
    if (!this.publicUrl && publicUrl) this.publicUrl = publicUrl.replace(/\/$/, "");
    this.outbox?.start();
  }

  /**
   * `CreateTaskPushNotificationConfig`: the first notification is the task as it is now.
   * `protocolVersion: "0.3"` (the v0.3 edge sets it) makes its webhooks carry v0.3 Tasks.
   */
  async createPushConfig(params: unknown, options: { protocolVersion?: "0.3" } = {}): Promise<TaskPushNotificationConfig> {
    const outbox = this.#outbox();
    return outbox.createConfig(await parsePushConfig(params, { ...this.#pushCheck(), ...options }));
  }

  /** `GetTaskPushNotificationConfig`; credentials are never returned. */
  getPushConfig(params: unknown): TaskPushNotificationConfig {
    return this.#outbox().getConfig(parseConfigRef(params));
  }

  /** `ListTaskPushNotificationConfigs`; credentials are never returned. */
  listPushConfigs(params: unknown): { configs: TaskPushNotificationConfig[]; nextPageToken: string } {
    return this.#outbox().listConfigs(parseConfigListParams(params));
  }

  /** `DeleteTaskPushNotificationConfig`: idempotent. */
  async deletePushConfig(params: unknown): Promise<Record<string, never>> {
    await this.#outbox().deleteConfig(parseConfigRef(params));
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
    if (!this.signingKeys) throw new A2AError(ERROR_CODES.PUSH_NOTIFICATION_NOT_SUPPORTED, "This agent does not sign webhooks with JWTs");
    this.signingKeys = await rotateSigningKey(this.#options.dataDir);
    return this.signingKeys.current.kid;
  }

  /** Refuses (-32005) a part whose `mediaType` neither the card nor any skill accepts. */
  #checkMediaTypes(parts: Part[]): void {
    const card = this.#options.card ?? {};
    const accepted = [...(card.defaultInputModes ?? DEFAULT_INPUT_MODES), ...(card.skills ?? []).flatMap((skill) => skill.inputModes ?? [])];
    parts.forEach((part, index) => {
      if (part.mediaType === undefined || accepted.some((mode) => mediaTypeMatches(mode, part.mediaType!))) return;
      throw new A2AError(
        ERROR_CODES.CONTENT_TYPE_NOT_SUPPORTED,
        `Content type ${part.mediaType} of message.parts[${index}] is not accepted; this agent accepts ${accepted.join(", ")}`,
        { field: `message.parts[${index}].mediaType`, mediaType: part.mediaType, accepted: accepted.join(",") },
      );
    });
  }

  #outbox(): Outbox {
    if (!this.outbox) throw new A2AError(ERROR_CODES.PUSH_NOTIFICATION_NOT_SUPPORTED, "This agent does not send push notifications");
    return this.outbox;
  }

  #pushCheck(): { ssrf?: SsrfOptions; resolver?: ResolverFunction } {
    this.#outbox();
    const push = this.#options.push || {};
    return { ssrf: push.ssrf, resolver: push.resolver };
  }

  /** Stops the runner (tasks resume at the next start) and the outbox, and closes the journal. */
  async close(): Promise<void> {
    await this.runner.stop();
    await this.outbox?.stop();
    this.#sender?.close();
    await this.journal.close();
  }

  #stored(taskId: string): StoredTask {
    const stored = this.store.get(taskId);
    if (!stored) throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${taskId} was not found`, { taskId });
    return stored;
  }

  /**
   * The task as a client sees it: a finished task's body is read back from the journal (already a
   * fresh copy); a running task's live object is copied.
   */
  async #view(stored: StoredTask, options: { historyLength?: number } = {}): Promise<Task> {
    const task = await this.store.read(stored);
    if (!task) throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${stored.id} was not found`, { taskId: stored.id });
    return viewTask(task, { ...options, copy: !(stored instanceof FrozenTask) });
  }

  /** A queue fed by the store's listener for one task; it ends after a terminal or interrupted status. */
  #openStream(taskId: string): TaskStream & { taskId: string; prepend(event: StreamResponse): void } {
    const queue: StreamResponse[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const unlisten = this.store.listen((change: TaskChange) => {
      if (change.stored?.id !== taskId || !change.event || ended) return;
      queue.push(JSON.parse(JSON.stringify(change.event)) as StreamResponse);
      const state = "statusUpdate" in change.event ? change.event.statusUpdate.status.state : undefined;
      if (state && (TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state))) finish();
      wake?.();
    });
    const finish = () => {
      ended = true;
      unlisten();
      wake?.();
    };
    return {
      taskId,
      prepend: (event) => queue.unshift(event),
      close: finish,
      async *[Symbol.asyncIterator]() {
        try {
          while (true) {
            if (queue.length > 0) yield queue.shift()!;
            else if (ended) return;
            else await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          finish();
        }
      },
    };
  }
}

/**
 * A copy of a task for a client: history cut to `historyLength`, artifacts left out on request.
 *
 * @param task The stored task.
 * @param options `historyLength` (undefined: all), `includeArtifacts` (default true), `copy`
 *   (default true; false when `task` is already a fresh copy, e.g. parsed from a frozen task).
 * @returns A copy, safe to hand out.
 */
export function viewTask(task: Task, options: { historyLength?: number; includeArtifacts?: boolean; copy?: boolean } = {}): Task {
  const { historyLength, includeArtifacts = true, copy = true } = options;
  const view: Task = { id: task.id, contextId: task.contextId, status: task.status };
  if (includeArtifacts && task.artifacts?.length) view.artifacts = task.artifacts;
  if (task.history?.length && historyLength !== 0) {
    view.history = historyLength === undefined ? task.history : task.history.slice(-historyLength);
  }
  if (task.metadata) view.metadata = task.metadata;
  return copy ? structuredClone(view) : view;
}

/** Whether `mediaType` falls under `mode` (`text/plain`, a type wildcard such as `image/` plus star, or star/star); parameters are ignored. */
function mediaTypeMatches(mode: string, mediaType: string): boolean {
  const bare = (value: string) => value.split(";")[0]!.trim().toLowerCase();
  const [wantType, wantSub] = bare(mode).split("/");
  const [type, sub] = bare(mediaType).split("/");
  return (wantType === "*" || wantType === type) && (wantSub === "*" || wantSub === sub);
}

function compareNewestFirst(a: { id: string; timestamp: string }, b: { id: string; timestamp: string }): number {
  return b.timestamp.localeCompare(a.timestamp) || a.id.localeCompare(b.id);
}

function encodePageToken(task: { id: string; timestamp: string }): string {
  return Buffer.from(JSON.stringify([task.timestamp, task.id])).toString("base64url");
}

function decodePageToken(token: string): { id: string; timestamp: string } {
  try {
    const [timestamp, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown[];
    if (typeof timestamp === "string" && typeof id === "string") return { id, timestamp };
  } catch {
    // Fall through to the error below: a token we did not make.
  }
  throw invalidParams("pageToken", "is not a token this agent issued");
}

/** The admin token kept in the data directory, made on first start (mode 0600). */
async function loadAdminToken(dataDir: string): Promise<string> {
  const path = join(dataDir, "admin_token");
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = randomBytes(24).toString("base64url");
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return (await readFile(path, "utf8")).trim();
}
