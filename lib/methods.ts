/**
 * The A2A v1.0 methods by name: the one switch from a method and its params to an agent call, with
 * the params checked on the way. Both bindings end here: JSON-RPC names the method in the body,
 * HTTP+JSON in the path and verb (`http_json_routes.ts` turns those into the same params).
 *
 * @module
 */

import type { Agent } from "./agent.ts";
import type { Caller } from "./auth.ts";
import { A2AError, ERROR_CODES, invalidParams } from "./errors.ts";
import { parseListTasksParams, parseSendMessageParams, parseTaskIdParams } from "./validate.ts";

/**
 * Calls one A2A v1.0 method on the agent.
 *
 * @param agent The agent.
 * @param method The method's name, e.g. `GetTask`.
 * @param params Its params, as a client sent them.
 * @param caller Who sent the request (the server's `Authenticator`); its `tenant` is taken from
 *   the params. Undefined for the agent's own code, which sees every task.
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
export async function callMethod(agent: Agent, method: string, params: unknown, caller?: Caller): Promise<unknown> {
  const who = withTenant(caller, params);
  try {
    return await dispatch(agent, method, params, who);
  } catch (error) {
    // Replicas: a task made on another replica a moment ago may not have reached this one yet.
    if (!(error instanceof A2AError) || error.code !== ERROR_CODES.TASK_NOT_FOUND || !(await agent.catchUp())) throw error;
    return dispatch(agent, method, params, who);
  }
}

async function dispatch(agent: Agent, method: string, params: unknown, who: Caller | undefined): Promise<unknown> {
  switch (method) {
    case "SendMessage":
      return agent.sendMessage(parseSendMessageParams(params), who);
    case "SendStreamingMessage":
      return agent.sendStreamingMessage(parseSendMessageParams(params), who);
    case "GetTask":
      return agent.getTask(parseTaskIdParams(params), who);
    case "ListTasks":
      return agent.listTasks(parseListTasksParams(params), who);
    case "CancelTask":
      return agent.cancelTask(parseTaskIdParams(params), who);
    case "SubscribeToTask":
      return agent.subscribeToTask(parseTaskIdParams(params), who);
    case "GetExtendedAgentCard":
      return agent.extendedCard();
    case "CreateTaskPushNotificationConfig":
      return agent.createPushConfig(params, { caller: who });
    case "GetTaskPushNotificationConfig":
      return agent.getPushConfig(params, who);
    case "ListTaskPushNotificationConfigs":
      return agent.listPushConfigs(params, who);
    case "DeleteTaskPushNotificationConfig":
      return agent.deletePushConfig(params, who);
    default:
      throw new A2AError(ERROR_CODES.METHOD_NOT_FOUND, `Method not found: ${method.slice(0, 100)}`, { method: method.slice(0, 100) });
  }
}

/**
 * The caller in the tenant the request names (A2A v1.0: `tenant` on every request). A tenant is a
 * partition of the caller's own tasks, never a way into another's.
 *
 * @param caller The authenticated caller, if any.
 * @param params The request's params.
 * @returns The caller with the request's tenant.
 * @throws {A2AError} -32602 for a tenant that is not a short string.
 *
 * @example A request in a tenant
 * ```ts
 * import { withTenant } from "./methods.ts";
 * console.log(withTenant({ principal: "alice" }, { id: "t1", tenant: "team-a" })); // { principal: "alice", tenant: "team-a" }
 * ```
 */
export function withTenant(caller: Caller | undefined, params: unknown): Caller | undefined {
  const tenant = typeof params === "object" && params !== null ? (params as { tenant?: unknown }).tenant : undefined;
  if (caller === undefined || tenant === undefined || tenant === "") return caller;
  if (typeof tenant !== "string" || tenant.length > 256) throw invalidParams("tenant", "must be a string of at most 256 characters");
  return { ...caller, tenant };
}
