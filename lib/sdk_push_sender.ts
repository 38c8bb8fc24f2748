/**
 * A push notification sender for agents built on the official JavaScript SDK (`@a2a-js/sdk` 1.3.0):
 * pass it to the SDK's `DefaultRequestHandler` in place of its `DefaultPushNotificationSender`,
 * which posts each event once, from memory, and only logs a failure. This one journals each event,
 * for every push config the SDK's `PushNotificationStore` lists for the task, before `send()`
 * resolves; then a2a-push's outbox delivers it as it does the agent's own: retried with backoff
 * across restarts, in order per (task, config), with a stable `webhook-id`, Standard Webhooks
 * signature and/or ES256 JWT when configured, the config's `authentication` or `token` sent as the
 * SDK sends them, through the SSRF guard, and kept as a dead letter when retries run out.
 *
 * It fits the SDK's `PushNotificationSender` interface by shape; nothing here imports the SDK.
 * Its data directory holds a journal in the agent's format, under the same lock; give it one of
 * its own. Left out: v0.3 bodies (like the SDK's sender without extra serializers, it posts v1.0
 * `StreamResponse` JSON to every config) and a custom token header name.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { PushOptions } from "./agent_options.ts";
import { Compactor } from "./compaction.ts";
import { A2AError, JournalError } from "./errors.ts";
import { decodeTaskRecordAt } from "./frozen_task.ts";
import { openJournal } from "./journal.ts";
import type { FileJournal, JournalOptions } from "./journal.ts";
import type { Outbox } from "./outbox.ts";
import { parsePushConfig } from "./push_config.ts";
import type { StoredPushConfig } from "./push_config.ts";
import { openPushDelivery, replayJournal } from "./push_delivery.ts";
import type { Signer } from "./push_delivery.ts";
import { carriedDeliveries, sdkEventRecord } from "./sdk_plan.ts";
import { streamResponseJson, taskIdOf, taskJson } from "./sdk_wire.ts";
import type { SdkStreamResponse, SdkTask } from "./sdk_wire.ts";
import { jwksDocument } from "./signing.ts";
import { loadSigningKeys } from "./signing_keys.ts";
import { TaskStore } from "./task_store.ts";
import type { StoredTask, TaskRecord } from "./task_store.ts";
import type { StreamResponse, Task, TaskState } from "./types.ts";
import { TERMINAL_STATES } from "./types.ts";
import type { WebhookSender } from "./webhook_sender.ts";

export type { SdkStreamResponse, SdkTask } from "./sdk_wire.ts";

/** A push config as the SDK's `PushNotificationStore` returns it. */
export interface SdkPushConfig {
  id: string;
  url: string;
  token?: string;
  authentication?: { scheme: string; credentials: string } | undefined;
}

/** What the sender reads of the SDK's `PushNotificationStore` (the one given to the request handler). */
export interface SdkPushConfigStore<Context> {
  load(taskId: string, context: Context): Promise<SdkPushConfig[]>;
}

/** Options of {@linkcode DurablePushSender.open}. */
export interface DurablePushSenderOptions extends Pick<PushOptions, "secrets" | "schedule" | "timeoutMs" | "ssrf" | "resolver" | "maxInFlight" | "maxInFlightPerOrigin" | "log"> {
  /** Where the journal (and the signing keys, with `jwt`) live: a directory of its own. */
  dataDir: string;
  /** Sign each webhook with an ES256 JWT (keys made in `dataDir`; serve {@linkcode DurablePushSender.jwks}); needs `publicUrl`. @default false, as the SDK's sender signs nothing */
  jwt?: boolean;
  /** The agent's URL, the JWT's `iss`. @default "" */
  publicUrl?: string;
  /** fsync each journal batch before `send()` resolves. @default true */
  sync?: boolean;
  /** Keep a damaged journal's good lines instead of refusing to start. @default false */
  repair?: boolean;
  /** Forget finished tasks (and their dead letters) this long after their last event. @default 7 days */
  retentionMs?: number;
  /** Keep at most this many finished tasks (never one still owed a webhook). @default 100000 */
  maxFinishedTasks?: number;
  /** Opens the journal file; tests inject a file system that fails. @default node:fs/promises `open` */
  openFile?: JournalOptions["openFile"];
  /** Where warnings go (a refused config, a journal that cannot write yet). @default console.warn */
  warn?: (message: string) => void;
}

