/**
 * What a client's message makes of a task, as a journal record: a new task (submitted, with the
 * message as its history's first entry and its caller as owner), or the message continuing a task
 * that asked for input. Pure: the rules that refuse a message (another caller's task, a context
 * that is not the task's, a task that ended or is not waiting for input) live here, and the agent
 * only journals what comes back.
 *
 * @module
 */

import { mayAccess, ownerOf } from "./access.ts";
import type { Quotas } from "./access.ts";
import type { Caller } from "./auth.ts";
import { A2AError, ERROR_CODES, invalidParams, taskNotFound } from "./errors.ts";
import { checkNewConfig } from "./push_config.ts";
import type { StoredPushConfig } from "./push_config.ts";
import type { StoredTask, TaskRecord } from "./task_records.ts";
import type { Message, Task } from "./types.ts";
import { INTERRUPTED_STATES, TERMINAL_STATES } from "./types.ts";

/** What a message brings besides itself. */
export interface MessageContext {
  /** The task's id: the message's `taskId`, or the new task's. */
  taskId: string;
  /** The request's caller; undefined for the agent's own code. */
  caller: Caller | undefined;
  /** Push configs given inline, already parsed: each must name the task's tenant and fit its quota. */
  pushConfigs: StoredPushConfig[];
  /** The task's push configs now (for the quota). @default none */
  existingConfigs?: StoredPushConfig[];
  /** The agent's quotas. @default none */
  quotas?: Quotas;
  /** The request's `metadata`, for a new task. */
  metadata?: Record<string, unknown>;
  /** When, as the status timestamp. */
  timestamp: string;
  /** A new context's id, when the message names none. */
  newContextId: () => string;
}

/**
 * The record a message makes.
 *
 * @param message The client's message.
 * @param current The task it continues, as stored now (undefined for a new task or an unknown id).
 * @param context See {@linkcode MessageContext}.
 * @returns A `task` record (new task) or a `message` record (a continuation), with the inline configs.
 * @throws {A2AError} -32001 for a task that does not exist or is another's (checked first); -32602
 *   for a context or a config tenant that is not the task's; -32004 for a task that ended or is not
 *   waiting for input; -32050 when a config would pass the task's quota.
 *
 * @example A new task
 * ```ts
 * import { messageRecord } from "./message_record.ts";
 * const message = { messageId: "m1", role: "ROLE_USER" as const, parts: [{ text: "hi" }] };
 * const record = messageRecord(message, undefined, { taskId: "t1", caller: undefined, pushConfigs: [], timestamp: "", newContextId: () => "c1" });
 * console.log(record.type); // "task"
 * ```
 */
export function messageRecord(message: Message, current: StoredTask | undefined, context: MessageContext): TaskRecord {
  const { taskId, caller, pushConfigs, metadata, timestamp, existingConfigs = [], quotas } = context;
  const withConfigs = pushConfigs.length ? { pushConfigs } : {};
  if (!message.taskId) {
    for (const config of pushConfigs) checkNewConfig(config, { tenant: caller?.tenant }, [], { caller, quotas });
    const task: Task = { id: taskId, contextId: message.contextId ?? context.newContextId(), status: { state: "TASK_STATE_SUBMITTED", timestamp }, history: [] };
    task.history!.push({ ...message, taskId, contextId: task.contextId });
    if (metadata) task.metadata = metadata;
    return { type: "task", task, ...ownerOf(caller), ...withConfigs };
  }
  if (!current || !mayAccess(caller, current)) throw taskNotFound(taskId);
  for (const config of pushConfigs) checkNewConfig(config, current, existingConfigs, { caller, quotas });
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
  return { type: "message", taskId, message: continued, status: { state: "TASK_STATE_SUBMITTED", timestamp }, ...withConfigs };
}
