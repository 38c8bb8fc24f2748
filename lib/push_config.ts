/**
 * Push notification configs from clients: checked (URL through the SSRF guard, header values free
 * of CR/LF), given an id, redacted before they go back out, and the four config methods over the
 * task store (a new config is committed with its first notification, which the commit function
 * hands to the outbox). Pure but for the optional DNS resolution of the webhook host and the
 * commits.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { mayAccess } from "./access.ts";
import type { Quotas } from "./access.ts";
import type { Caller } from "./auth.ts";
import { A2AError, ERROR_CODES, SsrfError, invalidParams, taskNotFound } from "./errors.ts";
import { checkWebhookTarget } from "./ssrf.ts";
import type { ResolverFunction, SsrfOptions } from "./ssrf.ts";
import type { StoredTask, TaskChange, TaskRecord, TaskStore } from "./task_store.ts";
import type { TaskPushNotificationConfig } from "./types.ts";
import { field, integer, object, string } from "./validate.ts";

/** A config as the agent keeps it: id and taskId always set. */
export type StoredPushConfig = TaskPushNotificationConfig & {
  id: string;
  taskId: string;
  /** Made through A2A v0.3: its webhooks carry the whole v0.3 Task, not a `StreamResponse`. */
  protocolVersion?: "0.3";
  /** The authenticated caller who made the config; undefined when authentication is off. */
  principal?: string;
};

/** Who asks (see `access.ts`), and the quotas a new config counts against. */
export interface ConfigAccess {
  /** The request's caller; undefined for the agent's own code. */
  caller?: Caller;
  /** The agent's quotas. @default none */
  quotas?: Quotas;
}

/** An HTTP auth scheme name: an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Header values: visible ASCII and spaces, so nothing can end a header line or start another. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/**
 * Checks a config a client sent (in `CreateTaskPushNotificationConfig` or inline in `SendMessage`).
 *
 * @param value The config object.
 * @param options `taskId` to bind it to (wins over the config's own), `path` for errors, `ssrf`
 *   options and an injected `resolver` for the SSRF guard, `protocolVersion: "0.3"` for a config
 *   made through v0.3 (its id defaults to the task's, as v0.3 servers did).
 * @returns The config with `id` and `taskId` set.
 * @throws {A2AError} -32602 naming the field and the reason (SSRF refusals included).
 *
 * @example
 * ```ts
 * import { parsePushConfig } from "./push_config.ts";
 * const config = await parsePushConfig({ url: "http://127.0.0.1:9000/webhook" }, { taskId: "t1", ssrf: { allowPrivate: true } });
 * console.log(config.taskId); // "t1"
 * ```
 */
export async function parsePushConfig(
  value: unknown,
  options: { taskId?: string; path?: string; ssrf?: SsrfOptions; resolver?: ResolverFunction; protocolVersion?: "0.3" } = {},
): Promise<StoredPushConfig> {
  const { path = "" } = options;
  const obj = object(value, path || "params");
  const prefix = path ? `${path}.` : "";
  // v0.3 nests the config; accept that shape too.
  const inner = field(obj, "pushNotificationConfig");
  const source = inner && typeof inner === "object" ? { ...(inner as object), taskId: field(obj, "taskId") } as Record<string, unknown> : obj;
  const url = string(source, "url", prefix, { required: true, maxLength: 2048 })!;
  const taskId = options.taskId ?? string(source, "taskId", prefix, { required: true })!;
  const id = string(source, "id", prefix) || (options.protocolVersion === "0.3" ? taskId : randomUUID());
  if (!HEADER_VALUE.test(id)) throw invalidParams(`${prefix}id`, "must be printable ASCII");
  try {
    await checkWebhookTarget(url, { ...options.ssrf, resolver: options.resolver });
  } catch (error) {
    // A name with no DNS answer yet is common (a receiver still starting, a container network):
    // accept it. The guard that matters runs at every connect, on the addresses the name has then.
    if (error instanceof SsrfError && error.code !== "UNRESOLVABLE") throw invalidParams(`${prefix}url`, `is refused (${error.code}): ${error.message}`);
    if (!(error instanceof SsrfError)) throw error;
  }
  const config: StoredPushConfig = { id, taskId, url };
  const token = string(source, "token", prefix, { maxLength: 4096 });
  if (token) {
    if (!HEADER_VALUE.test(token)) throw invalidParams(`${prefix}token`, "must not contain control characters such as CR or LF");
    config.token = token;
  }
  const auth = field(source, "authentication");
  if (auth !== undefined && auth !== null) {
    const a = object(auth, `${prefix}authentication`);
    const schemes = field(a, "schemes");
    const scheme = string(a, "scheme", `${prefix}authentication.`) ?? (Array.isArray(schemes) && typeof schemes[0] === "string" ? schemes[0] : undefined);
    if (!scheme || !TOKEN.test(scheme)) throw invalidParams(`${prefix}authentication.scheme`, "must be an HTTP auth scheme name such as Bearer");
    config.authentication = { scheme };
    const credentials = string(a, "credentials", `${prefix}authentication.`, { maxLength: 8192 });
    if (credentials) {
      if (!HEADER_VALUE.test(credentials)) throw invalidParams(`${prefix}authentication.credentials`, "must not contain control characters such as CR or LF");
      config.authentication.credentials = credentials;
    }
  }
  const tenant = string(source, "tenant", prefix);
  if (tenant) config.tenant = tenant;
  if (options.protocolVersion) config.protocolVersion = options.protocolVersion;
  return config;
}