/** A journal that cannot write (a full disk) is retried, backing off from this... */
const RETRY_FIRST_MS = 100;
/** ...up to this, until it takes the record or the sender closes. */
const RETRY_MAX_MS = 5000;

/**
 * The durable push sender: `send()` resolves once the event is journaled for every push config of
 * its task; the outbox delivers it from there.
 *
 * @example Journal an SDK event for its task's push config (in an agent, pass `sender` to the
 * `DefaultRequestHandler` where the SDK's `DefaultPushNotificationSender` would go)
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { StreamResponse } from "@a2a-js/sdk";
 * import { InMemoryPushNotificationStore, ServerCallContext } from "@a2a-js/sdk/server";
 * import { DurablePushSender } from "./sdk_push_sender.ts";
 * const pushStore = new InMemoryPushNotificationStore();
 * const context = new ServerCallContext();
 * await pushStore.save("t1", context, { tenant: "", id: "c", taskId: "t1", url: "https://hooks.example/a2a", token: "T", authentication: undefined });
 * const sender = await DurablePushSender.open(pushStore, { dataDir: mkdtempSync(join(tmpdir(), "push-")) });
 * await sender.send(StreamResponse.fromJSON({ task: { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED" } } }), context);
 * console.log(sender.outbox.pendingCount); // 1: journaled, and on its way
 * await sender.close();
 * ```
 */
export class DurablePushSender<Context = unknown> {
  /** The outbox: pending deliveries and dead letters (`deliveries`, `replayDead`, `purgeDead`). */
  readonly outbox: Outbox;
  #configs: SdkPushConfigStore<Context>;
  /** The sender's copy of each task it notified about, and the push configs it delivers to. */
  #store: TaskStore;
  #journal: FileJournal;
  #webhooks: WebhookSender;
  #compactor: Compactor;
  #signer: Signer;
  #options: DurablePushSenderOptions;
  /** Per task, the journaling of its events, in the order `send()` was called. */
  #chains = new Map<string, Promise<void>>();
  /** Per running task, the configs mirrored into the store and those refused, to tell a 410 from a new config. */
  #seen = new Map<string, { mirrored: Set<string>; refused: Set<string> }>();
  #closing = new AbortController();

  /** Use {@linkcode DurablePushSender.open}. */
  constructor(parts: { configs: SdkPushConfigStore<Context>; journal: FileJournal; store: TaskStore; outbox: Outbox; webhooks: WebhookSender; signer: Signer }, options: DurablePushSenderOptions) {
    this.#configs = parts.configs;
    this.#journal = parts.journal;
    this.#store = parts.store;
    this.outbox = parts.outbox;
    this.#webhooks = parts.webhooks;
    this.#signer = parts.signer;
    this.#options = options;
    this.#compactor = new Compactor(parts.store, parts.outbox, options.warn);
  }

