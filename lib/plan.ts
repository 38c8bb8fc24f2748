/**
 * What a change owes: the webhook deliveries one journal record asks for, one per push config of the
 * task. Pure: values in, values out. The store calls it while it builds a record, so the deliveries
 * are written in the same record as the change they announce (a transactional outbox), and nothing
 * here knows about queues, timers or HTTP: that is the outbox's business.
 *
 * A config made through A2A v0.3 gets the whole Task after the change instead of a v1.0
 * `StreamResponse`; the v0.3 shape is the protocol edge's, so it is passed in (`v03Task`).
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import type { StoredPushConfig } from "./push_config.ts";
import { applyToTask } from "./task_records.ts";
import type { TaskRecord } from "./task_records.ts";
import type { StreamResponse, Task } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";

/** One notification owed to one webhook. */
export interface Delivery {
  /** The `webhook-id`, stable across attempts. */
  id: string;
  taskId: string;
  configId: string;
  /** What it carries, for the collapse rule: only `status` (intermediate) may be replaced. `message`: the SDK sender's (`sdk_push_sender.ts`). */
  kind: "task" | "status" | "artifact" | "final" | "message";
  /** The exact body. */
  body: string;
  attempts: number;
  /** When the next attempt is due, ms since the epoch. */
  nextAt: number;
  createdAt: number;
  lastError?: string;
}

/** Options of {@linkcode planDeliveries}. */
export interface PlanOptions {
  /** The time, ms since the epoch. */
  now: number;
  /** Turns a v1.0 Task into the v0.3 one that configs made through v0.3 get. Without it they get v1.0 bodies. */
  v03Task?: (task: Task) => unknown;
  /** Makes a `webhook-id`. @default `msg_` and a random UUID's hex */
  newId?: () => string;
}

/**
 * The deliveries a record owes: a new task owes its Task to its inline configs; a new config owes
 * it the task as it is now; a status update (final when terminal or interrupted) and an artifact
 * owe an event to every config of the task.
 *
 * @param record The record about to be journaled.
 * @param before The task before the change (undefined for a new task).
 * @param configs The task's push configs before the change.
 * @param options The clock, and the v0.3 body shape.
 * @returns The deliveries, in config order; empty when the record owes none.
 *
 * @example A status update to a task with one config
 * ```ts
 * import { planDeliveries } from "./plan.ts";
 * const before = { id: "t1", contextId: "c1", status: { state: "TASK_STATE_SUBMITTED" as const, timestamp: "" } };
 * const status = { state: "TASK_STATE_WORKING" as const, timestamp: "" };
 * const [delivery] = planDeliveries({ type: "status", taskId: "t1", status }, before, [{ id: "c", taskId: "t1", url: "https://hooks.example/" }], { now: 0 });
 * console.log(delivery.kind, delivery.body); // status {"statusUpdate":{...}}
 * ```
 */
export function planDeliveries(record: TaskRecord, before: Task | undefined, configs: readonly StoredPushConfig[], options: PlanOptions): Delivery[] {
  const { now, v03Task, newId = () => `msg_${randomUUID().replaceAll("-", "")}` } = options;
  const task = record.type === "task" ? record.task : before;
  if (!task) return [];
  let event: StreamResponse;
  let kind: Delivery["kind"];
  let targets: readonly StoredPushConfig[];
  switch (record.type) {
    case "task":
      [event, kind, targets] = [{ task: viewForWebhook(task) }, "task", record.pushConfigs ?? []];
      break;
    case "push.config":
      [event, kind, targets] = [{ task: viewForWebhook(task) }, "task", [record.config]];
      break;
    case "status":
    case "message": {
      if (!record.status) return [];
      const state = record.status.state;
      const final = TERMINAL_STATES.has(state) || INTERRUPTED_STATES.has(state);
      const inline = record.type === "message" ? (record.pushConfigs ?? []) : [];
      [event, kind, targets] = [{ statusUpdate: { taskId: task.id, contextId: task.contextId, status: record.status } }, final ? "final" : "status", withInline(configs, inline)];
      break;
    }
    case "artifact": {
      const update = { taskId: task.id, contextId: task.contextId, artifact: record.artifact, ...(record.append ? { append: true } : {}), ...(record.lastChunk ? { lastChunk: true } : {}) };
      [event, kind, targets] = [{ artifactUpdate: update }, "artifact", configs];
      break;
    }
    default:
      return [];
  }
  const body = JSON.stringify(event);
  let bodyV03: string | undefined; // Made once, and only when a config was made through v0.3.
  return targets.map((config) => {
    const configBody = config.protocolVersion === "0.3" && v03Task ? (bodyV03 ??= JSON.stringify(v03Task(viewForWebhook(taskAfter(record, task))))) : body;
    return { id: newId(), taskId: task.id, configId: config.id, kind, body: configBody, attempts: 0, nextAt: now, createdAt: now };
  });
}

/** The task's configs with a message's inline ones; an inline config replaces the one with its id, as the store does. */
function withInline(configs: readonly StoredPushConfig[], inline: readonly StoredPushConfig[]): StoredPushConfig[] {
  const byId = new Map(configs.map((config) => [config.id, config]));
  for (const config of inline) byId.set(config.id, config);
  return [...byId.values()];
}

/** The task as a webhook carries it: no history, to keep bodies small; GetTask has it all. */
function viewForWebhook(task: Task): Task {
  const view: Task = { id: task.id, contextId: task.contextId, status: task.status };
  if (task.artifacts?.length) view.artifacts = task.artifacts;
  if (task.metadata) view.metadata = task.metadata;
  return view;
}

/** The task once `record` is applied, on a copy: v0.3 webhooks carry the whole task after the change. */
function taskAfter(record: TaskRecord, task: Task): Task {
  return record.type === "task" || record.type === "push.config" ? task : applyToTask(structuredClone(task), record);
}
