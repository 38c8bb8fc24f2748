/**
 * The v0.3 JSON-RPC methods, served through the v1.0 agent: v0.3 params are translated in
 * (`v03.ts`), the v1.0 method runs, and its result (or each event of its stream) is translated
 * out. The server calls {@linkcode callV03} for every method {@linkcode isV03Method} accepts.
 *
 * @module
 */

import type { Agent, TaskStream } from "./agent.ts";
import type { Caller } from "./auth.ts";
import { A2AError, ERROR_CODES, invalidParams } from "./errors.ts";
import type { Message, Task, TaskPushNotificationConfig } from "./types.ts";
import { fromV03PushConfig, fromV03SendParams, fromV03State, toV03Card, toV03Event, toV03Message, toV03PushConfig, toV03Task } from "./v03.ts";
import { field, object, parseListTasksParams, parseTaskIdParams, string } from "./validate.ts";

type Obj = Record<string, unknown>;

/** The v0.3 JSON-RPC method names this agent answers. */
const V03_METHODS: ReadonlySet<string> = new Set([
  "message/send",
  "message/stream",
  "tasks/get",
  "tasks/list",
  "tasks/cancel",
  "tasks/resubscribe",
  "tasks/pushNotificationConfig/set",
  "tasks/pushNotificationConfig/get",
  "tasks/pushNotificationConfig/list",
  "tasks/pushNotificationConfig/delete",
  "agent/getAuthenticatedExtendedCard",
  "agent/authenticatedExtendedCard",
]);

/**
 * Whether a JSON-RPC method is a v0.3 one (answered in v0.3 shapes whatever `A2A-Version` says).
 *
 * @param method The method name.
 * @returns True for `message/send`, `tasks/get`, ...
 *
 * @example
 * ```ts
 * import { isV03Method } from "./v03_rpc.ts";
 * console.log(isV03Method("message/send"), isV03Method("SendMessage")); // true false
 * ```
 */
export function isV03Method(method: string): boolean {
  return V03_METHODS.has(method);
}

/**
 * Serves one v0.3 JSON-RPC method through the v1.0 agent: params in, bare v0.3 result out. A
 * streaming method returns a stream of v0.3 events (close it to stop early; the task goes on).
 *
 * @param agent The agent.
 * @param method A v0.3 method name (see {@linkcode isV03Method}).
 * @param params The request's params.
 * @param caller Who sent it (see `methods.ts`); undefined for the agent's own code.
 * @returns The v0.3 `result`, or a stream of them.
 * @throws {A2AError} As the v1.0 methods do; -32601 for any other method.
 *
 * @example Send a v0.3 message
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Agent } from "./agent.ts";
 * import { callV03 } from "./v03_rpc.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "v03-")), handler: () => {} });
 * const task = await callV03(agent, "message/send", { message: { kind: "message", messageId: "m1", role: "user", parts: [{ kind: "text", text: "hi" }] } });
 * console.log((task as { status: { state: string } }).status.state); // "completed"
 * await agent.close();
 * ```
 */
export async function callV03(agent: Agent, method: string, params: unknown, caller?: Caller): Promise<unknown> {
  switch (method) {
    case "message/send": {
      const result: { task?: Task; message?: Message } = await agent.sendMessage(fromV03SendParams(params), caller);
      return result.task ? toV03Task(result.task) : toV03Message(result.message!);
    }
    case "message/stream":
      return v03Stream(await agent.sendStreamingMessage(fromV03SendParams(params), caller));
    case "tasks/get":
      return toV03Task(await agent.getTask(parseTaskIdParams(params), caller));
    case "tasks/list": {
      const obj = params === undefined || params === null ? {} : object(params, "params");
      const status = field(obj, "status");
      const list = await agent.listTasks(parseListTasksParams({ ...obj, status: typeof status === "string" ? (fromV03State(status) ?? status) : status }), caller);
      return { ...list, tasks: list.tasks.map(toV03Task) };
    }
    case "tasks/cancel":
      return toV03Task(await agent.cancelTask(parseTaskIdParams(params), caller));
    case "tasks/resubscribe":
      return v03Stream(agent.subscribeToTask(parseTaskIdParams(params), caller));
    case "tasks/pushNotificationConfig/set": {
      requirePush(agent);
      const obj = object(params, "params");
      const taskId = string(obj, "taskId", "", { required: true })!;
      const config = fromV03PushConfig(field(obj, "pushNotificationConfig"), "pushNotificationConfig");
      return toV03PushConfig(await agent.createPushConfig({ ...config, taskId }, { protocolVersion: "0.3", caller }));
    }
    case "tasks/pushNotificationConfig/get": {
      const { taskId, configId } = configRef(agent, params);
      if (configId) return toV03PushConfig(agent.getPushConfig({ taskId, id: configId }, caller));
      // The deprecated form names only the task: a config made through v0.3 without an id has the task's id.
      const all = listAllConfigs(agent, taskId, caller);
      const found = all.find((c) => c.id === taskId) ?? all[0];
      if (!found) throw invalidParams("pushNotificationConfigId", `is required: task ${taskId} has no config with its own id`);
      return toV03PushConfig(found);
    }
    case "tasks/pushNotificationConfig/list":
      return listAllConfigs(agent, configRef(agent, params).taskId, caller).map(toV03PushConfig);
    case "tasks/pushNotificationConfig/delete": {
      const { taskId, configId } = configRef(agent, params);
      if (!configId) throw invalidParams("pushNotificationConfigId", "is required");
      await agent.deletePushConfig({ taskId, id: configId }, caller);
      return null;
    }
    case "agent/getAuthenticatedExtendedCard":
    case "agent/authenticatedExtendedCard":
      return toV03Card(agent.extendedCard());
    default:
      throw new A2AError(ERROR_CODES.METHOD_NOT_FOUND, `Method not found: ${method.slice(0, 100)}`, { method: method.slice(0, 100) });
  }
}

/** v0.3 streams carry bare v0.3 objects; the stream still ends where the v1.0 one does. */
function v03Stream(stream: TaskStream): AsyncIterable<Obj> & { close(): void } {
  return {
    close: () => stream.close(),
    async *[Symbol.asyncIterator]() {
      for await (const event of stream) yield toV03Event(event);
    },
  };
}

function requirePush(agent: Agent): void {
  if (!agent.outbox) throw new A2AError(ERROR_CODES.PUSH_NOTIFICATION_NOT_SUPPORTED, "This agent does not send push notifications");
}

/** v0.3 names the task `id` and the config `pushNotificationConfigId`. */
function configRef(agent: Agent, params: unknown): { taskId: string; configId: string | undefined } {
  requirePush(agent);
  const obj = object(params, "params");
  const taskId = string(obj, "id", "", { required: true })!;
  return { taskId, configId: string(obj, "pushNotificationConfigId", "") || undefined };
}

function listAllConfigs(agent: Agent, taskId: string, caller: Caller | undefined): TaskPushNotificationConfig[] {
  const configs: TaskPushNotificationConfig[] = [];
  let pageToken = "";
  do {
    const page = agent.listPushConfigs({ taskId, pageSize: 100, ...(pageToken ? { pageToken } : {}) }, caller);
    configs.push(...page.configs);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return configs;
}
