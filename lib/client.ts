/**
 * A small A2A v1.0 client over `fetch`: the card lookup, every method, and streams as async
 * iterators, over the JSON-RPC or the HTTP+JSON binding (the first the card lists, unless asked).
 * Errors from the agent come back as {@linkcode A2AError} with the agent's code.
 *
 * @module
 */

import { A2AError, ERROR_CODES } from "./errors.ts";
import type { ErrorCode } from "./errors.ts";
import { errorFromHttp, toHttpRequest } from "./http_json_client.ts";
import type { HttpRequest } from "./http_json_client.ts";
import { readSseData } from "./sse.ts";
import type {
  AgentCard,
  ListTasksParams,
  ListTasksResult,
  SendMessageParams,
  StreamResponse,
  Task,
  TaskPushNotificationConfig,
} from "./types.ts";

/** Extra headers: fixed, or made for each request (e.g. a token that expires). */
export type HeadersOption = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

/** Options of {@linkcode A2AClient}. */
export interface A2AClientOptions {
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** The caller's token, sent on every request as `Authorization: Bearer <token>`. @default undefined */
  token?: string;
  /**
   * Extra headers on every request, the card fetch and streams included; a function is called
   * for each request. They go after `token`, so an `Authorization` here wins. @default {}
   */
  headers?: HeadersOption;
  /** Per-request timeout for non-streaming calls, in ms. @default 60000 */
  timeoutMs?: number;
  /** The binding `url` speaks; `fromCardUrl` takes the card's first 1.0 interface unless this names one. @default "JSONRPC" */
  binding?: "JSONRPC" | "HTTP+JSON";
}

/**
 * Talks A2A JSON-RPC to one agent.
 *
 * @example Send a message and read the task
 * ```ts
 * import { A2AClient } from "./client.ts";
 * const client = await A2AClient.fromCardUrl("http://127.0.0.1:8001");
 * const { task } = await client.sendMessage({
 *   message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: { steps: 0 } }] },
 * });
 * console.log(task.status.state);
 * ```
 */
export class A2AClient {
  /** The interface URL: the JSON-RPC endpoint, or the base of the HTTP+JSON paths. */
  readonly url: string;
  /** The binding spoken at `url`. */
  readonly binding: "JSONRPC" | "HTTP+JSON";
  #fetch: typeof fetch;
  #token: string | undefined;
  #headers: HeadersOption;
  #timeoutMs: number;
  #nextId = 1;

