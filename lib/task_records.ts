/**
 * The journal records of an agent, typed, and what a task change does to a task (`applyToTask`) or
 * to a map of stored tasks (`applyRecord`). Pure: no I/O, no state beyond what a change is applied
 * to. `task_store.ts` applies these to its tasks; `plan.ts` applies one to a copy to see a task as
 * a webhook will carry it.
 *
 * A task change (`task`, `status`, `message`, `artifact`, `checkpoint`) and a push-config change
 * (`push.config`, `push.config.deleted`) may carry the deliveries it owes, so a notification is
 * durable in the same record as the change it announces. The outbox's own records say what became
 * of a delivery (`push.attempt`, `push.done`, `push.dead`, `push.replay`, `push.purged`), and a
 * compaction writes each live delivery as a `push.delivery`. A `push.endpoint` record says an
 * endpoint started failing, recovered, was disabled or enabled (`endpoint_health.ts`); its
 * `taskId` is `endpoint:` and the endpoint, since storage keys every record by what it is about.
 *
 * @module
 */

import { FrozenTask } from "./frozen_task.ts";
import type { Delivery } from "./plan.ts";
import type { StoredPushConfig } from "./push_config.ts";
import type { Artifact, Message, StreamResponse, Task, TaskArtifactUpdateEvent, TaskState, TaskStatus } from "./types.ts";

/** What every record that owes notifications may carry. */
interface Owes {
  /** The deliveries the change owes, one per push config of the task. */
  deliveries?: Delivery[];
  /** Journals written before deliveries collapsed at apply time named the ones a record replaced. */
  supersedes?: string[];
}

/** A change to a task, or to its push configs. */
export type TaskChangeRecord =
  | { type: "task"; task: Task; checkpoint?: unknown; pushConfigs?: StoredPushConfig[]; principal?: string; tenant?: string } & Owes
  | { type: "status"; taskId: string; status: TaskStatus; checkpoint?: unknown } & Owes
  | { type: "message"; taskId: string; message: Message; status?: TaskStatus; pushConfigs?: StoredPushConfig[] } & Owes
  | { type: "artifact"; taskId: string; artifact: Artifact; append?: boolean; lastChunk?: boolean } & Owes
  | { type: "checkpoint"; taskId: string; checkpoint: unknown }
  | { type: "push.config"; taskId: string; config: StoredPushConfig } & Owes
  | { type: "push.config.deleted"; taskId: string; id: string; reason: string };

/** What became of one delivery (`id` is its `webhook-id`). */
export type DeliveryRecord =
  | { type: "push.attempt"; taskId: string; id: string; attempts: number; nextAt: number; error?: string }
  | { type: "push.done"; taskId: string; id: string }
  | { type: "push.dead"; taskId: string; id: string; attempts: number; error?: string }
  | { type: "push.replay"; taskId: string; id: string; nextAt: number }
  | { type: "push.purged"; taskId: string; id: string }
  | { type: "push.delivery"; taskId: string; delivery: Delivery; dead?: boolean }
  | EndpointRecord;

/** What must survive a restart of one endpoint's health: failing since when, disabled or not (see `endpoint_health.ts`). */
export interface EndpointRecord {
  type: "push.endpoint";
  /** `endpoint:` and the endpoint: the key storage files the record under. */
  taskId: string;
  /** Scheme, host, port and path. */
  endpoint: string;
  /** Since when every attempt failed, ms; absent: it answers. */
  failingSince?: number;
  /** When it was disabled, ms; absent: enabled. */
  disabledAt?: number;
  /** Why it was disabled. */
  reason?: string;
}

/** Any record an agent journals. */
export type TaskRecord = TaskChangeRecord | DeliveryRecord;

/** The record types that change a task's own fields. */
export const TASK_FIELD_TYPES: ReadonlySet<string> = new Set(["task", "status", "message", "artifact", "checkpoint"]);

/**
 * Applies a change to a task object (status, history, artifacts). Records that do not change the
 * task's fields (`checkpoint`, push records) leave it as it is.
 *
 * @param task The task; changed in place.
 * @param record The change.
 * @returns The same task.
 *
 * @example
 * ```ts
 * import { applyToTask } from "./task_records.ts";
 * const task = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING" as const, timestamp: "" } };
 * applyToTask(task, { type: "status", taskId: "t1", status: { state: "TASK_STATE_COMPLETED", timestamp: "" } });
 * console.log(task.status.state); // "TASK_STATE_COMPLETED"
 * ```
 */
