/**
 * The agent's HTTP face on `node:http`: the agent card, and A2A JSON-RPC 2.0 at `POST /`, with SSE
 * for the streaming methods (v1.0 methods here, v0.3 ones in `v03_rpc.ts`; the HTTP+JSON binding
 * is a route list from `http_json.ts`). This is the one place where errors become responses: protocol errors
 * are JSON-RPC errors (HTTP 200), transport errors are 4xx with a reason, anything unexpected is
 * -32603 with the detail kept in the log. A client that goes away ends its response only.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setInterval } from "node:timers";
import { pushRoutes } from "./admin.ts";
import type { Route } from "./admin.ts";
import type { Agent, TaskStream } from "./agent.ts";
import type { AgentCard } from "./types.ts";
import { A2AError, ERROR_CODES } from "./errors.ts";
import { httpJsonRoutes } from "./http_json.ts";
import { formatSseData } from "./sse.ts";
import { toV03Card } from "./v03.ts";
import { callV03, isV03Method } from "./v03_rpc.ts";
import { parseListTasksParams, parseSendMessageParams, parseTaskIdParams } from "./validate.ts";

/** Options of {@linkcode createAgentServer}. */
export interface AgentServerOptions {
  /** Largest request body accepted; larger ones get 413 before they are read. @default 1 MiB */
  maxBodyBytes?: number;
  /** Interval of the SSE heartbeat comment. @default 15000 */
  heartbeatMs?: number;
  /** The URL clients reach the agent at; by default taken from the listening address. */
  publicUrl?: string;
  /** Extra routes tried before the built-in ones: return true when handled. */
  routes?: Route[];
  /** Where unexpected errors are logged. @default console.error */
  logError?: (error: unknown) => void;
  /**
   * Connections held at once; past it a new one is closed at once. With the 1 MiB body limit this
   * bounds the memory clients can hold with bodies they send slowly. @default 1024
   */
  maxConnections?: number;
}

/** A JSON-RPC request id. */
type RpcId = string | number | null;

const JSON_TYPES = new Set(["application/json", "application/a2a+json"]);

/**
 * Makes the HTTP server of an agent. Call `listen()` on it.
 *
 * @param agent The agent.
 * @param options See {@linkcode AgentServerOptions}.
 * @returns A `node:http` server.
 *
 * @example Serve an agent on a free port
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Agent } from "./agent.ts";
 * import { createAgentServer } from "./server.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "a-")), handler: () => {} });
 * const server = createAgentServer(agent).listen(0, "127.0.0.1");
 * server.close();
 * await agent.close();
 * ```
 */
export function createAgentServer(agent: Agent, options: AgentServerOptions = {}): Server {
  const { maxBodyBytes = 1024 * 1024, heartbeatMs = 15_000, routes = [], logError = console.error } = options;
  const baseUrl = (req: IncomingMessage) => {
    if (options.publicUrl) return options.publicUrl.replace(/\/$/, "");
    const address = req.socket.localAddress ?? "127.0.0.1";
    const host = address.includes(":") ? `[${address}]` : address;
    return `http://${host}:${(server.address() as AddressInfo).port}`;
  };

  const allRoutes = [...routes, ...pushRoutes(agent, sendJson), ...httpJsonRoutes(agent, { heartbeatMs, logError })];
  // Node checks the two timeouts below every connectionsCheckingInterval (30 s by default), which
  // would let a slow client hold a connection up to 40 s instead of 10.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, async (req, res) => {
    try {
      if (!URL.canParse(req.url ?? "/", "http://x")) return sendStatus(res, 400, "Malformed request target");
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const body = () => readBody(req, maxBodyBytes);
      for (const route of allRoutes) if (await route(req, res, body)) return;
      if (path === "/.well-known/agent-card.json") return sendCard(req, res, agent.card(baseUrl(req)));
      if (path !== "/") return sendStatus(res, 404, `No route for ${path}`);
      if (req.method !== "POST") return sendStatus(res, 405, "Use POST for JSON-RPC requests", "POST");
      const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
      if (!JSON_TYPES.has(type)) return sendStatus(res, 415, `Content-Type ${type} is not supported; send application/json`);
      await handleRpc(agent, req, res, await body(), { heartbeatMs, logError });
    } catch (error) {
      if (error instanceof HttpError) return sendStatus(res, error.status, error.message);
      logError(error);
      if (!res.headersSent) sendStatus(res, 500, "Internal error");
      else res.destroy();
    }
  });
  // Slow-loris guard: a client must send its headers and its body in bounded time.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = options.maxConnections ?? 1024;
  return server;
}

/** How long clients may cache the card (A2A §8.6 asks for `max-age` and an `ETag`). */
const CARD_MAX_AGE_SECONDS = 300;

/**
 * The card, in the shape the caller's protocol version reads. A v1.0 client says `A2A-Version:
 * 1.0` (header or query parameter, §3.6.1) and gets the v1.0 card alone, which passes a strict
 * v1.0 schema; a request without a version is a v0.3 client's (§3.6.2), and its card also carries
 * the v0.3 keys (`url`, `protocolVersion`, `preferredTransport`, `additionalInterfaces`), which
 * v1.0 readers ignore. `HEAD` and `If-None-Match` are answered from the same `ETag`.
 */