  /**
   * @param url The interface URL from the card (for JSON-RPC, the endpoint itself).
   * @param options See {@linkcode A2AClientOptions}.
   * @throws {RangeError} If `token` is empty.
   */
  constructor(url: string, options: A2AClientOptions = {}) {
    const { fetch: fetchFn = globalThis.fetch, token, headers = {}, timeoutMs = 60_000, binding = "JSONRPC" } = options;
    if (token === "") throw new RangeError("Cannot create an A2A client: token is empty");
    this.url = url;
    this.binding = binding;
    this.#fetch = fetchFn;
    this.#token = token;
    this.#headers = headers;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Reads the agent card at `<baseUrl>/.well-known/agent-card.json` and makes a client for its
   * first A2A 1.0 interface over JSON-RPC or HTTP+JSON (or the one `options.binding` names).
   *
   * @param baseUrl The agent's base URL.
   * @param options See {@linkcode A2AClientOptions}.
   * @returns The client; its `card` holds the card.
   * @throws {Error} If the card cannot be read or lists no such interface.
   * @throws {RangeError} If `token` is empty.
   */
  static async fromCardUrl(baseUrl: string, options: A2AClientOptions = {}): Promise<A2AClient & { card: AgentCard }> {
    const fetchFn = options.fetch ?? globalThis.fetch;
    const url = new URL("/.well-known/agent-card.json", baseUrl);
    // The version header asks for the v1.0 card (without the v0.3 compatibility keys). The card is
    // public, but an agent may answer callers it knows with more: the caller's headers go along.
    const headers = await requestHeaders({ "A2A-Version": "1.0" }, options.token, options.headers ?? {});
    const response = await fetchFn(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    if (!response.ok) throw new Error(`Cannot read agent card at ${url}: HTTP ${response.status}`);
    const card = (await response.json()) as AgentCard;
    // The card lists interfaces in the agent's order of preference: take the first this client speaks.
    const chosen = card.supportedInterfaces?.find((i) =>
      (i.protocolBinding === "JSONRPC" || i.protocolBinding === "HTTP+JSON") &&
      (!i.protocolVersion || i.protocolVersion.startsWith("1.")) &&
      (!options.binding || i.protocolBinding === options.binding)
    );
    if (!chosen) throw new Error(`Agent card at ${url} lists no ${options.binding ?? "JSONRPC or HTTP+JSON"} interface for A2A 1.0`);
    return Object.assign(new A2AClient(chosen.url, { ...options, binding: chosen.protocolBinding as "JSONRPC" | "HTTP+JSON" }), { card });
  }

  /** `SendMessage`: returns `{task}` (or `{message}`). */
  sendMessage(params: SendMessageParams): Promise<{ task: Task }> {
    return this.call("SendMessage", params) as Promise<{ task: Task }>;
  }

  /** `SendStreamingMessage`: the task's events, the Task first. */
  sendStreamingMessage(params: SendMessageParams, options: { signal?: AbortSignal } = {}): AsyncGenerator<StreamResponse> {
    return this.stream("SendStreamingMessage", params, options);
  }

  /** `GetTask`. */
  getTask(params: { id: string; historyLength?: number }): Promise<Task> {
    return this.call("GetTask", params) as Promise<Task>;
  }

  /** `ListTasks`. */
  listTasks(params: ListTasksParams = {}): Promise<ListTasksResult> {
    return this.call("ListTasks", params) as Promise<ListTasksResult>;
  }

  /** `CancelTask`. */
  cancelTask(params: { id: string }): Promise<Task> {
    return this.call("CancelTask", params) as Promise<Task>;
  }

  /** `SubscribeToTask`: the current Task, then its updates. */
  subscribeToTask(params: { id: string }, options: { signal?: AbortSignal } = {}): AsyncGenerator<StreamResponse> {
    return this.stream("SubscribeToTask", params, options);
  }

  /** `GetExtendedAgentCard`. */
  getExtendedAgentCard(): Promise<AgentCard> {
    return this.call("GetExtendedAgentCard", {}) as Promise<AgentCard>;
  }

  /** `CreateTaskPushNotificationConfig`. */
  createPushConfig(config: TaskPushNotificationConfig & { taskId: string }): Promise<TaskPushNotificationConfig> {
    return this.call("CreateTaskPushNotificationConfig", config) as Promise<TaskPushNotificationConfig>;
  }

  /** `GetTaskPushNotificationConfig`. */
  getPushConfig(params: { taskId: string; id: string }): Promise<TaskPushNotificationConfig> {
    return this.call("GetTaskPushNotificationConfig", params) as Promise<TaskPushNotificationConfig>;
  }

  /** `ListTaskPushNotificationConfigs`. */
  listPushConfigs(params: { taskId: string; pageSize?: number; pageToken?: string }): Promise<{ configs: TaskPushNotificationConfig[]; nextPageToken: string }> {
    return this.call("ListTaskPushNotificationConfigs", params) as Promise<{ configs: TaskPushNotificationConfig[]; nextPageToken: string }>;
  }

  /** `DeleteTaskPushNotificationConfig`. */
  async deletePushConfig(params: { taskId: string; id: string }): Promise<void> {
    await this.call("DeleteTaskPushNotificationConfig", params);
  }

  /**
   * Calls any method, by its JSON-RPC name (over HTTP+JSON, the route for it).
   *
   * @param method The method name.
   * @param params Its params.
   * @returns The `result`.
   * @throws {A2AError} With the agent's code when it answers an error; -32603 for HTTP failures.
   */
  async call(method: string, params: unknown): Promise<unknown> {
    if (this.binding === "HTTP+JSON") {
      const response = await this.#send(toHttpRequest(method, params), AbortSignal.timeout(this.#timeoutMs));
      const body = await readJson(response, { emptyOk: response.ok });
      if (!response.ok) throw errorFromHttp(response.status, body);
      return body;
    }
    const response = await this.#post(method, params, AbortSignal.timeout(this.#timeoutMs));
    return unwrap(await readJson(response));
  }

  /**
   * Calls a streaming method and yields each event's `result`.
   *
   * @param method The method name.
   * @param params Its params.
   * @param options `signal` to stop reading (the task goes on).
   * @returns The events.
   * @throws {A2AError} As {@linkcode A2AClient.call}.
   */
  async *stream(method: string, params: unknown, options: { signal?: AbortSignal } = {}): AsyncGenerator<StreamResponse> {
    options.signal?.throwIfAborted(); // Aborted already: no request at all.
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const rest = this.binding === "HTTP+JSON";
      const response = rest ? await this.#send(toHttpRequest(method, params), controller.signal) : await this.#post(method, params, controller.signal);
      if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
        const body = await readJson(response);
        if (rest && !response.ok) throw errorFromHttp(response.status, body);
        if (!rest) unwrap(body);
        throw new A2AError(ERROR_CODES.INTERNAL_ERROR, `${method} answered without a stream`);
      }
      // HTTP+JSON events are bare StreamResponses; JSON-RPC ones are wrapped in a response each.
      for await (const data of readSseData(response.body!)) yield (rest ? JSON.parse(data) : unwrap(JSON.parse(data))) as StreamResponse;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      controller.abort(); // Ends the connection if the caller stopped early.
    }
  }