  /**
   * Opens the sender's journal, queues again every delivery still owed, and starts delivering.
   *
   * @param configs The SDK's `PushNotificationStore`, the one the request handler uses.
   * @param options See {@linkcode DurablePushSenderOptions}.
   * @returns The sender, delivering.
   * @throws {JournalError} If the data directory is locked, read-only or damaged.
   * @throws {TypeError} If `jwt` is on without `publicUrl`, or a secret is malformed.
   */
  static async open<Context>(configs: SdkPushConfigStore<Context>, options: DurablePushSenderOptions): Promise<DurablePushSender<Context>> {
    const { dataDir, jwt = false, sync = true, repair = false, warn = console.warn, openFile, retentionMs, maxFinishedTasks } = options;
    const issuer = options.publicUrl?.replace(/\/$/, "") ?? "";
    if (jwt && !issuer) throw new TypeError("Cannot sign webhooks with a JWT without publicUrl, the agent's URL (the JWT's iss)");
    // 1. The journal, in the agent's format and under its lock.
    const usedBefore = existsSync(join(dataDir, "signing_keys.json"));
    const journal = await openJournal(dataDir, { sync, repair, usedBefore, warn, openFile, decode: decodeTaskRecordAt });
    // 2. The store: the tasks notified about and their configs; each event's record brings its own deliveries.
    const store = new TaskStore(journal, { retentionMs, maxFinishedTasks, plan: carriedDeliveries });
    // 3. The webhook sender (signing as configured) and the outbox.
    const signer: Signer = { keys: jwt ? await loadSigningKeys(dataDir) : undefined, issuer };
    const { sender: webhooks, outbox } = openPushDelivery(store, options, signer);
    // 4. Replay: what is still owed goes back in its queue, with its webhook-id and attempt count.
    await replayJournal(journal, store, outbox, { repair, warn });
    // 5. Deliver.
    outbox.start();
    return new DurablePushSender({ configs, journal, store, outbox, webhooks, signer }, options);
  }

