/**
 * A webhook receiver for a2a-push notifications: verify, deduplicate, acknowledge, then process.
 *
 * `POST /webhook` refuses a body over the limit (413), verifies the webhook (401 with the reason,
 * or 400 when it is malformed), and answers 2xx once the event is in the receiver's own journal, so
 * an acknowledged event is never lost and a redelivery, even after a restart, is recognised by its
 * `webhook-id`. Processing comes after the answer: when a task reaches a terminal state, the full
 * task is fetched from the agent with `GetTask` and kept. `GET /` is a live page of it all (tasks
 * with their progress, duplicates, refusals, results: `receiver_page.html`, fed over SSE by
 * `GET /events/stream`, `receiver_feed.ts`), and `GET /events` and `GET /tasks/<id>` show what
 * arrived as JSON; all of them to the owner only (`read_access.ts`).
 *
 * The agent signs a webhook for any URL any caller names, so its JWT proves who sent a webhook but
 * not that this receiver's owner asked for it: a stranger could point a push config of their own
 * task here and have the agent post about it. So by default a webhook must also carry the proof
 * the owner gave the agent: the notification token (`X-A2A-Notification-Token`, made and kept in
 * the data directory when none is configured) or the configured `Authorization` credentials.
 *
 * @module
 */

import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { setTimeout } from "node:timers";
import { join } from "node:path";
import { A2AClient } from "./client.ts";
import { JournalError, WebhookVerificationError } from "./errors.ts";
import { loadOrMakeToken } from "./fs_util.ts";
import { loadPage, sendPage } from "./html_page.ts";
import { openJournal } from "./journal.ts";
import { escapeLogText } from "./log_text.ts";
import type { FileJournal } from "./journal.ts";
import { HttpError, routeRequest, sendJson, sendStatus, writeSse } from "./http_util.ts";
import type { Route } from "./http_util.ts";
import type { Task } from "./types.ts";
import { TERMINAL_STATES } from "./types.ts";
import { JwksCache } from "./jwks_cache.ts";
import { readersOnly } from "./read_access.ts";
import { describeEvent } from "./received_event.ts";
import type { ReceivedEvent } from "./received_event.ts";
import { ReceiverFeed, summarizeResult } from "./receiver_feed.ts";
import type { ReceiverOptions } from "./receiver_options.ts";
import { verifyWebhook } from "./verify.ts";

export type { ReceivedEvent } from "./received_event.ts";
export type { ReceiverOptions } from "./receiver_options.ts";

/** The file in the data directory that keeps the notification token the receiver made itself. */
export const NOTIFICATION_TOKEN_FILE = "notification_token";

const FETCH_ATTEMPTS = 5;
const COMPACTION_FACTOR = 4;

/**
 * The receiver: state rebuilt from its journal, and an HTTP handler.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { WebhookReceiver } from "./receiver.ts";
 * const receiver = await WebhookReceiver.open({ dataDir: mkdtempSync(join(tmpdir(), "r-")), agentUrl: "http://127.0.0.1:8001", audience: ["http://127.0.0.1:9000/webhook"] });
 * const server = receiver.createServer().listen(9000, "127.0.0.1");
 * server.close();
 * await receiver.close();
 * ```
 */
export class WebhookReceiver {
  #journal: FileJournal;
  #options: ReceiverOptions;
  #jwks: JwksCache | undefined;
  #client: A2AClient;
  /** The whole dispatch of {@linkcode WebhookReceiver.handle}, in match order. */
  #routes: Route[];
  #tokenFile: string | undefined;
  #events = new Map<string, ReceivedEvent>();
  #results = new Map<string, Task>();
  #processing = new Set<Promise<void>>();
  /** Ids whose `event` record is being journaled; settles (never rejects) when that ends. */
  #accepting = new Map<string, Promise<void>>();
  /** What the open pages hear, and the refusals they show. */
  #feed = new ReceiverFeed();
  #closed = false;

