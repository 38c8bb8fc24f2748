/**
 * The objects of the official JavaScript SDK (`@a2a-js/sdk` 1.3.0) as A2A v1.0 JSON, without
 * importing the SDK. Inside, the SDK holds protobuf-generated objects: numbers for enums
 * (`TaskState.TASK_STATE_WORKING` is 2), `{$case, value}` for a oneof (a part's content, a stream
 * response's payload), a `Buffer` for raw bytes, `""` and `false` for absent fields. Its webhook
 * body is `JSON.stringify(StreamResponse.toJSON(event))`; `streamResponseJson` builds the same
 * object, field for field and in the same order, so a receiver written for the SDK's own sender
 * gets the same bytes (`tests/sdk_wire_test.ts` compares them with the SDK's serializer).
 *
 * Pure: values in, values out. The types here are the parts of the SDK's types that are read,
 * written structurally, so the SDK's objects fit them and nothing here needs the SDK at run time.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Artifact, Message, Part, StreamResponse, Task, TaskArtifactUpdateEvent, TaskStatus, TaskStatusUpdateEvent } from "./types.ts";

/** Metadata as the SDK holds it (a protobuf `Struct`: plain JSON). */
type SdkMetadata = { [key: string]: unknown } | undefined;

/** An SDK `Part`: its content is a oneof. */
export interface SdkPart {
  content?: { $case: "text"; value: string } | { $case: "raw"; value: Uint8Array } | { $case: "url"; value: string } | { $case: "data"; value: unknown } | undefined;
  metadata: SdkMetadata;
  filename: string;
  mediaType: string;
}

/** An SDK `Message`; `role` is the protobuf enum's number. */
export interface SdkMessage {
  messageId: string;
  contextId: string;
  taskId: string;
  role: number;
  parts: SdkPart[];
  metadata: SdkMetadata;
  extensions: string[];
  referenceTaskIds: string[];
}

/** An SDK `TaskStatus`; `state` is the protobuf enum's number. */
export interface SdkTaskStatus {
  state: number;
  message: SdkMessage | undefined;
  timestamp: string | undefined;
}

/** An SDK `Artifact`. */
export interface SdkArtifact {
  artifactId: string;
  name: string;
  description: string;
  parts: SdkPart[];
  metadata: SdkMetadata;
  extensions: string[];
}

/** An SDK `Task`. */
export interface SdkTask {
  id: string;
  contextId: string;
  status: SdkTaskStatus | undefined;
  artifacts: SdkArtifact[];
  history: SdkMessage[];
  metadata: SdkMetadata;
}

/** An SDK `TaskStatusUpdateEvent`. */
export interface SdkStatusUpdate {
  taskId: string;
  contextId: string;
  status: SdkTaskStatus | undefined;
  metadata: SdkMetadata;
}

/** An SDK `TaskArtifactUpdateEvent`. */
export interface SdkArtifactUpdate {
  taskId: string;
  contextId: string;
  artifact: SdkArtifact | undefined;
  append: boolean;
  lastChunk: boolean;
  metadata: SdkMetadata;
}

/** An SDK `StreamResponse`, what its request handler hands a push sender: one event. */
export interface SdkStreamResponse {
  payload?:
    | { $case: "task"; value: SdkTask }
    | { $case: "message"; value: SdkMessage }
    | { $case: "statusUpdate"; value: SdkStatusUpdate }
    | { $case: "artifactUpdate"; value: SdkArtifactUpdate }
    | undefined;
}

/** The protobuf `TaskState` numbers, as the SDK's `taskStateToJSON` names them. */
const TASK_STATE_NAMES = [
  "TASK_STATE_UNSPECIFIED",
  "TASK_STATE_SUBMITTED",
  "TASK_STATE_WORKING",
  "TASK_STATE_COMPLETED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELED",
  "TASK_STATE_INPUT_REQUIRED",
  "TASK_STATE_REJECTED",
  "TASK_STATE_AUTH_REQUIRED",
];
/** The protobuf `Role` numbers, as the SDK's `roleToJSON` names them. */
const ROLE_NAMES = ["ROLE_UNSPECIFIED", "ROLE_USER", "ROLE_AGENT"];

/**
 * The task id an SDK event is about, as the SDK's sender finds it; empty for a message that
 * belongs to no task (the SDK sends nothing for those).
 *
 * @param event The SDK's event.
 * @returns The task id, or "".
 * @throws {TypeError} If the event has no payload (the SDK's sender throws too).
 *
 * @example The task of a status update
 * ```ts
 * import { taskIdOf } from "./sdk_wire.ts";
 * const status = { state: 2, message: undefined, timestamp: undefined };
 * console.log(taskIdOf({ payload: { $case: "statusUpdate", value: { taskId: "t1", contextId: "c1", status, metadata: undefined } } })); // "t1"
 * ```
 */
export function taskIdOf(event: SdkStreamResponse): string {
  const payload = event.payload;
  if (!payload) throw new TypeError("Cannot send a push notification: the StreamResponse has no payload");
  return (payload.$case === "task" ? payload.value.id : payload.value.taskId) ?? "";
}

/**
 * An SDK event as the A2A v1.0 JSON the SDK's own sender posts (`StreamResponse.toJSON`): the same
 * members, in the same order, with the same ones left out.
 *
 * @param event The SDK's event.
 * @returns The v1.0 `StreamResponse` object; `JSON.stringify` it for the body.
 *
 * @example A completed status update as the SDK's sender posts it
 * ```ts
 * import { streamResponseJson } from "./sdk_wire.ts";
 * const status = { state: 3, message: undefined, timestamp: "2026-01-01T00:00:00Z" };
 * const event = { payload: { $case: "statusUpdate" as const, value: { taskId: "t1", contextId: "c1", status, metadata: undefined } } };
 * console.log(JSON.stringify(streamResponseJson(event)));
 * // {"statusUpdate":{"taskId":"t1","contextId":"c1","status":{"state":"TASK_STATE_COMPLETED","timestamp":"2026-01-01T00:00:00Z"}}}
 * ```
 */
