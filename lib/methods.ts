/**
 * The A2A v1.0 methods by name: the one switch from a method and its params to an agent call, with
 * the params checked on the way. Both bindings end here: JSON-RPC names the method in the body,
 * HTTP+JSON in the path and verb (`http_json_routes.ts` turns those into the same params).
 *
 * @module
 */

import type { Agent } from "./agent.ts";
import { A2AError, ERROR_CODES } from "./errors.ts";
import { parseListTasksParams, parseSendMessageParams, parseTaskIdParams } from "./validate.ts";

/**
 * Calls one A2A v1.0 method on the agent.
 *
 * @param agent The agent.
 * @param method The method's name, e.g. `GetTask`.
 * @param params Its params, as a client sent them.
 * @returns The method's result (a stream for the streaming methods).
 * @throws {A2AError} -32601 for an unknown method, -32602 for bad params, and what the agent throws.
 *
 * @example
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Agent } from "./agent.ts";
 * import { callMethod } from "./methods.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "m-")), handler: () => {} });
 * await callMethod(agent, "GetTask", { id: "nope" }).catch((error) => console.log(error.code)); // -32001
 * await agent.close();
 * ```
 */
export async function callMethod(agent: Agent, method: string, params: unknown): Promise<unknown> {
  switch (method) {
    case "SendMessage":
      return agent.sendMessage(parseSendMessageParams(params));
    case "SendStreamingMessage":
      return agent.sendStreamingMessage(parseSendMessageParams(params));
    case "GetTask":
      return agent.getTask(parseTaskIdParams(params));
    case "ListTasks":
      return agent.listTasks(parseListTasksParams(params));
    case "CancelTask":
      return agent.cancelTask(parseTaskIdParams(params));
    case "SubscribeToTask":
      return agent.subscribeToTask(parseTaskIdParams(params));
    case "GetExtendedAgentCard":
      return agent.extendedCard();
    case "CreateTaskPushNotificationConfig":
      return agent.createPushConfig(params);
    case "GetTaskPushNotificationConfig":
      return agent.getPushConfig(params);
    case "ListTaskPushNotificationConfigs":
      return agent.listPushConfigs(params);
    case "DeleteTaskPushNotificationConfig":
      return agent.deletePushConfig(params);
    default:
      throw new A2AError(ERROR_CODES.METHOD_NOT_FOUND, `Method not found: ${method.slice(0, 100)}`, { method: method.slice(0, 100) });
  }
}
