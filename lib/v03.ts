/**
 * A2A v0.3 at the edge: pure translations between the v0.3 wire shapes (`kind` tags, lowercase
 * states, `user`/`agent` roles, `text`/`file`/`data` parts, nested push configs, bare results,
 * `final` on the last stream event) and the v1.0 objects the rest of a2a-push speaks. The methods
 * are served in `v03_rpc.ts`. The core, the journal and the outbox never see a v0.3 shape; the
 * outbox only asks {@linkcode toV03Task} for the body of a webhook whose config was made through
 * v0.3.
 *
 * Input is read liberally (snake_case, missing `kind`, v1 role names) and then checked by the
 * same validators as v1.0 input, so a v0.3 request is refused exactly where a v1.0 one would be.
 *
 * @module
 */

import { invalidParams } from "./errors.ts";
import type { AgentCard, Artifact, Message, Part, SendMessageParams, StreamResponse, Task, TaskPushNotificationConfig, TaskState, TaskStatus } from "./types.ts";
import { INTERRUPTED_STATES, TASK_STATES, TERMINAL_STATES } from "./types.ts";
import { field, object, parseSendMessageParams } from "./validate.ts";

type Obj = Record<string, unknown>;

/**
 * A v1.0 state name in v0.3 spelling.
 *
 * @param state E.g. `TASK_STATE_INPUT_REQUIRED`.
 * @returns E.g. `input-required`; `unknown` for anything else.
 *
 * @example
 * ```ts
 * import { toV03State } from "./v03.ts";
 * console.log(toV03State("TASK_STATE_INPUT_REQUIRED")); // "input-required"
 * ```
 */
export function toV03State(state: string): string {
  return TASK_STATES.has(state) ? state.slice("TASK_STATE_".length).toLowerCase().replaceAll("_", "-") : "unknown";
}

/**
 * A v0.3 state name in v1.0 spelling; v1.0 names pass through.
 *
 * @param state E.g. `auth-required` or `TASK_STATE_AUTH_REQUIRED`.
 * @returns The v1.0 name, or undefined when it names no state.
 *
 * @example
 * ```ts
 * import { fromV03State } from "./v03.ts";
 * console.log(fromV03State("auth-required")); // "TASK_STATE_AUTH_REQUIRED"
 * ```
 */
export function fromV03State(state: string): TaskState | undefined {
  const name = state.startsWith("TASK_STATE_") ? state : `TASK_STATE_${state.toUpperCase().replaceAll("-", "_")}`;
  return TASK_STATES.has(name) ? (name as TaskState) : undefined;
}

function isPlainObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toV03Part(part: Part): Obj {
  const meta = part.metadata ? { metadata: part.metadata } : {};
  if (part.text !== undefined) return { kind: "text", text: part.text, ...meta };
  if (part.raw !== undefined || part.url !== undefined) {
    const file: Obj = part.raw !== undefined ? { bytes: part.raw } : { uri: part.url };
    if (part.filename) file.name = part.filename;
    if (part.mediaType) file.mimeType = part.mediaType;
    return { kind: "file", file, ...meta };
  }
  // v0.3 data parts hold objects only; v1.0 allows any JSON value.
  return { kind: "data", data: isPlainObject(part.data) ? part.data : { value: part.data ?? null }, ...meta };
}

function fromV03Part(value: unknown, path: string): Obj {
  if (!isPlainObject(value)) return value as Obj; // parseMessage names the error.
  const { kind: _kind, file, ...rest } = value;
  if (file === undefined) return rest; // text and data parts have the same fields in both versions.
  const f = object(file, `${path}.file`);
  const bytes = field(f, "bytes") ?? field(f, "data"); // The v0.3 spec's own example spells it `data`.
  const uri = field(f, "uri");
  if ((bytes === undefined) === (uri === undefined)) throw invalidParams(`${path}.file`, "must have exactly one of bytes, uri");
  const part: Obj = { ...rest, ...(bytes !== undefined ? { raw: bytes } : { url: uri }) };
  if (field(f, "name") !== undefined) part.filename = field(f, "name");
  if (field(f, "mimeType") !== undefined) part.mediaType = field(f, "mimeType");
  return part;
}

/**
 * A v1.0 message in v0.3 shape.
 *
 * @param message The message.
 * @returns `{kind: "message", role: "user" | "agent", parts: [{kind, ...}], ...}`.
 *
 * @example
 * ```ts
 * import { toV03Message } from "./v03.ts";
 * const m = toV03Message({ messageId: "m1", role: "ROLE_AGENT", parts: [{ text: "hi" }] });
 * console.log(m.role, m.parts); // "agent" [{ kind: "text", text: "hi" }]
 * ```
 */
export function toV03Message(message: Message): Obj & { role: string; parts: Obj[] } {
  const out: Obj & { role: string; parts: Obj[] } = {
    kind: "message",
    messageId: message.messageId,
    role: message.role === "ROLE_AGENT" ? "agent" : "user",
    parts: message.parts.map(toV03Part),
  };
  for (const name of ["contextId", "taskId", "metadata", "extensions", "referenceTaskIds"] as const) {
    if (message[name] !== undefined) out[name] = message[name];
  }
  return out;
}