  async #post(method: string, params: unknown, signal: AbortSignal): Promise<Response> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: this.#nextId++, method, params });
    return await this.#fetch(this.url, {
      method: "POST",
      headers: await requestHeaders({ "Content-Type": "application/json", "A2A-Version": "1.0" }, this.#token, this.#headers),
      body,
      signal,
    });
  }

  async #send(request: HttpRequest, signal: AbortSignal): Promise<Response> {
    const base: Record<string, string> = { "A2A-Version": "1.0" };
    if (request.body !== undefined) base["Content-Type"] = "application/a2a+json";
    const headers = await requestHeaders(base, this.#token, this.#headers);
    return await this.#fetch(`${this.url.replace(/\/+$/, "")}${request.path}`, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal,
    });
  }
}

/**
 * One request's headers: the client's own, then `Authorization` from the token, then the caller's
 * (made now, when a function). A later header replaces an earlier one of the same name in any
 * case, so that `fetch` never joins two `Authorization` values into one.
 */
async function requestHeaders(base: Record<string, string>, token: string | undefined, extra: HeadersOption): Promise<Record<string, string>> {
  const layers = [base, token === undefined ? {} : { Authorization: `Bearer ${token}` }, typeof extra === "function" ? await extra() : extra];
  const merged: Record<string, string> = {};
  const names = new Map<string, string>(); // Lower-case name -> the spelling kept.
  for (const layer of layers) {
    for (const [name, value] of Object.entries(layer)) {
      const previous = names.get(name.toLowerCase());
      if (previous !== undefined) delete merged[previous];
      names.set(name.toLowerCase(), name);
      merged[name] = value;
    }
  }
  return merged;
}

/** The answer's JSON; with `emptyOk`, an empty body (a 204 to a DELETE, as some servers send) is `{}`. */
async function readJson(response: Response, options: { emptyOk?: boolean } = {}): Promise<unknown> {
  const text = await response.text();
  if (options.emptyOk && text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new A2AError(ERROR_CODES.INTERNAL_ERROR, `Agent answered HTTP ${response.status} with no JSON body: ${text.slice(0, 200)}`);
  }
}

function unwrap(message: unknown): unknown {
  const rpc = message as { result?: unknown; error?: { code: number; message: string; data?: Array<{ metadata?: Record<string, string> }> } };
  if (rpc?.error) throw new A2AError(rpc.error.code as ErrorCode, rpc.error.message, rpc.error.data?.[0]?.metadata);
  if (!rpc || !("result" in rpc)) throw new A2AError(ERROR_CODES.INTERNAL_ERROR, "Agent answered without result or error");
  return rpc.result;
}