  /**
   * Journals one event of the SDK for every push config of its task; the outbox delivers it.
   * Events of one task are journaled in the order of the calls (the SDK does not wait for one
   * before it makes the next); a message that belongs to no task, or a task without configs, owes
   * nothing. A journal that cannot write (a full disk) is retried until it can or the sender closes.
   *
   * @param streamResponse The SDK's event.
   * @param context The SDK's call context, passed to the store's `load`.
   * @param task The task after the event, as the SDK hands it.
   * @returns Resolves once the event is durable.
   * @throws {JournalError} If the sender is closed, or closes while the journal cannot write.
   * @throws {Error} Whatever the store's `load` throws.
   */
  async send(streamResponse: SdkStreamResponse, context: Context, task?: SdkTask): Promise<void> {
    const taskId = taskIdOf(streamResponse);
    if (!taskId) return;
    // The SDK's objects are live: take the event as it is now, as its own sender would post it.
    const event = streamResponseJson(streamResponse);
    const taskAfter = task && !this.#store.get(taskId) ? taskJson(task) : undefined; // Only a task new to the store needs it.
    const previous = this.#chains.get(taskId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.#journalEvent(taskId, event, context, taskAfter));
    this.#chains.set(taskId, next);
    void next.catch(() => undefined).then(() => {
      if (this.#chains.get(taskId) === next) this.#chains.delete(taskId);
    });
    await next;
  }

  async #journalEvent(taskId: string, event: StreamResponse, context: Context, taskAfter: Task | undefined): Promise<void> {
    if (this.#closing.signal.aborted) throw new JournalError("CLOSED", `Journal ${this.#journal.path} is closed`);
    const loaded = await this.#configs.load(taskId, context);
    const targets = loaded.length > 0 ? await this.#mirrorConfigs(taskId, loaded) : [];
    if (targets.length > 0) {
      const now = Date.now();
      await this.#commit(taskId, (current) => sdkEventRecord(event, taskId, current?.task, { configIds: targets, taskAfter, now }));
    }
    // The SDK sends nothing more once a task has ended.
    const state = "statusUpdate" in event ? event.statusUpdate.status?.state : "task" in event ? event.task.status?.state : undefined;
    if (TERMINAL_STATES.has(state as TaskState)) this.#seen.delete(taskId);
  }

  /**
   * Brings the task's configs in the store up to date with the SDK's (a new or changed one is a
   * `push.config` record) and returns the ids to deliver to. A config the SDK's sender would post
   * to but the guard refuses (a private address, a header value with CR/LF) is left out, with a
   * warning; one the receiver answered 410 Gone for stays out.
   */
  async #mirrorConfigs(taskId: string, loaded: SdkPushConfig[]): Promise<string[]> {
    let seen = this.#seen.get(taskId);
    if (!seen) this.#seen.set(taskId, (seen = { mirrored: new Set(), refused: new Set() }));
    const targets: string[] = [];
    for (const input of loaded.map(configInput)) {
      const stored = this.#store.config(taskId, input.id);
      if (stored && sameConfig(stored, input)) {
        targets.push(stored.id);
        continue;
      }
      const key = `${input.id}\u0000${input.url}`;
      if ((!stored && seen.mirrored.has(input.id)) || seen.refused.has(key)) continue;
      let config: StoredPushConfig;
      try {
        config = await parsePushConfig(input, { taskId, ssrf: this.#options.ssrf, resolver: this.#options.resolver });
      } catch (error) {
        if (!(error instanceof A2AError)) throw error;
        seen.refused.add(key);
        (this.#options.warn ?? console.warn)(`push config ${JSON.stringify(input.id)} of task ${JSON.stringify(taskId)} is refused, no webhooks go to it: ${error.message}`);
        continue;
      }
      await this.#commit(taskId, () => ({ type: "push.config", taskId, config }));
      seen.mirrored.add(config.id);
      targets.push(config.id);
    }
    return targets;
  }

  /** Commits a record and hands what it owes to the outbox, waiting out a journal that cannot write. */
  async #commit(taskId: string, build: (current: StoredTask | undefined) => TaskRecord): Promise<void> {
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(2 * wait, RETRY_MAX_MS)) {
      try {
        const change = await this.#store.commit(taskId, build);
        this.outbox.add(change);
        return;
      } catch (error) {
        if (!(error instanceof JournalError) || error.code !== "IO" || this.#closing.signal.aborted) throw error;
        if (wait === RETRY_FIRST_MS) (this.#options.warn ?? console.warn)(`cannot journal a push notification of task ${JSON.stringify(taskId)}, retrying until the journal takes it: ${error.message}`);
        await delay(wait, undefined, { signal: this.#closing.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * The public keys receivers check the JWT with (`/.well-known/jwks.json`), when `jwt` is on.
   *
   * @returns The JWKS document; no keys when `jwt` is off.
   */
  jwks(): { keys: JsonWebKey[] } {
    return this.#signer.keys ? jwksDocument(this.#signer.keys) : { keys: [] };
  }

  /**
   * Lets the events being journaled finish, stops delivering (what is owed waits in the journal for
   * the next open) and releases the data directory.
   *
   * @returns Resolves once the journal is closed.
   */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#chains.values()]);
    await this.outbox.stop();
    this.#webhooks.close();
    await this.#compactor.stop();
    await this.#journal.close();
  }
}

/**
 * A config of the SDK's as the SDK's sender uses it: `authentication` only when it has both a
 * scheme and credentials, and then no token; else the token (as `X-A2A-Notification-Token`).
 */
function configInput(config: SdkPushConfig): { id: string; url: string; token?: string; authentication?: { scheme: string; credentials: string } } {
  const { scheme, credentials } = config.authentication ?? {};
  // A store that gave no id (the SDK's own always does) still gets one config per URL, not one per event.
  const input = { id: config.id || `url-${createHash("sha256").update(String(config.url)).digest("hex").slice(0, 32)}`, url: config.url };
  if (scheme && credentials) return { ...input, authentication: { scheme, credentials } };
  return config.token ? { ...input, token: config.token } : input;
}

function sameConfig(stored: StoredPushConfig, input: ReturnType<typeof configInput>): boolean {
  return stored.url === input.url && stored.token === input.token &&
    stored.authentication?.scheme === input.authentication?.scheme && stored.authentication?.credentials === input.authentication?.credentials;
}