/**
 * A v0.3 message in v1.0 shape, not yet validated (pass it to `parseMessage`).
 *
 * @param value The message from the wire.
 * @param path Its name in errors. @default "message"
 * @returns The message with v1.0 roles and parts.
 * @throws {A2AError} -32602 for a role or file part v0.3 does not allow.
 *
 * @example
 * ```ts
 * import { fromV03Message } from "./v03.ts";
 * const m = fromV03Message({ kind: "message", messageId: "m1", role: "user", parts: [{ kind: "text", text: "hi" }] });
 * console.log(m.role); // "ROLE_USER"
 * ```
 */
export function fromV03Message(value: unknown, path = "message"): Obj {
  const obj = object(value, path);
  const { kind: _kind, ...rest } = obj;
  const role = field(obj, "role");
  const roles: Record<string, string> = { user: "ROLE_USER", agent: "ROLE_AGENT", ROLE_USER: "ROLE_USER", ROLE_AGENT: "ROLE_AGENT" };
  if (typeof role !== "string" || !(role in roles)) throw invalidParams(`${path}.role`, 'must be "user" or "agent"');
  const parts = field(obj, "parts");
  return { ...rest, role: roles[role], parts: Array.isArray(parts) ? parts.map((p, i) => fromV03Part(p, `${path}.parts[${i}]`)) : parts };
}

function toV03Status(status: TaskStatus): Obj {
  const out: Obj = { state: toV03State(status.state) };
  if (status.message) out.message = toV03Message(status.message);
  if (status.timestamp) out.timestamp = status.timestamp;
  return out;
}

function toV03Artifact(artifact: Artifact): Obj {
  return { ...artifact, parts: artifact.parts.map(toV03Part) };
}

/**
 * A v1.0 task in v0.3 shape: the `message/send` result and the v0.3 webhook body.
 *
 * @param task The task.
 * @returns `{kind: "task", id, contextId, status: {state: "completed", ...}, ...}`.
 *
 * @example
 * ```ts
 * import { toV03Task } from "./v03.ts";
 * const t = toV03Task({ id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING", timestamp: "2025-01-01T00:00:00Z" } });
 * console.log(t.kind, (t.status as { state: string }).state); // "task" "working"
 * ```
 */
export function toV03Task(task: Task): Obj {
  const out: Obj = { kind: "task", id: task.id, contextId: task.contextId, status: toV03Status(task.status) };
  if (task.artifacts) out.artifacts = task.artifacts.map(toV03Artifact);
  if (task.history) out.history = task.history.map(toV03Message);
  if (task.metadata) out.metadata = task.metadata;
  return out;
}

/**
 * A v1.0 stream event in v0.3 shape. A status update carries `final: true` when it ends the
 * stream (a terminal or interrupted state), as v0.3 clients stop reading on it.
 *
 * @param event A `StreamResponse`.
 * @returns The bare v0.3 Task, Message, `status-update` or `artifact-update`.
 *
 * @example
 * ```ts
 * import { toV03Event } from "./v03.ts";
 * const status = { state: "TASK_STATE_COMPLETED" as const, timestamp: "2025-01-01T00:00:00Z" };
 * console.log(toV03Event({ statusUpdate: { taskId: "t1", contextId: "c1", status } }).final); // true
 * ```
 */
export function toV03Event(event: StreamResponse): Obj {
  if ("task" in event) return toV03Task(event.task);
  if ("message" in event) return toV03Message(event.message);
  if ("statusUpdate" in event) {
    const { taskId, contextId, status, metadata } = event.statusUpdate;
    const final = TERMINAL_STATES.has(status.state) || INTERRUPTED_STATES.has(status.state);
    return { kind: "status-update", taskId, contextId, status: toV03Status(status), final, ...(metadata ? { metadata } : {}) };
  }
  // The v0.3 examples always spell out both flags; v1.0 leaves false ones out.
  const { artifact, append = false, lastChunk = false, ...rest } = event.artifactUpdate;
  return { kind: "artifact-update", ...rest, artifact: toV03Artifact(artifact), append, lastChunk };
}

/**
 * A v1.0 push config (as Get/Create return it) in v0.3 shape.
 *
 * @param config The config, credentials already removed.
 * @returns `{taskId, pushNotificationConfig: {id, url, token?, authentication?: {schemes}}}`.
 *
 * @example
 * ```ts
 * import { toV03PushConfig } from "./v03.ts";
 * console.log(toV03PushConfig({ id: "c1", taskId: "t1", url: "https://example.com/hook" }).pushNotificationConfig);
 * ```
 */
export function toV03PushConfig(config: TaskPushNotificationConfig): { taskId: string; pushNotificationConfig: Obj } {
  const inner: Obj = { id: config.id, url: config.url };
  if (config.token) inner.token = config.token;
  if (config.authentication) inner.authentication = { schemes: [config.authentication.scheme] };
  return { taskId: config.taskId ?? "", pushNotificationConfig: inner };
}

