/**
 * The client's side of A2A v1.0's HTTP+JSON binding: the verb, path and body for a JSON-RPC method
 * and its params, and the {@linkcode A2AError} an error answer stands for (AIP-193
 * `google.rpc.Status`, with the A2A reason in an `ErrorInfo`). It leaves out the agent's side
 * (`http_json_routes.ts`) and the sending itself (`client.ts`), and imports only `errors.ts`, so a
 * client does not pull the agent along.
 *
 * @module
 */

import { A2AError, ERROR_CODES, invalidParams } from "./errors.ts";
import type { ErrorCode } from "./errors.ts";

type Obj = Record<string, unknown>;

/** A request of the HTTP+JSON binding, as {@linkcode toHttpRequest} makes it. */
export interface HttpRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path and query, relative to the interface URL. */
  path: string;
  body?: unknown;
  /** Whether the answer is an SSE stream. */
  stream: boolean;
}

/**
 * The HTTP+JSON request for a JSON-RPC method and its params (the client's side of the binding).
 *
 * @param method A v1.0 method name, e.g. `GetTask`.
 * @param params Its params, as for JSON-RPC.
 * @returns Verb, path with query, body and whether a stream comes back.
 * @throws {A2AError} -32601 for a method the binding has no route for; -32602 without the ids the path needs.
 *
 * @example
 * ```ts
 * import { toHttpRequest } from "./http_json_client.ts";
 * console.log(toHttpRequest("GetTask", { id: "t 1", historyLength: 2 }).path); // "/tasks/t%201?historyLength=2"
 * ```
 */
export function toHttpRequest(method: string, params: unknown): HttpRequest {
  const { id, taskId, ...rest } = isObject(params) ? params : ({} as Obj);
  const segment = (value: unknown, name: string) => {
    if (typeof value !== "string" || value === "") throw invalidParams(name, "is required");
    return encodeURIComponent(value);
  };
  const withQuery = (path: string, query: Obj) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null) search.set(name, String(value));
    return search.size > 0 ? `${path}?${search}` : path;
  };
  const configs = () => `/tasks/${segment(taskId, "taskId")}/pushNotificationConfigs`;
  switch (method) {
    case "SendMessage":
      return { method: "POST", path: "/message:send", body: params, stream: false };
    case "SendStreamingMessage":
      return { method: "POST", path: "/message:stream", body: params, stream: true };
    case "GetTask":
      return { method: "GET", path: withQuery(`/tasks/${segment(id, "id")}`, rest), stream: false };
    case "ListTasks":
      return { method: "GET", path: withQuery("/tasks", isObject(params) ? params : {}), stream: false };
    case "CancelTask":
      return { method: "POST", path: `/tasks/${segment(id, "id")}:cancel`, body: rest, stream: false };
    case "SubscribeToTask":
      return { method: "GET", path: `/tasks/${segment(id, "id")}:subscribe`, stream: true };
    case "CreateTaskPushNotificationConfig":
      return { method: "POST", path: configs(), body: { ...rest, ...(id === undefined ? {} : { id }) }, stream: false };
    case "GetTaskPushNotificationConfig":
      return { method: "GET", path: `${configs()}/${segment(id, "id")}`, stream: false };
    case "ListTaskPushNotificationConfigs":
      return { method: "GET", path: withQuery(configs(), rest), stream: false };
    case "DeleteTaskPushNotificationConfig":
      return { method: "DELETE", path: `${configs()}/${segment(id, "id")}`, stream: false };
    case "GetExtendedAgentCard":
      return { method: "GET", path: "/extendedAgentCard", stream: false };
    default:
      throw new A2AError(ERROR_CODES.METHOD_NOT_FOUND, `Method not found: ${method.slice(0, 100)} has no HTTP+JSON route`, { method: method.slice(0, 100) });
  }
}

const CODES_BY_REASON = new Map<unknown, ErrorCode>(
  Object.values(ERROR_CODES).map((code) => [(new A2AError(code, "").toJsonRpc().data[0] as Obj).reason, code]),
);

/**
 * The {@linkcode A2AError} an HTTP+JSON error response stands for: the code from the `ErrorInfo`
 * reason in `details`, else from the HTTP status.
 *
 * @param status The HTTP status (not 2xx).
 * @param body The parsed body (AIP-193 `{error: {...}}`, or anything).
 * @returns The error, with the agent's message and `ErrorInfo.metadata`.
 *
 * @example
 * ```ts
 * import { errorFromHttp } from "./http_json_client.ts";
 * const details = [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "TASK_NOT_FOUND", domain: "a2a-protocol.org" }];
 * console.log(errorFromHttp(404, { error: { code: 404, status: "NOT_FOUND", message: "gone", details } }).code); // -32001
 * ```
 */
export function errorFromHttp(status: number, body: unknown): A2AError {
  const error = isObject(body) ? body.error : undefined;
  const inner: Obj = isObject(error) ? error : { message: typeof error === "string" ? error : undefined };
  const details = Array.isArray(inner.details) ? inner.details : [];
  const info = details.find((d): d is Obj => isObject(d) && String(d["@type"]).endsWith("google.rpc.ErrorInfo"));
  const fallback: ErrorCode = status === 400 ? ERROR_CODES.INVALID_PARAMS : status === 404 ? ERROR_CODES.METHOD_NOT_FOUND : status === 415 ? ERROR_CODES.CONTENT_TYPE_NOT_SUPPORTED : ERROR_CODES.INTERNAL_ERROR;
  const message = typeof inner.message === "string" ? inner.message : `Agent answered HTTP ${status}`;
  return new A2AError(CODES_BY_REASON.get(info?.reason) ?? fallback, message, isObject(info?.metadata) ? (info.metadata as Record<string, string>) : undefined);
}

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