function sendCard(req: IncomingMessage, res: ServerResponse, card: AgentCard): void {
  if (req.method !== "GET" && req.method !== "HEAD") return sendStatus(res, 405, "Use GET for the agent card", "GET, HEAD");
  const version = String(req.headers["a2a-version"] ?? new URL(req.url ?? "/", "http://x").searchParams.get("A2A-Version") ?? "").trim();
  const body = JSON.stringify(/^1(\.|$)/.test(version) ? card : toV03Card(card));
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
  res.setHeader("Cache-Control", `public, max-age=${CARD_MAX_AGE_SECONDS}`);
  res.setHeader("ETag", etag);
  res.setHeader("Vary", "A2A-Version");
  const cached = req.headers["if-none-match"]?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
  if (cached) return void res.writeHead(304).end();
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Reads a request body, refusing (413) a declared or actual size over the limit before buffering it.
 *
 * @param req The request.
 * @param maxBytes The limit.
 * @returns The body.
 * @throws {HttpError} 413 when too large, 400 when the client aborts.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    req.resume(); // Drain, so the 413 reaches the client instead of a reset.
    return Promise.reject(new HttpError(413, `Request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, `Request body exceeds the limit of ${maxBytes} bytes`));
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", (error) => reject(new HttpError(400, `Request body could not be read: ${error.message}`)));
  });
}

async function handleRpc(
  agent: Agent, req: IncomingMessage, res: ServerResponse, body: Buffer,
  options: { heartbeatMs: number; logError: (error: unknown) => void },
): Promise<void> {
  const { heartbeatMs, logError } = options;
  let request: unknown;
  try {
    request = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    return sendRpcError(res, null, new A2AError(ERROR_CODES.PARSE_ERROR, `Parse error: ${(error as Error).message}`));
  }
  if (Array.isArray(request)) {
    return sendRpcError(res, null, new A2AError(ERROR_CODES.INVALID_REQUEST, "Invalid request: JSON-RPC batches are not supported by A2A"));
  }
  const rpc = request as { jsonrpc?: unknown; method?: unknown; id?: unknown; params?: unknown };
  const id: RpcId = typeof rpc?.id === "string" || typeof rpc?.id === "number" ? rpc.id : null;
  if (typeof request !== "object" || request === null || rpc.jsonrpc !== "2.0" || typeof rpc.method !== "string") {
    return sendRpcError(res, id, new A2AError(ERROR_CODES.INVALID_REQUEST, 'Invalid request: expected {"jsonrpc": "2.0", "method": string, "id": string | number}'));
  }
  if (rpc.id !== undefined && rpc.id !== null && id === null) {
    return sendRpcError(res, null, new A2AError(ERROR_CODES.INVALID_REQUEST, "Invalid request: id must be a string or a number"));
  }
  try {
    checkVersion(req.headers["a2a-version"]);
    // The method name picks the shapes: a v0.3 name gets v0.3 in and out, whatever the header says.
    const result = isV03Method(rpc.method) ? await callV03(agent, rpc.method, rpc.params) : await dispatch(agent, rpc.method, rpc.params);
    if (isStream(result)) return await streamEvents(res, id, result, heartbeatMs);
    sendJson(res, 200, { jsonrpc: "2.0", id, result });
  } catch (error) {
    if (error instanceof A2AError) return sendRpcError(res, id, error);
    if (res.headersSent) throw error;
    // Our fault (a full disk, a bug): the client gets -32603, the detail stays in the log.
    logError(error);
    return sendRpcError(res, id, new A2AError(ERROR_CODES.INTERNAL_ERROR, "Internal error: the agent could not complete the request"));
  }
}

function checkVersion(header: string | string[] | undefined): void {
  const version = Array.isArray(header) ? header[0] : header;
  if (!version) return;
  if (!/^(1|1\.0|1\.0\.\d+|0\.3|0\.3\.\d+)$/.test(version.trim())) {
    throw new A2AError(ERROR_CODES.VERSION_NOT_SUPPORTED, `A2A-Version ${version} is not supported; this agent speaks 1.0 and 0.3`, { version });
  }
}

/** The one switch from method names to agent calls. */
async function dispatch(agent: Agent, method: string, params: unknown): Promise<unknown> {
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

/** A stream of results: the agent's `TaskStream`, or the v0.3 edge's translation of one. */
type ResultStream = Pick<TaskStream, "close"> & AsyncIterable<unknown>;

function isStream(value: unknown): value is ResultStream {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

async function streamEvents(res: ServerResponse, id: RpcId, stream: ResultStream, heartbeatMs: number): Promise<void> {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), heartbeatMs);
  heartbeat.unref();
  // The client leaving closes the stream, not the task.
  res.on("close", () => stream.close());
  try {
    for await (const result of stream) {
      if (res.destroyed) break;
      res.write(formatSseData({ jsonrpc: "2.0", id, result }));
    }
  } finally {
    clearInterval(heartbeat);
    res.end();
  }
}

function sendRpcError(res: ServerResponse, id: RpcId, error: A2AError): void {
  sendJson(res, 200, { jsonrpc: "2.0", id, error: error.toJsonRpc() });
}

/**
 * Sends a JSON body.
 *
 * @param res The response.
 * @param status The HTTP status.
 * @param value The body.
 * @param contentType @default "application/json"
 */
export function sendJson(res: ServerResponse, status: number, value: unknown, contentType = "application/json"): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Sends an HTTP error with its reason as JSON `{error}`.
 *
 * @param res The response.
 * @param status The HTTP status.
 * @param reason A sentence.
 * @param allow The `Allow` header, for 405.
 */
export function sendStatus(res: ServerResponse, status: number, reason: string, allow?: string): void {
  if (allow) res.setHeader("Allow", allow);
  if (status === 413) res.setHeader("Connection", "close");
  sendJson(res, status, { error: reason });
}