  /**
   * Use {@linkcode WebhookReceiver.open}.
   *
   * @param journal The receiver's journal, open.
   * @param options See {@linkcode ReceiverOptions}; `token` already resolved.
   * @param tokenFile Where `token` was read from, when the receiver made it.
   * @throws {RangeError} If `readToken` or `agentToken` is empty.
   */
  constructor(journal: FileJournal, options: ReceiverOptions, tokenFile?: string) {
    this.#journal = journal;
    this.#options = options;
    this.#tokenFile = tokenFile;
    const base = options.agentUrl.replace(/\/$/, "");
    if (options.jwt !== false) this.#jwks = new JwksCache(`${base}/.well-known/jwks.json`, { fetch: options.fetch, now: options.now });
    this.#client = new A2AClient(`${base}/`, { fetch: options.fetch, timeoutMs: 10_000, token: options.agentToken });
    const page = loadPage("receiver_page.html");
    this.#routes = [
      { path: "/webhook", methods: { POST: (req, res, { body }) => this.#receive(req, res, body) } },
      // Every read page goes in this list, so none answers a stranger.
      ...readersOnly([
        { path: "/", methods: { GET: (_req, res) => sendPage(res, page) } },
        { path: "/events/stream", methods: { GET: (_req, res) => writeSse(res, this.#feed.follow(this.events(), this.#results.values())) } },
        { path: "/events", methods: { GET: (_req, res) => sendJson(res, 200, { events: this.events() }) } },
        { path: /^\/tasks\/(.*)$/, methods: { GET: (_req, res, { params }) => this.#sendResult(res, params[0]!) } },
      ], { readToken: options.readToken }),
    ];
  }

  /**
   * Opens the receiver's journal and rebuilds what it had received.
   *
   * @param options See {@linkcode ReceiverOptions}.
   * @returns The receiver; terminal events whose result was not fetched yet are fetched again.
   * @throws {JournalError} If the data directory is locked, read-only or damaged, or the token file
   * is a symbolic link.
   * @throws {RangeError} If no verification is configured, `jwt` is on without `audience`, or a
   * token is empty.
   */
  static async open(options: ReceiverOptions): Promise<WebhookReceiver> {
    const jwt = options.jwt !== false;
    const proof = options.proof !== false;
    if (jwt && !options.audience?.length) throw new RangeError("JWT verification needs the receiver's webhook URL(s) as audience");
    if (jwt && options.authorization !== undefined) throw new RangeError("authorization and the agent's JWT both use the Authorization header: turn jwt off to check authorization");
    if (options.token === "" || options.authorization === "") throw new RangeError("token and authorization must not be empty");
    if (!jwt && !proof && !options.secrets?.length && !options.token && !options.authorization) throw new RangeError("Configure at least one check: secrets, jwt, token or authorization (or leave proof on)");
    const journal = await openJournal(options.dataDir, { fileName: "receiver.jsonl", warn: options.log });
    let receiver: WebhookReceiver;
    try {
      // After the journal: its lock makes this start the only one in the directory.
      const tokenFile = proof && !options.token && !options.authorization ? join(options.dataDir, NOTIFICATION_TOKEN_FILE) : undefined;
      const token = tokenFile ? await loadOrMakeToken(tokenFile) : options.token;
      receiver = new WebhookReceiver(journal, { ...options, token }, tokenFile);
    } catch (error) {
      await journal.close();
      throw error;
    }
    if (!receiver.#options.token && !options.authorization) {
      receiver.#log("WARNING: proof is off: any webhook the agent signs for this URL is accepted, also about tasks of push configs a stranger pointed here; stored and fetched as the owner's");
    }
    for (const record of (await journal.load()) as Array<Record<string, unknown>>) receiver.#apply(record);
    for (const event of receiver.#events.values()) {
      if (event.state && TERMINAL_STATES.has(event.state) && !receiver.#results.has(event.taskId)) receiver.#process(event);
    }
    return receiver;
  }

  /**
   * Sets the JWT audience, for a receiver that learns its own URL only once it listens.
   *
   * @param audience This receiver's webhook URL(s).
   */
  setAudience(audience: string[]): void {
    this.#options = { ...this.#options, audience };
  }

  /**
   * The notification token push configs to this receiver must carry as `token` (configured, or
   * made and kept in the data directory); undefined when none is checked.
   */
  get notificationToken(): string | undefined {
    return this.#options.token;
  }

  /** The file holding {@linkcode WebhookReceiver.notificationToken}, when the receiver made it. */
  get notificationTokenFile(): string | undefined {
    return this.#tokenFile;
  }

  /** The checks this receiver makes, in words (for the start-up line). */
  get checks(): string[] {
    const checks: string[] = [];
    if (this.#options.secrets?.length) checks.push("Standard Webhooks signature");
    if (this.#jwks) checks.push(`JWT against ${this.#options.agentUrl.replace(/\/$/, "")}/.well-known/jwks.json`);
    if (this.#options.token) checks.push("X-A2A-Notification-Token");
    if (this.#options.authorization) checks.push("Authorization");
    return checks;
  }

  /** Accepted events, oldest first. */
  events(): ReceivedEvent[] {
    return [...this.#events.values()];
  }

  /** The task fetched after its terminal webhook, if any. */
  result(taskId: string): Task | undefined {
    return this.#results.get(taskId);
  }

  #apply(record: Record<string, unknown>): void {
    if (record.type === "event") {
      const event = record.event as ReceivedEvent;
      this.#events.set(event.webhookId, { ...event });
    } else if (record.type === "duplicate") {
      const event = this.#events.get(record.webhookId as string);
      if (event) event.duplicates++;
    } else if (record.type === "result") {
      this.#results.set(record.taskId as string, record.task as Task);
    }
  }

  async #append(record: Record<string, unknown>): Promise<void> {
    await this.#journal.append(record);
    this.#apply(record);
    this.#publish(record);
    this.#maybeCompact();
  }

  /** Tells the open pages what a durable record changed. */
  #publish(record: Record<string, unknown>): void {
    if (record.type === "event") this.#feed.publish({ event: record.event as ReceivedEvent });
    else if (record.type === "result") this.#feed.publish({ result: summarizeResult(record.task as Task) });
    else if (record.type === "duplicate") {
      const event = this.#events.get(record.webhookId as string);
      if (event) this.#feed.publish({ duplicate: { webhookId: event.webhookId, taskId: event.taskId, duplicates: event.duplicates } });
    }
  }

  /**
   * Keeps the journal (and memory) bounded: duplicates of one event fold into its count, and
   * events and results past the retention are forgotten.
   */
  #maybeCompact(): void {
    const live = this.#events.size + this.#results.size;
    const { compactionMinRecords = 10_000 } = this.#options;
    if (this.#journal.recordCount <= Math.max(compactionMinRecords, live * COMPACTION_FACTOR)) return;
    // The journal runs one compaction at a time and returns at once while one is under way.
    this.#journal.compact(() => this.#snapshot()).catch((error: Error) => this.#log(`compaction failed: ${error.message}`));
  }

  *#snapshot(): Generator<Record<string, unknown>> {
    const { retentionMs = 7 * 24 * 3600 * 1000, now = Date.now } = this.#options;
    const cutoff = now() - retentionMs;
    for (const [id, event] of this.#events) {
      if (Date.parse(event.receivedAt) < cutoff) this.#events.delete(id);
      else yield { type: "event", event };
    }
    const tasks = new Set([...this.#events.values()].map((event) => event.taskId));
    for (const [taskId, task] of this.#results) {
      if (!tasks.has(taskId)) this.#results.delete(taskId);
      else yield { type: "result", taskId, task };
    }
  }

  /**
   * Handles one request: `POST /webhook`, `GET /`, `GET /events/stream`, `GET /events`, `GET /tasks/<id>`.
   *
   * @param req The request.
   * @param res The response.
   * @returns When the answer is sent (processing of an accepted event goes on after).
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return routeRequest(this.#routes, req, res, { maxBodyBytes: this.#options.maxBodyBytes });
  }

  #sendResult(res: ServerResponse, segment: string): void {
    let taskId: string;
    try {
      taskId = decodeURIComponent(segment);
    } catch (error) {
      throw new HttpError(400, `Malformed task id in /tasks/${segment}: ${(error as Error).message}`, { cause: error });
    }
    const task = this.#results.get(taskId);
    if (task) sendJson(res, 200, task);
    else sendStatus(res, 404, "No result fetched for that task (yet)");
  }

  /** `POST /webhook`: verify, deduplicate, journal, answer, then process. */
  async #receive(req: IncomingMessage, res: ServerResponse, readBody: () => Promise<Buffer>): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody();
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      const reason = error.status === 413 ? "TOO_LARGE" : "UNREADABLE";
      this.#log(`refused (${reason}): ${error.message}`);
      this.#feed.refused(error.status, reason, error.message, this.#options.now?.());
      return sendStatus(res, error.status, error.message, { errorBody: (_status, message) => ({ error: message, reason }) });
    }
    let webhookId: string;
    let event: ReceivedEvent;
    try {
      ({ webhookId } = await verifyWebhook({ headers: req.headers, body }, {
        secrets: this.#options.secrets,
        jwks: this.#jwks,
        audience: this.#options.audience,
        token: this.#options.token,
        authorization: this.#options.authorization,
        now: this.#options.now,
      }));
      event = describeEvent(webhookId, body, this.#options.now?.() ?? Date.now());
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      const status = error.code === "MISSING_HEADERS" || error.code === "MALFORMED" ? 400 : 401;
      this.#log(`refused (${error.code}): ${error.message}`);
      this.#feed.refused(status, error.code, error.message, this.#options.now?.());
      return sendJson(res, status, { error: error.message, reason: error.code });
    }
    // A redelivery can arrive while the first copy is still being journaled (the sender timed out
    // and retried): wait for that copy, so that an id is only ever accepted once.
    while (this.#accepting.has(webhookId)) await this.#accepting.get(webhookId);
    if (this.#events.has(webhookId)) {
      await this.#append({ type: "duplicate", webhookId });
      this.#log(`duplicate ${webhookId} (seen ${this.#events.get(webhookId)!.duplicates + 1} times), ignored`);
      return sendJson(res, 200, { duplicate: true });
    }
    // Journal first: once we answer 2xx the agent forgets the event, so we must not.
    const appended = this.#append({ type: "event", event });
    // The waiters only need to know it ended; this request's own await below reports a failure.
    this.#accepting.set(webhookId, appended.then(() => undefined, () => undefined));
    try {
      await appended;
    } finally {
      this.#accepting.delete(webhookId);
    }
    sendJson(res, 200, { accepted: true });
    this.#log(`accepted ${webhookId} task ${event.taskId} ${event.kind}${event.state ? ` ${event.state}` : ""}${event.text ? ` "${event.text}"` : ""}`);
    this.#process(event);
  }

  /** After the answer: a terminal event triggers the "fetch results" step. */
  #process(event: ReceivedEvent): void {
    if (!event.state || !TERMINAL_STATES.has(event.state) || this.#results.has(event.taskId)) return;
    const work = this.#fetchResult(event.taskId).finally(() => this.#processing.delete(work));
    this.#processing.add(work);
  }

  async #fetchResult(taskId: string): Promise<void> {
    for (let attempt = 1; attempt <= FETCH_ATTEMPTS && !this.#closed; attempt++) {
      try {
        const task = await this.#client.getTask({ id: taskId });
        if (this.#closed) return;
        await this.#appendUntilWritten({ type: "result", taskId, task });
        this.#log(`fetched task ${taskId}: ${task.status.state}, ${task.artifacts?.length ?? 0} artifact(s)`);
        return;
      } catch (error) {
        this.#log(`cannot fetch task ${taskId} (attempt ${attempt}/${FETCH_ATTEMPTS}): ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  /** Appends a record, waiting out a journal that cannot write (a full disk) until it can or the receiver closes. */
  async #appendUntilWritten(record: Record<string, unknown>): Promise<void> {
    for (let wait = 200; ; wait = Math.min(2 * wait, 5000)) {
      try {
        return await this.#append(record);
      } catch (error) {
        if (!(error instanceof JournalError) || error.code !== "IO" || this.#closed) throw error;
        if (wait === 200) this.#log(`cannot journal a result, retrying until the journal takes it: ${error.message}`);
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
      }
    }
  }

  /**
   * An HTTP server for this receiver.
   *
   * @returns A `node:http` server; call `listen()`.
   */
  createServer(): Server {
    // Checked every second, not Node's default 30 s, so the timeouts below hold as set.
    const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
      this.handle(req, res).catch((error: Error) => {
        this.#log(`error: ${error.message}`);
        if (!res.headersSent) sendStatus(res, 500, "Internal error");
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    return server;
  }

  /** Waits for result fetches under way (bounded), then closes the journal. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#feed.close();
    await Promise.race([Promise.all(this.#processing), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    await this.#journal.close();
  }

  #log(line: string): void {
    // Webhook ids, JWT key ids and bodies come from whoever posts: one line each, escaped.
    (this.#options.log ?? console.log)(escapeLogText(line));
  }
}
