/**
 * The receiver's live feed, for its page (`receiver_page.html`): what the receiver hears, as it
 * hears it, sent to every open page over SSE. A page that connects gets a snapshot first (the
 * newest tasks' events, their fetched results, the latest refusals), then each change: an event
 * accepted, a duplicate ignored, a webhook refused, a result fetched. A page that falls behind is
 * dropped and reconnects for a fresh snapshot, so a slow browser cannot hold the receiver's memory.
 *
 * Refusals are kept here, in memory, and never journaled: a flood of forged webhooks must not fill
 * the disk. Results are summed up (state, artifacts' text cut short) so a snapshot stays small.
 * No I/O: the receiver publishes, `http_util.ts`'s `writeSse` sends.
 *
 * @module
 */

import type { EventStream } from "./http_util.ts";
import type { ReceivedEvent } from "./received_event.ts";
import type { Task, TaskState } from "./types.ts";

/** A webhook the receiver refused. */
export interface Refusal {
  /** When, ISO 8601. */
  at: string;
  /** The HTTP status answered (400, 401, 413). */
  status: number;
  /** The reason code, e.g. `BAD_TOKEN`, `STALE_TIMESTAMP`, `TOO_LARGE`. */
  reason: string;
  /** The sentence answered, cut to 300 characters. */
  message: string;
}

/** A fetched task as the page shows it. */
export interface ResultSummary {
  taskId: string;
  state: TaskState;
  /** Each artifact's name and its parts as text (data as JSON), cut to 4,000 characters. */
  artifacts: Array<{ name: string; text: string }>;
}

/** One message of the feed. */
export type FeedUpdate =
  | { snapshot: { events: ReceivedEvent[]; results: ResultSummary[]; refusals: Refusal[] } }
  | { event: ReceivedEvent }
  | { duplicate: { webhookId: string; taskId: string; duplicates: number } }
  | { refusal: Refusal }
  | { result: ResultSummary };

/** Options of {@linkcode ReceiverFeed}. */
export interface ReceiverFeedOptions {
  /** Refusals kept for the page. @default 100 */
  maxRefusals?: number;
  /** Tasks a snapshot shows (the most recently heard of). @default 200 */
  maxTasks?: number;
  /** Updates queued for one page before it is dropped (it reconnects). @default 1000 */
  maxQueued?: number;
}

const MAX_TEXT = 4000;
const MAX_MESSAGE = 300;

/**
 * Sums up a fetched task for the page.
 *
 * @param task The task `GetTask` returned.
 * @returns Its state and its artifacts as text.
 *
 * @example A finished task's report
 * ```ts
 * import { summarizeResult } from "./receiver_feed.ts";
 * const task = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_COMPLETED" as const, timestamp: "" }, artifacts: [{ artifactId: "a", name: "report.txt", parts: [{ text: "done" }] }] };
 * console.log(summarizeResult(task).artifacts); // [{ name: "report.txt", text: "done" }]
 * ```
 */
export function summarizeResult(task: Task): ResultSummary {
  const artifacts = (task.artifacts ?? []).map((artifact) => {
    const text = artifact.parts.map((part) => part.text ?? (part.data !== undefined ? JSON.stringify(part.data) : `[${part.filename ?? part.mediaType ?? "file"}]`)).join("\n");
    return { name: artifact.name ?? artifact.artifactId, text: text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text };
  });
  return { taskId: task.id, state: task.status.state, artifacts };
}

/**
 * The feed of one receiver: refusals kept, pages following.
 *
 * @example A page follows, then hears of an event
 * ```ts
 * import { ReceiverFeed } from "./receiver_feed.ts";
 * const feed = new ReceiverFeed();
 * const page = feed.follow([], []);
 * feed.publish({ refusal: { at: new Date().toISOString(), status: 401, reason: "BAD_TOKEN", message: "wrong token" } });
 * page.close();
 * for await (const update of page) console.log(Object.keys(update)[0]); // "snapshot", then "refusal"
 * ```
 */
export class ReceiverFeed {
  #maxRefusals: number;
  #maxTasks: number;
  #maxQueued: number;
  #refusals: Refusal[] = [];
  #pages = new Set<FeedStream>();

  /** @param options See {@linkcode ReceiverFeedOptions}. */
  constructor(options: ReceiverFeedOptions = {}) {
    const { maxRefusals = 100, maxTasks = 200, maxQueued = 1000 } = options;
    this.#maxRefusals = maxRefusals;
    this.#maxTasks = maxTasks;
    this.#maxQueued = maxQueued;
  }

  /**
   * Keeps a refusal (the oldest goes past `maxRefusals`) and tells the pages.
   *
   * @param status The HTTP status answered.
   * @param reason The reason code.
   * @param message The sentence answered.
   * @param now The time, ms. @default Date.now()
   */
  refused(status: number, reason: string, message: string, now: number = Date.now()): void {
    const refusal = { at: new Date(now).toISOString(), status, reason, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message };
    this.#refusals.push(refusal);
    if (this.#refusals.length > this.#maxRefusals) this.#refusals.shift();
    this.publish({ refusal });
  }

  /** Sends an update to every page following; a page too far behind is dropped (it reconnects). */
  publish(update: FeedUpdate): void {
    for (const page of this.#pages) page.push(update, this.#maxQueued);
  }

  /**
   * A new page's stream: the snapshot, then every update until `close()`.
   *
   * @param events Every accepted event, oldest first (the newest `maxTasks` tasks' are shown).
   * @param results The fetched tasks.
   * @returns The stream, for `writeSse`.
   */
  follow(events: readonly ReceivedEvent[], results: Iterable<Task>): EventStream<FeedUpdate> {
    const recent = new Set<string>();
    for (let i = events.length - 1; i >= 0 && recent.size < this.#maxTasks; i--) recent.add(events[i]!.taskId);
    const snapshot = {
      events: events.filter((event) => recent.has(event.taskId)),
      results: [...results].filter((task) => recent.has(task.id)).map(summarizeResult),
      refusals: [...this.#refusals],
    };
    const page = new FeedStream(() => this.#pages.delete(page));
    page.push({ snapshot }, Infinity);
    this.#pages.add(page);
    return page;
  }

  /** Ends every page's stream (the receiver is closing). */
  close(): void {
    for (const page of this.#pages) page.close();
  }
}

/** One page's queue of updates, read by `writeSse`. */
class FeedStream implements EventStream<FeedUpdate> {
  #queue: FeedUpdate[] = [];
  #ended = false;
  #wake: (() => void) | undefined;
  #onEnd: () => void;

  constructor(onEnd: () => void) {
    this.#onEnd = onEnd;
  }

  push(update: FeedUpdate, maxQueued: number): void {
    if (this.#ended) return;
    if (this.#queue.length >= maxQueued) return this.close();
    this.#queue.push(update);
    this.#wake?.();
  }

  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<FeedUpdate> {
    while (true) {
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}