/**
 * A v0.3 `PushNotificationConfig` in v1.0 shape, not yet validated (the agent checks it). v0.3
 * lists `schemes` the webhook accepts; only with `credentials` does that name an `Authorization`
 * to send. Without them the agent authenticates itself, with its signed JWT as a Bearer token.
 *
 * @param value The config from the wire.
 * @param path Its name in errors.
 * @returns `{id?, url, token?, authentication?: {scheme, credentials}}`.
 * @throws {A2AError} -32602 if it is not an object or `schemes` is malformed.
 *
 * @example
 * ```ts
 * import { fromV03PushConfig } from "./v03.ts";
 * const c = fromV03PushConfig({ url: "https://example.com/hook", authentication: { schemes: ["Bearer"], credentials: "x" } }, "config");
 * console.log(c.authentication); // { scheme: "Bearer", credentials: "x" }
 * ```
 */
export function fromV03PushConfig(value: unknown, path: string): Obj {
  const { authentication: auth, ...out } = object(value, path);
  if (auth === undefined || auth === null) return out;
  const a = object(auth, `${path}.authentication`);
  const schemes = field(a, "schemes") ?? (field(a, "scheme") === undefined ? undefined : [field(a, "scheme")]);
  if (!Array.isArray(schemes) || typeof schemes[0] !== "string") throw invalidParams(`${path}.authentication.schemes`, "must be a non-empty array of scheme names");
  const credentials = field(a, "credentials");
  if (credentials !== undefined && credentials !== null && credentials !== "") out.authentication = { scheme: schemes[0], credentials };
  return out;
}

/**
 * Checks v0.3 `message/send` / `message/stream` params and returns them as v1.0 params, marked
 * so that an inline push config gets v0.3 webhook bodies. `blocking: false` is
 * `returnImmediately: true`; anything else blocks, as v0.3 servers did by default.
 *
 * @param params The request's params.
 * @returns Validated v1.0 params with `protocolVersion: "0.3"`.
 * @throws {A2AError} -32602 naming the field.
 *
 * @example
 * ```ts
 * import { fromV03SendParams } from "./v03.ts";
 * const p = fromV03SendParams({ message: { kind: "message", messageId: "m1", role: "user", parts: [{ kind: "data", data: { steps: 0 } }] }, configuration: { blocking: false } });
 * console.log(p.configuration?.returnImmediately); // true
 * ```
 */
export function fromV03SendParams(params: unknown): SendMessageParams {
  const obj = object(params, "params");
  const v1: Obj = { message: fromV03Message(field(obj, "message")) };
  const configuration = field(obj, "configuration");
  if (configuration !== undefined && configuration !== null) {
    const c = object(configuration, "configuration");
    const out: Obj = { acceptedOutputModes: field(c, "acceptedOutputModes"), historyLength: field(c, "historyLength") };
    const blocking = field(c, "blocking");
    if (blocking !== undefined && blocking !== null) {
      if (typeof blocking !== "boolean") throw invalidParams("configuration.blocking", "must be a boolean");
      out.returnImmediately = !blocking;
    }
    const push = field(c, "pushNotificationConfig");
    if (push !== undefined && push !== null) out.taskPushNotificationConfig = fromV03PushConfig(push, "configuration.pushNotificationConfig");
    v1.configuration = out;
  }
  v1.metadata = field(obj, "metadata");
  return { ...parseSendMessageParams(v1), protocolVersion: "0.3" };
}

/**
 * The agent card with the v0.3 fields beside the v1.0 ones (`protocolVersion`, `url`,
 * `preferredTransport`, `additionalInterfaces`), so v0.3 clients can read it too; v1.0 clients
 * read `supportedInterfaces`. Only the JSON-RPC interface is offered to v0.3 clients: the
 * HTTP+JSON binding here speaks v1.0 only.
 *
 * @param card The v1.0 card.
 * @returns The union card.
 *
 * @example
 * ```ts
 * import { toV03Card } from "./v03.ts";
 * const card = toV03Card({ name: "a", description: "d", version: "1", capabilities: {}, defaultInputModes: [], defaultOutputModes: [], skills: [],
 *   supportedInterfaces: [{ url: "http://127.0.0.1:8001/", protocolBinding: "JSONRPC", protocolVersion: "1.0" }] });
 * console.log(card.url); // "http://127.0.0.1:8001/"
 * ```
 */
export function toV03Card(card: AgentCard): AgentCard & Obj {
  const jsonRpc = card.supportedInterfaces.filter((i) => i.protocolBinding === "JSONRPC");
  const preferred = jsonRpc.find((i) => i.protocolVersion.startsWith("0.3")) ?? jsonRpc[0];
  return {
    ...card,
    protocolVersion: "0.3.0",
    url: preferred?.url ?? "",
    preferredTransport: "JSONRPC",
    additionalInterfaces: preferred ? [{ url: preferred.url, transport: "JSONRPC" }] : [],
    ...(card.capabilities.extendedAgentCard ? { supportsAuthenticatedExtendedCard: true } : {}),
  };
}