export function streamResponseJson(event: SdkStreamResponse): StreamResponse {
  const payload = event.payload;
  switch (payload?.$case) {
    case "task":
      return { task: taskJson(payload.value) };
    case "message":
      return { message: messageJson(payload.value) };
    case "statusUpdate":
      return { statusUpdate: statusUpdateJson(payload.value) };
    case "artifactUpdate":
      return { artifactUpdate: artifactUpdateJson(payload.value) };
    default:
      return {} as StreamResponse; // The SDK's toJSON of an empty payload.
  }
}

// Each function below sets a member when the SDK's toJSON does (`!== ""`, `?.length`, `!== undefined`),
// so a member that is undefined is set too and then left out by JSON.stringify, as in the SDK.

/**
 * An SDK task as v1.0 JSON (see {@linkcode streamResponseJson}).
 *
 * @param task The SDK's task.
 * @returns The v1.0 Task; `status` is absent when the SDK's is.
 *
 * @example A task whose state is the protobuf number 2
 * ```ts
 * import { taskJson } from "./sdk_wire.ts";
 * const task = { id: "t1", contextId: "c1", status: { state: 2, message: undefined, timestamp: undefined }, artifacts: [], history: [], metadata: undefined };
 * console.log(taskJson(task)); // { id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING" } }
 * ```
 */
export function taskJson(task: SdkTask): Task {
  const json: Record<string, unknown> = {};
  if (task.id !== "") json.id = task.id;
  if (task.contextId !== "") json.contextId = task.contextId;
  if (task.status !== undefined) json.status = statusJson(task.status);
  if (task.artifacts?.length) json.artifacts = task.artifacts.map(artifactJson);
  if (task.history?.length) json.history = task.history.map(messageJson);
  if (task.metadata !== undefined) json.metadata = task.metadata;
  return json as unknown as Task;
}

function statusJson(status: SdkTaskStatus): TaskStatus {
  const json: Record<string, unknown> = {};
  if (status.state !== 0) json.state = TASK_STATE_NAMES[status.state] ?? "UNRECOGNIZED";
  if (status.message !== undefined) json.message = messageJson(status.message);
  if (status.timestamp !== undefined) json.timestamp = status.timestamp;
  return json as unknown as TaskStatus;
}

function messageJson(message: SdkMessage): Message {
  const json: Record<string, unknown> = {};
  if (message.messageId !== "") json.messageId = message.messageId;
  if (message.contextId !== "") json.contextId = message.contextId;
  if (message.taskId !== "") json.taskId = message.taskId;
  if (message.role !== 0) json.role = ROLE_NAMES[message.role] ?? "UNRECOGNIZED";
  if (message.parts?.length) json.parts = message.parts.map(partJson);
  if (message.metadata !== undefined) json.metadata = message.metadata;
  if (message.extensions?.length) json.extensions = message.extensions;
  if (message.referenceTaskIds?.length) json.referenceTaskIds = message.referenceTaskIds;
  return json as unknown as Message;
}

function partJson(part: SdkPart): Part {
  const json: Record<string, unknown> = {};
  const content = part.content;
  if (content?.$case === "text") json.text = content.value;
  else if (content?.$case === "raw") json.raw = Buffer.from(content.value).toString("base64");
  else if (content?.$case === "url") json.url = content.value;
  else if (content?.$case === "data") json.data = content.value;
  if (part.metadata !== undefined) json.metadata = part.metadata;
  if (part.filename !== "") json.filename = part.filename;
  if (part.mediaType !== "") json.mediaType = part.mediaType;
  return json as Part;
}

function artifactJson(artifact: SdkArtifact): Artifact {
  const json: Record<string, unknown> = {};
  if (artifact.artifactId !== "") json.artifactId = artifact.artifactId;
  if (artifact.name !== "") json.name = artifact.name;
  if (artifact.description !== "") json.description = artifact.description;
  if (artifact.parts?.length) json.parts = artifact.parts.map(partJson);
  if (artifact.metadata !== undefined) json.metadata = artifact.metadata;
  if (artifact.extensions?.length) json.extensions = artifact.extensions;
  return json as unknown as Artifact;
}

function statusUpdateJson(update: SdkStatusUpdate): TaskStatusUpdateEvent {
  const json: Record<string, unknown> = {};
  if (update.taskId !== "") json.taskId = update.taskId;
  if (update.contextId !== "") json.contextId = update.contextId;
  if (update.status !== undefined) json.status = statusJson(update.status);
  if (update.metadata !== undefined) json.metadata = update.metadata;
  return json as unknown as TaskStatusUpdateEvent;
}

function artifactUpdateJson(update: SdkArtifactUpdate): TaskArtifactUpdateEvent {
  const json: Record<string, unknown> = {};
  if (update.taskId !== "") json.taskId = update.taskId;
  if (update.contextId !== "") json.contextId = update.contextId;
  if (update.artifact !== undefined) json.artifact = artifactJson(update.artifact);
  if (update.append !== false) json.append = update.append;
  if (update.lastChunk !== false) json.lastChunk = update.lastChunk;
  if (update.metadata !== undefined) json.metadata = update.metadata;
  return json as unknown as TaskArtifactUpdateEvent;
}