/**
 * A config as Get/List/Create return it: `authentication.credentials` and `token` never leave the
 * agent (a receiver that checks only the token would otherwise be forgeable by anyone who can read
 * the config).
 *
 * @param config The stored config.
 * @returns A copy without secrets.
 */
export function redactPushConfig(config: StoredPushConfig): TaskPushNotificationConfig {
  const copy: TaskPushNotificationConfig & { protocolVersion?: string; principal?: string } = { ...config };
  delete copy.protocolVersion; // Which webhook body the config gets: the agent's business, not a wire field.
  delete copy.principal;
  delete copy.token;
  if (config.authentication) copy.authentication = { scheme: config.authentication.scheme };
  return copy;
}

/**
 * Checks `GetTaskPushNotificationConfig` / `DeleteTaskPushNotificationConfig` params.
 *
 * @param params The request's params.
 * @returns `{taskId, id}`.
 * @throws {A2AError} -32602 naming the field.
 */
export function parseConfigRef(params: unknown): { taskId: string; id: string } {
  const obj = object(params, "params");
  const taskId = string(obj, "taskId", "", { required: true })!;
  // v0.3 calls it pushNotificationConfigId.
  const id = string(obj, "id", "") ?? string(obj, "pushNotificationConfigId", "", { required: true })!;
  if (!id) throw invalidParams("id", "is required");
  return { taskId, id };
}

/**
 * Checks `ListTaskPushNotificationConfigs` params.
 *
 * @param params The request's params.
 * @returns `{taskId, pageSize, pageToken}`.
 * @throws {A2AError} -32602 naming the field.
 */
export function parseConfigListParams(params: unknown): { taskId: string; pageSize: number; pageToken?: string } {
  const obj = object(params, "params");
  const taskId = string(obj, "taskId", "", { required: true })!;
  const pageSize = integer(obj, "pageSize", "", { min: 1, max: 100 }) ?? 50;
  const pageToken = string(obj, "pageToken", "", { maxLength: 1024 });
  return pageToken ? { taskId, pageSize, pageToken } : { taskId, pageSize };
}

/** Commits a change to a task (the agent's: the store's commit, then the outbox). */
export type Commit = (taskId: string, build: (current: StoredTask | undefined) => TaskRecord | undefined) => Promise<TaskChange | undefined>;

/**
 * `CreateTaskPushNotificationConfig`: journals the config with its first notification, the task
 * as it is now.
 *
 * @param store The task store.
 * @param commit The agent's commit.
 * @param config A checked config (see {@linkcode parsePushConfig}).
 * @returns The config, without credentials.
 * @throws {A2AError} -32001 if the task does not exist.
 */
