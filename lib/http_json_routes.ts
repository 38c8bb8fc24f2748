/**
 * The agent's side of A2A v1.0's HTTP+JSON binding: its rows of the server's route table. The
 * objects are the JSON-RPC binding's; only the envelope differs: the operation is the URL and verb,
 * results are bare JSON (`application/a2a+json`), streams are SSE whose `data` is a
 * `StreamResponse`, and errors are an HTTP status with a `google.rpc.Status` body (AIP-193), as the
 * spec's §11.6 says:
 *
 *   {"error": {"code": 404, "status": "NOT_FOUND", "message": "...", "details": [ErrorInfo]}}
 *
 * v0.3 is not spoken here (its REST paths were different); an `A2A-Version: 0.3` gets -32009. The
 * client's side (paths from methods, errors from answers) is `http_json_client.ts`.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { Agent } from "./agent.ts";
import { A2AError, ERROR_CODES, invalidParams } from "./errors.ts";
import { checkA2AVersion, checkContentType, isEventStream, sendJson, writeSse } from "./http_util.ts";
import type { Route, RouteHandler } from "./http_util.ts";
import { callMethod } from "./methods.ts";
import { fromV03State } from "./v03.ts";

type Obj = Record<string, unknown>;

/** HTTP status and `google.rpc.Code` name of each error (A2A v1.0.1 §5.4; the JSON-RPC-only ones as AIP-193 maps them). */
const HTTP_ERRORS: Record<number, [status: number, rpcStatus: string]> = {
  [-32700]: [400, "INVALID_ARGUMENT"],
  [-32600]: [400, "INVALID_ARGUMENT"],
  [-32601]: [404, "NOT_FOUND"],
  [-32602]: [400, "INVALID_ARGUMENT"],
  [-32603]: [500, "INTERNAL"],
  [-32001]: [404, "NOT_FOUND"],
  [-32002]: [400, "FAILED_PRECONDITION"],
  [-32003]: [400, "FAILED_PRECONDITION"],
  [-32004]: [400, "FAILED_PRECONDITION"],
  [-32005]: [400, "INVALID_ARGUMENT"],
  [-32006]: [500, "INTERNAL"],
  [-32007]: [400, "FAILED_PRECONDITION"],
  [-32008]: [400, "FAILED_PRECONDITION"],
  [-32009]: [400, "FAILED_PRECONDITION"],
  [-32050]: [429, "RESOURCE_EXHAUSTED"],
};

/** The operations, by their JSON-RPC method names. */
type Operation =
  | "SendMessage" | "SendStreamingMessage" | "GetTask" | "ListTasks" | "CancelTask" | "SubscribeToTask"
  | "CreateTaskPushNotificationConfig" | "GetTaskPushNotificationConfig" | "ListTaskPushNotificationConfigs"
  | "DeleteTaskPushNotificationConfig" | "GetExtendedAgentCard";

/** Paths in match order (`:cancel` before the bare task), each with its verbs. The proto says GET for subscribe; POST is taken too. */
const ROUTES: ReadonlyArray<{ path: RegExp; verbs: Readonly<Record<string, Operation>> }> = [
  { path: /^\/message:send$/, verbs: { POST: "SendMessage" } },
  { path: /^\/message:stream$/, verbs: { POST: "SendStreamingMessage" } },
  { path: /^\/tasks\/([^/]+):cancel$/, verbs: { POST: "CancelTask" } },
  { path: /^\/tasks\/([^/]+):subscribe$/, verbs: { GET: "SubscribeToTask", POST: "SubscribeToTask" } },
  { path: /^\/tasks\/([^/]+)\/pushNotificationConfigs$/, verbs: { POST: "CreateTaskPushNotificationConfig", GET: "ListTaskPushNotificationConfigs" } },
  { path: /^\/tasks\/([^/]+)\/pushNotificationConfigs\/([^/]+)$/, verbs: { GET: "GetTaskPushNotificationConfig", DELETE: "DeleteTaskPushNotificationConfig" } },
  { path: /^\/tasks\/([^/]+)$/, verbs: { GET: "GetTask" } },
  { path: /^\/tasks$/, verbs: { GET: "ListTasks" } },
  { path: /^\/extendedAgentCard$/, verbs: { GET: "GetExtendedAgentCard" } },
];

/** Options of {@linkcode httpJsonRoutes}. */
export interface HttpJsonOptions {
  /** Interval of the SSE heartbeat comment. @default 15000 */
  heartbeatMs?: number;
  /** A stream ends after this long; the client subscribes again. @default 30 min */
  maxStreamLifetimeMs?: number;
  /** Where unexpected errors are logged (the client gets a 500 without the detail). @default console.error */
  logError?: (error: unknown) => void;
}

