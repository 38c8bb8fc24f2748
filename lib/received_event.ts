/**
 * What an accepted webhook carries, read from its verified body: the task, the kind of event, the
 * state and the progress text. Takes what A2A senders post: a v1.0 `StreamResponse`, a bare v1.0
 * Task, or v0.3 objects told apart by `kind`. Pure.
 *
 * @module
 */

import { WebhookVerificationError } from "./errors.ts";
import type { TaskState } from "./types.ts";

/** An accepted event, as `GET /events` lists it. */
export interface ReceivedEvent {
  webhookId: string;
  taskId: string;
  kind: "task" | "statusUpdate" | "artifactUpdate" | "message";
  state?: TaskState;
  /** The status message's text, e.g. "step 3/10". */
  text?: string;
  /** The status's own timestamp, as the agent set it: shows the order the agent produced events in. */
  statusTimestamp?: string;
  receivedAt: string;
  /** Redeliveries of this event seen (and ignored) after the first. */
  duplicates: number;
}

/** The bare bodies' `kind` (v0.3 spelling; a Task without one is a v1.0 Task) as a StreamResponse member. */
const BARE_KINDS = new Map<unknown, ReceivedEvent["kind"]>([
  ["task", "task"],
  ["status-update", "statusUpdate"],
  ["artifact-update", "artifactUpdate"],
  ["message", "message"],
]);

/**
 * Reads what an accepted webhook carries.
 *
 * @param webhookId Its id.
 * @param body Its verified body.
 * @param now The time it arrived, ms.
 * @returns The event.
 * @throws {WebhookVerificationError} `MALFORMED` when the body is not a StreamResponse.
 *
 * @example An SDK agent's status update
 * ```ts
 * import { describeEvent } from "./received_event.ts";
 * const body = Buffer.from('{"statusUpdate":{"taskId":"t1","contextId":"c1","status":{"state":"TASK_STATE_WORKING","timestamp":""}}}');
 * console.log(describeEvent("sha256_x", body, Date.now()).state); // "TASK_STATE_WORKING"
 * ```
 */
export function describeEvent(webhookId: string, body: Buffer, now: number): ReceivedEvent {
  let parsed: Record<string, any>;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new WebhookVerificationError("MALFORMED", "Body is not JSON");
  }
  // v1.0 senders post a StreamResponse (`{"statusUpdate": {...}}`); some post the bare Task; v0.3
  // senders post bare objects told apart by `kind` ("task", "status-update", "artifact-update").
  const wrapped = (["task", "statusUpdate", "artifactUpdate", "message"] as const).find((k) => parsed?.[k] && typeof parsed[k] === "object");
  const bare = typeof parsed === "object" && parsed !== null ? BARE_KINDS.get(parsed.kind ?? (parsed.id && parsed.status ? "task" : "")) : undefined;
  const kind = wrapped ?? bare;
  const inner = wrapped ? parsed[wrapped] : bare ? parsed : undefined;
  const taskId = inner?.taskId ?? inner?.id;
  if (!kind || typeof taskId !== "string") throw new WebhookVerificationError("MALFORMED", "Body is not an A2A StreamResponse, Task or update event");
  const event: ReceivedEvent = { webhookId, taskId, kind, receivedAt: new Date(now).toISOString(), duplicates: 0 };
  const status = inner.status;
  // v0.3 bodies spell states "completed", "input-required"...: record them as v1.0 names.
  if (status && typeof status.state === "string") {
    const state = status.state.startsWith("TASK_STATE_") ? status.state : `TASK_STATE_${status.state.toUpperCase().replaceAll("-", "_")}`;
    event.state = state as TaskState;
  }
  if (typeof status?.timestamp === "string") event.statusTimestamp = status.timestamp;
  const parts: unknown = status?.message?.parts;
  const text = Array.isArray(parts) ? parts.find((p) => typeof p?.text === "string")?.text : undefined;
  if (text) event.text = String(text).slice(0, 200);
  return event;
}
