/**
 * Tasks as a client sees them: copies cut to `historyLength`, and `ListTasks`' filter, order and
 * opaque page tokens. Pure: the caller reads the bodies.
 *
 * @module
 */

import { invalidParams } from "./errors.ts";
import type { ListTasksParams, Task } from "./types.ts";

/**
 * A copy of a task for a client: history cut to `historyLength`, artifacts left out on request.
 *
 * @param task The stored task.
 * @param options `historyLength` (undefined: all), `includeArtifacts` (default true), `copy`
 *   (default true; false when `task` is already a fresh copy, e.g. parsed from a frozen task).
 * @returns A copy, safe to hand out.
 *
 * @example
 * ```ts
 * import { viewTask } from "./task_view.ts";
 * const task = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING" as const, timestamp: "" }, history: [] };
 * console.log(viewTask(task, { historyLength: 0 }).history); // undefined
 * ```
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

/** What `ListTasks` filters and orders on: fields every stored task has without its body. */
export interface TaskSummary {
  readonly id: string;
  readonly contextId: string;
  readonly state: string;
  readonly timestamp: string;
}

/**
 * One page of `ListTasks`: the matching tasks, newest change first, after the page token.
 *
 * @param tasks Every task.
 * @param params The validated params.
 * @returns The page, the token of the next one (empty at the end) and the number of matches.
 * @throws {A2AError} -32602 for a page token this agent did not issue.
 *
 * @example
 * ```ts
 * import { pageOfTasks } from "./task_view.ts";
 * const tasks = [{ id: "a", contextId: "c", state: "TASK_STATE_WORKING", timestamp: "2026-01-01T00:00:00Z" }];
 * console.log(pageOfTasks(tasks, { pageSize: 1 }).page.length); // 1
 * ```
 */
export function pageOfTasks<T extends TaskSummary>(tasks: Iterable<T>, params: ListTasksParams): { page: T[]; nextPageToken: string; pageSize: number; totalSize: number } {
  const after = params.statusTimestampAfter ? Date.parse(params.statusTimestampAfter) : undefined;
  const matches: T[] = [];
  for (const stored of tasks) {
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
  return { page, nextPageToken: more && last ? encodePageToken(last) : "", pageSize, totalSize: matches.length };
}

const DEFAULT_PAGE_SIZE = 50;

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