/**
 * The HTTP+JSON rows of an agent's route table: `POST /message:send`, `POST /message:stream`,
 * `GET /tasks/{id}`, `GET /tasks`, `POST /tasks/{id}:cancel`, `GET|POST /tasks/{id}:subscribe`,
 * `POST|GET /tasks/{id}/pushNotificationConfigs`, `GET|DELETE .../pushNotificationConfigs/{configId}`
 * and `GET /extendedAgentCard`. Their refusals (405, 413, 415) are AIP-193 bodies too.
 *
 * @param agent The agent.
 * @param options See {@linkcode HttpJsonOptions}.
 * @returns The rows, in match order, for `routeRequest` (`createAgentServer` includes them).
 *
 * @example Serve HTTP+JSON alone
 * ```ts
 * import { createServer } from "node:http";
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Agent } from "./agent.ts";
 * import { httpJsonRoutes } from "./http_json_routes.ts";
 * import { routeRequest } from "./http_util.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "rest-")), handler: () => {} });
 * const table = httpJsonRoutes(agent);
 * const server = createServer((req, res) => void routeRequest(table, req, res)).listen(0, "127.0.0.1");
 * server.close();
 * await agent.close();
 * ```
 */
export function httpJsonRoutes(agent: Agent, options: HttpJsonOptions = {}): Route[] {
  const { heartbeatMs = 15_000, maxStreamLifetimeMs, logError = console.error } = options;
  const serve = (operation: Operation): RouteHandler => async (req, res, { url, params, body, caller }) => {
    // Transport failures (415, a body over the limit) are the route table's to answer.
    if (req.method === "POST") checkContentType(req);
    const raw = req.method === "POST" ? await body() : undefined;
    try {
      checkA2AVersion(req.headers["a2a-version"], ["1.0"]);
      const ids = params.map(decodeSegment);
      const result = await callMethod(agent, operation, paramsOf(operation, ids, raw === undefined ? {} : parseJson(raw), url.searchParams), caller);
      if (isEventStream(result)) await writeSse(res, result, { heartbeatMs, maxLifetimeMs: maxStreamLifetimeMs });
      else sendJson(res, 200, result, "application/a2a+json");
    } catch (error) {
      if (res.headersSent) throw error;
      if (error instanceof A2AError) return sendError(res, error);
      logError(error);
      sendError(res, new A2AError(ERROR_CODES.INTERNAL_ERROR, "Internal error: the agent could not complete the request"));
    }
  };
  return ROUTES.map(({ path, verbs }) => ({
    path,
    methods: Object.fromEntries(Object.entries(verbs).map(([verb, operation]) => [verb, serve(operation)])),
    errorBody: statusBody,
  }));
}

/** The JSON-RPC params an HTTP+JSON request stands for: the ids from the path, the rest from the body or query. */
function paramsOf(operation: Operation, ids: string[], input: unknown, query: URLSearchParams): unknown {
  const [taskId, configId] = ids;
  switch (operation) {
    case "GetTask":
      return { ...queryParams(query), id: taskId };
    case "ListTasks":
      return queryParams(query);
    case "CancelTask":
    case "SubscribeToTask":
      return { ...tenantOf(input, query), id: taskId };
    case "CreateTaskPushNotificationConfig":
      // The path names the task; a body may also wrap the config in `config`, as some drafts did.
      return isObject(input) ? { ...tenantOf(input, query), ...(isObject(input.config) ? input.config : input), taskId } : input;
    case "GetTaskPushNotificationConfig":
    case "DeleteTaskPushNotificationConfig":
      return { ...tenantOf(input, query), taskId, id: configId };
    case "ListTaskPushNotificationConfigs":
      return { ...queryParams(query), taskId };
    default:
      return input; // SendMessage, SendStreamingMessage; GetExtendedAgentCard takes none.
  }
}

/** Query parameters as the validators take them: numbers and booleans from their text (§11.5). */
function queryParams(query: URLSearchParams): Obj {
  const params: Obj = {};
  for (const [name, value] of query) {
    if (/^(pageSize|page_size|historyLength|history_length)$/.test(name) && /^-?\d+$/.test(value)) params[name] = Number(value);
    else if (/^include_?[aA]rtifacts$/.test(name) && (value === "true" || value === "false")) params[name] = value === "true";
    else if (name === "status") params[name] = fromV03State(value) ?? value; // `working` or `TASK_STATE_WORKING`
    else params[name] = value;
  }
  return params;
}

/** The request's `tenant`, from the body or the query, for operations whose other params are all in the path. */
function tenantOf(input: unknown, query: URLSearchParams): Obj {
  const tenant = isObject(input) && input.tenant !== undefined ? input.tenant : (query.get("tenant") ?? undefined);
  return tenant === undefined ? {} : { tenant };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidParams("id", "is not a valid URL path segment");
  }
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return {};
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (error) {
    throw new A2AError(ERROR_CODES.PARSE_ERROR, `Parse error: ${(error as Error).message}`);
  }
}

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sendError(res: ServerResponse, error: A2AError): void {
  const [status, rpcStatus] = HTTP_ERRORS[error.code] ?? [500, "INTERNAL"];
  sendJson(res, status, { error: { code: status, status: rpcStatus, message: error.message, details: error.toJsonRpc().data } });
}

/** A transport refusal (405, 413, 415) as an AIP-193 body, without an `ErrorInfo`. */
function statusBody(status: number, message: string): unknown {
  const rpcStatus = status === 405 ? "UNIMPLEMENTED" : status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  return { error: { code: status, status: rpcStatus, message, details: [] } };
}
