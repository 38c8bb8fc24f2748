/**
 * Turns untrusted JSON-RPC params into typed values, or refuses them with -32602 naming the
 * offending field. Pure: values in, values out. Unknown fields are ignored; each field is also
 * accepted in its snake_case spelling, as ProtoJSON parsers do.
 *
 * @module
 */

import { invalidParams } from "./errors.ts";
import type { ListTasksParams, Message, Part, SendMessageParams, TaskState } from "./types.ts";
import { TASK_STATES } from "./types.ts";

type Obj = Record<string, unknown>;

/** Longest id (task, context, message, artifact, config) accepted. */
export const MAX_ID_LENGTH = 256;

/**
 * Deepest nesting accepted in free-form JSON (`data`, `metadata`), protobuf's default recursion
 * limit. `JSON.parse` takes any depth, but journaling (`JSON.stringify`) recurses and overflows the
 * stack near 10,000 levels.
 */
export const MAX_JSON_DEPTH = 100;

/** snake_case spellings of the camelCase field names asked for: a fixed set, computed once each. */
const SNAKE = new Map<string, string>();

function snake(name: string): string {
  let spelled = SNAKE.get(name);
  if (spelled === undefined) SNAKE.set(name, (spelled = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
  return spelled;
}

/**
 * A field by its camelCase name or its snake_case spelling.
 *
 * @param obj The object.
 * @param name The camelCase name.
 * @returns The value, or undefined.
 */
export function field(obj: Obj, name: string): unknown {
  return name in obj ? obj[name] : obj[snake(name)];
}

/**
 * Checks that `value` is a plain JSON object.
 *
 * @param value Anything.
 * @param path Its name in errors.
 * @returns The object.
 * @throws {A2AError} -32602 if it is not one.
 */
export function object(value: unknown, path: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidParams(path, "must be an object");
  return value as Obj;
}

/**
 * An optional string field.
 *
 * @param obj The object.
 * @param name The field.
 * @param path The object's path, for errors.
 * @param options `required`, `maxLength` (default 256 for ids; pass Infinity for text).
 * @returns The string, or undefined.
 * @throws {A2AError} -32602 naming the field.
 */
export function string(obj: Obj, name: string, path: string, options: { required?: boolean; maxLength?: number } = {}): string | undefined {
  const { required = false, maxLength = MAX_ID_LENGTH } = options;
  const value = field(obj, name);
  if (value === undefined || value === null) {
    if (required) throw invalidParams(`${path}${name}`, "is required");
    return undefined;
  }
  if (typeof value !== "string") throw invalidParams(`${path}${name}`, "must be a string");
  if (required && value.length === 0) throw invalidParams(`${path}${name}`, "must not be empty");
  if (value.length > maxLength) throw invalidParams(`${path}${name}`, `must be at most ${maxLength} characters`);
  return value;
}

/**
 * An optional non-negative integer field.
 *
 * @param obj The object.
 * @param name The field.
 * @param path The object's path, for errors.
 * @param options `min`, `max`.
 * @returns The number, or undefined.
 * @throws {A2AError} -32602 naming the field.
 */
export function integer(obj: Obj, name: string, path: string, options: { min?: number; max?: number } = {}): number | undefined {
  const { min = 0, max = 2 ** 31 - 1 } = options;
  const value = field(obj, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) throw invalidParams(`${path}${name}`, "must be an integer");
  if (value < min || value > max) throw invalidParams(`${path}${name}`, `must be between ${min} and ${max}`);
  return value;
}

function boolean(obj: Obj, name: string, path: string): boolean | undefined {
  const value = field(obj, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalidParams(`${path}${name}`, "must be a boolean");
  return value;
}

function metadata(obj: Obj, path: string): Record<string, unknown> | undefined {
  const value = field(obj, "metadata");
  if (value === undefined || value === null) return undefined;
  return shallow(object(value, `${path}metadata`), `${path}metadata`);
}

/** Refuses JSON nested deeper than {@linkcode MAX_JSON_DEPTH}; a loop, so any depth is safe to check. */
function shallow<T>(value: T, path: string): T {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth > MAX_JSON_DEPTH) throw invalidParams(path, `must be nested at most ${MAX_JSON_DEPTH} levels deep`);
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return value;
}

function stringArray(obj: Obj, name: string, path: string): string[] | undefined {
  const value = field(obj, name);
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw invalidParams(`${path}${name}`, "must be an array of strings");
  return value as string[];
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Checks one message part: exactly one of `text`, `raw`, `url`, `data`.
 *
 * @param value The part.
 * @param path Its name in errors.
 * @returns The part.
 * @throws {A2AError} -32602 naming the field.
 */
export function parsePart(value: unknown, path: string): Part {
  const obj = object(value, path);
  const part: Part = {};
  for (const kind of ["text", "raw", "url"]) if (field(obj, kind) === null) throw invalidParams(`${path}.${kind}`, "must be a string, not null");
  const kinds = ["text", "raw", "url", "data"].filter((k) => field(obj, k) !== undefined);
  if (kinds.length !== 1) throw invalidParams(path, "must have exactly one of text, raw, url, data");
  const text = string(obj, "text", `${path}.`, { maxLength: Infinity });
  if (text !== undefined) part.text = text;
  const raw = string(obj, "raw", `${path}.`, { maxLength: Infinity });
  if (raw !== undefined) {
    if (!BASE64.test(raw)) throw invalidParams(`${path}.raw`, "must be base64");
    part.raw = raw;
  }
  const url = string(obj, "url", `${path}.`, { maxLength: 8192 });
  if (url !== undefined) part.url = url;
  if (kinds[0] === "data") part.data = shallow(field(obj, "data"), `${path}.data`);
  const meta = metadata(obj, `${path}.`);
  if (meta) part.metadata = meta;
  const filename = string(obj, "filename", `${path}.`, { maxLength: 1024 });
  if (filename !== undefined) part.filename = filename;
  const mediaType = string(obj, "mediaType", `${path}.`);
  if (mediaType !== undefined) part.mediaType = mediaType;
  return part;
}

/**
 * Checks a message from a client.
 *
 * @param value The message.
 * @param path Its name in errors. @default "message"
 * @returns The message, with only the known fields.
 * @throws {A2AError} -32602 naming the field.
 */
export function parseMessage(value: unknown, path = "message"): Message {
  const obj = object(value, path);
  const messageId = string(obj, "messageId", `${path}.`, { required: true })!;
  const role = field(obj, "role");
  if (role !== "ROLE_USER" && role !== "ROLE_AGENT") throw invalidParams(`${path}.role`, 'must be "ROLE_USER" or "ROLE_AGENT"');
  const parts = field(obj, "parts");
  if (!Array.isArray(parts) || parts.length === 0) throw invalidParams(`${path}.parts`, "must be a non-empty array");
  if (parts.length > 1000) throw invalidParams(`${path}.parts`, "must have at most 1000 parts");
  const message: Message = { messageId, role, parts: parts.map((p, i) => parsePart(p, `${path}.parts[${i}]`)) };
  const contextId = string(obj, "contextId", `${path}.`);
  if (contextId) message.contextId = contextId;
  const taskId = string(obj, "taskId", `${path}.`);
  if (taskId) message.taskId = taskId;
  const meta = metadata(obj, `${path}.`);
  if (meta) message.metadata = meta;
  const extensions = stringArray(obj, "extensions", `${path}.`);
  if (extensions) message.extensions = extensions;
  const references = stringArray(obj, "referenceTaskIds", `${path}.`);
  if (references) message.referenceTaskIds = references;
  return message;
}

/**
 * Checks `SendMessage` / `SendStreamingMessage` params. The push config, if any, is passed
 * through as it came: the push module checks it.
 *
 * @param params The request's params.
 * @returns Typed params.
 * @throws {A2AError} -32602 naming the field.
 */
export function parseSendMessageParams(params: unknown): SendMessageParams {
  const obj = object(params, "params");
  const result: SendMessageParams = { message: parseMessage(field(obj, "message")) };
  const configuration = field(obj, "configuration");
  if (configuration !== undefined && configuration !== null) {
    const c = object(configuration, "configuration");
    result.configuration = {};
    const modes = stringArray(c, "acceptedOutputModes", "configuration.");
    if (modes) result.configuration.acceptedOutputModes = modes;
    const historyLength = integer(c, "historyLength", "configuration.");
    if (historyLength !== undefined) result.configuration.historyLength = historyLength;
    const returnImmediately = boolean(c, "returnImmediately", "configuration.");
    if (returnImmediately !== undefined) result.configuration.returnImmediately = returnImmediately;
    const push = field(c, "taskPushNotificationConfig") ?? field(c, "pushNotificationConfig");
    if (push !== undefined && push !== null) {
      result.configuration.taskPushNotificationConfig = object(push, "configuration.taskPushNotificationConfig") as never;
    }
  }
  const meta = metadata(obj, "");
  if (meta) result.metadata = meta;
  return result;
}

/**
 * Checks params that name one task: `GetTask`, `CancelTask`, `SubscribeToTask`.
 *
 * @param params The request's params.
 * @returns The id and, for `GetTask`, `historyLength`.
 * @throws {A2AError} -32602 naming the field.
 */
export function parseTaskIdParams(params: unknown): { id: string; historyLength?: number } {
  const obj = object(params, "params");
  const id = string(obj, "id", "", { required: true })!;
  const historyLength = integer(obj, "historyLength", "");
  return historyLength === undefined ? { id } : { id, historyLength };
}

/**
 * Checks `ListTasks` params.
 *
 * @param params The request's params (may be absent).
 * @returns Typed params.
 * @throws {A2AError} -32602 naming the field.
 */
export function parseListTasksParams(params: unknown): ListTasksParams {
  const obj = params === undefined || params === null ? {} : object(params, "params");
  const result: ListTasksParams = {};
  const contextId = string(obj, "contextId", "");
  if (contextId) result.contextId = contextId;
  const status = field(obj, "status");
  if (status !== undefined && status !== null && status !== "" && status !== "TASK_STATE_UNSPECIFIED") {
    if (typeof status !== "string" || !TASK_STATES.has(status)) throw invalidParams("status", "must be a TASK_STATE_* name");
    result.status = status as TaskState;
  }
  const pageSize = integer(obj, "pageSize", "", { min: 1, max: 100 });
  if (pageSize !== undefined) result.pageSize = pageSize;
  const pageToken = string(obj, "pageToken", "", { maxLength: 1024 });
  if (pageToken) result.pageToken = pageToken;
  const historyLength = integer(obj, "historyLength", "");
  if (historyLength !== undefined) result.historyLength = historyLength;
  const after = string(obj, "statusTimestampAfter", "");
  if (after) {
    if (Number.isNaN(Date.parse(after))) throw invalidParams("statusTimestampAfter", "must be an ISO 8601 timestamp");
    result.statusTimestampAfter = after;
  }
  const includeArtifacts = boolean(obj, "includeArtifacts", "");
  if (includeArtifacts !== undefined) result.includeArtifacts = includeArtifacts;
  return result;
}