export function applyToTask(task: Task, record: TaskRecord): Task {
  switch (record.type) {
    case "status":
      task.status = record.status;
      if (record.status.message) (task.history ??= []).push(record.status.message);
      break;
    case "message":
      (task.history ??= []).push(record.message);
      if (record.status) task.status = record.status;
      break;
    case "artifact":
      mergeArtifact(task, record.artifact, record.append === true);
      break;
  }
  return task;
}

function mergeArtifact(task: Task, artifact: Artifact, append: boolean): void {
  const artifacts = (task.artifacts ??= []);
  const index = artifacts.findIndex((a) => a.artifactId === artifact.artifactId);
  if (index === -1) artifacts.push(structuredClone(artifact));
  else if (append) artifacts[index] = { ...artifacts[index]!, parts: [...artifacts[index]!.parts, ...artifact.parts] };
  else artifacts[index] = structuredClone(artifact);
}

/**
 * A record as the stream event a client sees, for the records that are one.
 *
 * @param record The record.
 * @param ids The task's `id` and `contextId`.
 * @returns The event, or undefined (a checkpoint, a push record, a message without a status).
 *
 * @example
 * ```ts
 * import { toEvent } from "./task_records.ts";
 * const status = { state: "TASK_STATE_WORKING" as const, timestamp: "" };
 * console.log(toEvent({ type: "status", taskId: "t1", status }, { id: "t1", contextId: "c1" }));
 * ```
 */
export function toEvent(record: TaskRecord, ids: { id: string; contextId: string }): StreamResponse | undefined {
  const { id: taskId, contextId } = ids;
  switch (record.type) {
    case "task":
      return { task: record.task };
    case "status":
      return { statusUpdate: { taskId, contextId, status: record.status } };
    case "message":
      return record.status ? { statusUpdate: { taskId, contextId, status: record.status } } : undefined;
    case "artifact": {
      const update: TaskArtifactUpdateEvent = { taskId, contextId, artifact: record.artifact };
      if (record.append) update.append = true;
      if (record.lastChunk) update.lastChunk = true;
      return { artifactUpdate: update };
    }
    default:
      return undefined;
  }
}

/**
 * The store's view of one task. A running task is a live object (`task` is the store's own: copy
 * it before handing it out); a finished task is frozen to its JSON text, and `task` parses a fresh
 * copy each time. `id`, `contextId`, `state` and `timestamp` cost nothing either way.
 */
export interface StoredTask {
  readonly id: string;
  readonly contextId: string;
  readonly state: TaskState;
  readonly timestamp: string;
  readonly task: Task;
  readonly checkpoint: unknown;
  /** Who made it (`access.ts`); undefined when authentication was off. */
  readonly principal?: string;
  /** The tenant it was made in, if any. */
  readonly tenant?: string;
}

/** A task that can still change: the whole object, and the handler's checkpoint. */
export class LiveTask implements StoredTask {
  task: Task;
  checkpoint: unknown;
  readonly principal?: string;
  readonly tenant?: string;
  constructor(task: Task, checkpoint: unknown, owner: { principal?: string; tenant?: string } = {}) {
    this.task = task;
    this.checkpoint = checkpoint;
    if (owner.principal !== undefined) this.principal = owner.principal;
    if (owner.tenant !== undefined) this.tenant = owner.tenant;
  }
  get id(): string {
    return this.task.id;
  }
  get contextId(): string {
    return this.task.contextId;
  }
  get state(): TaskState {
    return this.task.status.state;
  }
  get timestamp(): string {
    return this.task.status.timestamp;
  }
}

/**
 * Applies one task record to a map of tasks. Pure but for the map it changes.
 *
 * @param tasks The tasks, by id.
 * @param record A record that changes a task's fields (`task`, `status`, `message`, `artifact`, `checkpoint`).
 * @returns The changed task.
 * @throws {Error} If the record names a task that does not exist (a damaged journal).
 */
export function applyRecord(tasks: Map<string, StoredTask>, record: TaskRecord): StoredTask {
  if (record.type === "task") {
    const stored = new LiveTask(record.task, record.checkpoint, record);
    tasks.set(record.task.id, stored);
    return stored;
  }
  const found = tasks.get(record.taskId);
  if (!found) throw new Error(`Journal record ${record.type} names unknown task ${record.taskId}`);
  if (found instanceof FrozenTask && found.json === undefined) {
    throw new Error(`Journal record ${record.type} changes task ${record.taskId} after it finished`);
  }
  // A frozen task takes no changes in a healthy journal; thaw it rather than lose one.
  const stored = found instanceof LiveTask ? found : new LiveTask(found.task, undefined, found);
  if (stored !== found) tasks.set(record.taskId, stored);
  applyToTask(stored.task, record);
  if ((record.type === "status" || record.type === "checkpoint") && record.checkpoint !== undefined) stored.checkpoint = record.checkpoint;
  return stored;
}
