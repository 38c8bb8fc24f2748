/**
 * One client's view of one task's events, as an async iterable: the store pushes each durable event
 * in, the server pulls them out. It ends after a terminal or interrupted status, or when the client
 * goes away (`close()`); the task goes on either way. No I/O.
 *
 * @module
 */

import type { StreamResponse } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";

/**
 * A stream of one task's events, ending after a terminal or interrupted status.
 *
 * @example
 * ```ts
 * import { TaskStream } from "./task_stream.ts";
 * const stream = new TaskStream("t1");
 * stream.push({ statusUpdate: { taskId: "t1", contextId: "c1", status: { state: "TASK_STATE_COMPLETED", timestamp: "" } } });
 * for await (const event of stream) console.log(event); // the one update, then the stream ends
 * ```
 */
export class TaskStream implements AsyncIterable<StreamResponse> {
  /** The task followed. */
  readonly taskId: string;
  #queue: StreamResponse[] = [];
  #ended = false;
  #wake: (() => void) | undefined;
  #onEnd: () => void;

  /**
   * @param taskId The task followed.
   * @param onEnd Called once when the stream ends (the store forgets it then).
   */
  constructor(taskId: string, onEnd: () => void = () => {}) {
    this.taskId = taskId;
    this.#onEnd = onEnd;
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Adds an event (a copy is kept); a terminal or interrupted status ends the stream after it. */
  push(event: StreamResponse): void {
    if (this.#ended) return;
    this.#queue.push(structuredClone(event));
    const state = "statusUpdate" in event ? event.statusUpdate.status.state : undefined;
    if (state && (TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state))) this.close();
    this.#wake?.();
  }

  /** Puts an event first: the Task a stream opens with. */
  prepend(event: StreamResponse): void {
    this.#queue.unshift(event);
  }

  /** Ends the stream (the client went away); events already queued are still read. */
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamResponse> {
    try {
      while (true) {
        if (this.#queue.length > 0) yield this.#queue.shift()!;
        else if (this.#ended) return;
        else await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.close();
    }
  }
}
