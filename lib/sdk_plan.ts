/**
 * What one event of an `@a2a-js/sdk` agent owes, as the SDK sender journals it: one record in the
 * agent's own journal format that keeps the sender's copy of the task up to date (a `task`,
 * `status`, `artifact` or `message` record, as the agent writes them) and carries one delivery per
 * push config, whose body is the event exactly as the SDK's own sender would post it. The store
 * then applies and journals it like any agent record; `carriedDeliveries` is the planner that tells
 * it the deliveries are already in the record. Pure: values in, values out.
 *
 * The copy of the task is bookkeeping (which tasks are finished, so compaction can drop them), so
 * what the journal needs is filled in where the SDK left it out: a status without a timestamp gets
 * the time of the event, one without a known state keeps the state before.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import type { Delivery } from "./plan.ts";
import type { TaskRecord } from "./task_records.ts";
import type { StreamResponse, Task, TaskState, TaskStatus } from "./types.ts";
import { INTERRUPTED_STATES, TASK_STATES, TERMINAL_STATES } from "./types.ts";

/** Options of {@linkcode sdkEventRecord}. */
export interface SdkEventOptions {
  /** The ids of the push configs the event goes to, in the order the SDK's store listed them. */
  configIds: readonly string[];
  /** The task after the event, as the SDK handed it to its sender (v1.0 JSON), if it did. */
  taskAfter?: Task;
  /** The time, ms since the epoch. */
  now: number;
  /** Makes a `webhook-id`. @default `msg_` and a random UUID's hex */
  newId?: () => string;
}

/**
 * The record an SDK event is journaled as, carrying its deliveries.
 *
 * @param event The event as v1.0 JSON (`streamResponseJson` of the SDK's `StreamResponse`).
 * @param taskId The task it is about.
 * @param current The sender's copy of the task before the event; undefined if it has none yet.
 * @param options The configs it goes to, the task after it, the clock.
 * @returns A `task` record when the task is new to the sender (or the event is a Task), else the
 *   `status`, `artifact` or `message` record of the event; `deliveries` holds one delivery per config.
 *
 * @example A status update to a task the sender already has, for one config
 * ```ts
 * import { sdkEventRecord } from "./sdk_plan.ts";
 * const current = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED" as const, timestamp: "2026-01-01T00:00:00Z" } };
 * const event = { statusUpdate: { taskId: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING" as const, timestamp: "2026-01-01T00:00:01Z" } } };
 * const record = sdkEventRecord(event, "t1", current, { configIds: ["c"], now: 0 });
 * console.log(record.type, "deliveries" in record && record.deliveries?.[0]?.body); // status {"statusUpdate":{...}}
 * ```
 */
export function sdkEventRecord(event: StreamResponse, taskId: string, current: Task | undefined, options: SdkEventOptions): TaskRecord {
  const { configIds, taskAfter, now, newId = () => `msg_${randomUUID().replaceAll("-", "")}` } = options;
  const body = JSON.stringify(event);
  const kind = kindOf(event);
  const deliveries: Delivery[] = configIds.map((configId) => ({ id: newId(), taskId, configId, kind, body, attempts: 0, nextAt: now, createdAt: now }));
  const timestamp = new Date(now).toISOString();
  if ("task" in event || !current) {
    const task = "task" in event ? event.task : (taskAfter ?? taskFromUpdate(event, taskId));
    return { type: "task", task: copyOfTask(task, taskId, current?.status.state, timestamp), deliveries };
  }
  if ("statusUpdate" in event && event.statusUpdate.status) {
    return { type: "status", taskId, status: copyOfStatus(event.statusUpdate.status, current.status.state, timestamp), deliveries };
  }
  if ("artifactUpdate" in event && event.artifactUpdate.artifact) {
    const { artifact, append, lastChunk } = event.artifactUpdate;
    return { type: "artifact", taskId, artifact: { ...artifact, parts: artifact.parts ?? [] }, ...(append ? { append } : {}), ...(lastChunk ? { lastChunk } : {}), deliveries };
  }
  if ("message" in event) return { type: "message", taskId, message: event.message, deliveries };
  // An update without its status or artifact changes nothing here, but is still owed.
  return { type: "status", taskId, status: current.status, deliveries };
}

/**
 * The planner the SDK sender's store uses: the deliveries are in the record already.
 *
 * @param record The record being committed.
 * @returns Its `deliveries`, or none.
 *
 * @example A record that owes nothing
 * ```ts
 * import { carriedDeliveries } from "./sdk_plan.ts";
 * console.log(carriedDeliveries({ type: "push.done", taskId: "t1", id: "msg_1" })); // []
 * ```
 */
export function carriedDeliveries(record: TaskRecord): Delivery[] {
  return ("deliveries" in record ? record.deliveries : undefined) ?? [];
}

/** The collapse rule's name for what a delivery carries: only a progress update may be replaced. */
function kindOf(event: StreamResponse): Delivery["kind"] {
  if ("task" in event) return "task";
  if ("artifactUpdate" in event) return "artifact";
  if ("message" in event) return "message";
  const state = ("statusUpdate" in event ? event.statusUpdate.status?.state : undefined) as TaskState;
  return TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state) ? "final" : "status";
}

/** A task made from an update, for a task the sender meets first through one (and the SDK gave no task). */
function taskFromUpdate(event: StreamResponse, taskId: string): Task {
  const update = "statusUpdate" in event ? event.statusUpdate : "artifactUpdate" in event ? event.artifactUpdate : "message" in event ? event.message : undefined;
  const status = "statusUpdate" in event ? event.statusUpdate.status : undefined;
  return { id: taskId, contextId: update?.contextId ?? "", ...(status ? { status } : {}) } as Task;
}

/** The task as the journal keeps it: its id and a status with a known state and a timestamp. */
function copyOfTask(task: Task, taskId: string, stateBefore: TaskState | undefined, timestamp: string): Task {
  return { ...task, id: task.id ?? taskId, contextId: task.contextId ?? "", status: copyOfStatus(task.status, stateBefore, timestamp) };
}

function copyOfStatus(status: TaskStatus | undefined, stateBefore: TaskState | undefined, timestamp: string): TaskStatus {
  const state = TASK_STATES.has(status?.state as string) ? status!.state : (stateBefore ?? "TASK_STATE_SUBMITTED");
  return { ...status, state, timestamp: status?.timestamp ?? timestamp };
}