export async function createConfig(store: Pick<TaskStore, "get" | "configs">, commit: Commit, config: StoredPushConfig, access: ConfigAccess = {}): Promise<TaskPushNotificationConfig> {
  const { caller, quotas } = access;
  if (caller?.principal !== undefined) config.principal = caller.principal;
  visibleTask(store, config.taskId, caller); // Before the commit, which reads a finished task's body from disk.
  await commit(config.taskId, (current) => {
    if (!current || !mayAccess(caller, current)) throw taskNotFound(config.taskId);
    checkNewConfig(config, current, store.configs(config.taskId), { caller, quotas });
    return { type: "push.config", taskId: config.taskId, config };
  });
  return redactPushConfig(config);
}

/**
 * `GetTaskPushNotificationConfig`.
 *
 * @param store The task store.
 * @param ref `{taskId, id}`.
 * @returns The config, without credentials.
 * @throws {A2AError} -32001 for an unknown task, or a config id the task does not have (A2A §3.1.8).
 */
export function getConfig(store: Pick<TaskStore, "get" | "config">, ref: { taskId: string; id: string }, access: ConfigAccess = {}): TaskPushNotificationConfig {
  visibleTask(store, ref.taskId, access.caller);
  const config = store.config(ref.taskId, ref.id);
  if (!config) throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${ref.taskId} has no push notification config ${ref.id}`, { taskId: ref.taskId, configId: ref.id });
  return redactPushConfig(config);
}

/**
 * `ListTaskPushNotificationConfigs`, in id order, paginated.
 *
 * @param store The task store.
 * @param params `{taskId, pageSize, pageToken?}`.
 * @returns `{configs, nextPageToken}`, without credentials.
 * @throws {A2AError} -32001 for an unknown task.
 */
export function listConfigs(
  store: Pick<TaskStore, "get" | "configs">, params: { taskId: string; pageSize: number; pageToken?: string }, access: ConfigAccess = {},
): { configs: TaskPushNotificationConfig[]; nextPageToken: string } {
  visibleTask(store, params.taskId, access.caller);
  const after = params.pageToken ? Buffer.from(params.pageToken, "base64url").toString("utf8") : "";
  // Ordered as the page token compares: by code unit, not by locale.
  const all = store.configs(params.taskId).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).filter((c) => c.id > after);
  const page = all.slice(0, params.pageSize);
  return { configs: page.map(redactPushConfig), nextPageToken: all.length > page.length ? Buffer.from(page.at(-1)!.id).toString("base64url") : "" };
}

/**
 * `DeleteTaskPushNotificationConfig`: idempotent; the outbox drops pending deliveries to it.
 *
 * @param store The task store.
 * @param commit The agent's commit.
 * @param ref `{taskId, id}`.
 * @throws {A2AError} -32001 for an unknown task.
 */
export async function deleteConfig(store: Pick<TaskStore, "get" | "config">, commit: Commit, ref: { taskId: string; id: string }, access: ConfigAccess = {}): Promise<void> {
  visibleTask(store, ref.taskId, access.caller); // Before the commit, as createConfig.
  await commit(ref.taskId, (current) => {
    if (!current || !mayAccess(access.caller, current)) throw taskNotFound(ref.taskId);
    if (!store.config(ref.taskId, ref.id)) return undefined;
    return { type: "push.config.deleted", taskId: ref.taskId, id: ref.id, reason: "deleted by the client" };
  });
}

/**
 * Checks a config about to be added to a task: it names the task's tenant or none, and the task
 * has room for it (replacing one of its configs, same id, adds none).
 *
 * @param config The new config.
 * @param task The task's owner (`tenant`).
 * @param existing The task's configs now.
 * @param access The caller and the quotas.
 * @throws {A2AError} -32602 for another tenant; -32050 when the task has its quota of configs.
 */
export function checkNewConfig(config: StoredPushConfig, task: { tenant?: string }, existing: StoredPushConfig[], access: ConfigAccess): void {
  if (config.tenant !== undefined && config.tenant !== task.tenant) throw invalidParams("tenant", "must be the tenant of the config's task");
  access.quotas?.checkConfigs(access.caller, existing.filter((c) => c.id !== config.id).length);
}

/** The task, when it exists and the caller may see it; else TaskNotFound, telling nothing more. */
function visibleTask(store: Pick<TaskStore, "get">, taskId: string, caller: Caller | undefined): StoredTask {
  const stored = store.get(taskId);
  if (!stored || !mayAccess(caller, stored)) throw taskNotFound(taskId);
  return stored;
}

