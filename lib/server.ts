/**
 * The agent's HTTP face on `node:http`, as one route table: the caller's rows, the agent card, the
 * push and metrics rows of `admin.ts`, the HTTP+JSON rows of `http_json_routes.ts`, and A2A JSON-RPC 2.0 at
 * `POST /` (v1.0 methods here, v0.3 ones in `v03_rpc.ts`), with SSE for the streaming methods.
 * The A2A rows (both bindings) first ask `auth.ts` who is calling: 401 with `WWW-Authenticate`
 * for nobody, 429 with `Retry-After` for a caller over its rate; the card and the JWKS are public,
 * the admin rows (and `/metrics`, unless `publicMetrics`) have their own token.
 * Protocol errors are JSON-RPC errors (HTTP 200), transport errors are 4xx with a reason, anything
 * unexpected is -32603 (or 500) with the detail kept in the log. A client that goes away ends its
 * response only. It leaves the plumbing (matching, body limits, SSE, header checks) to
 * `http_util.ts`, which the webhook receiver shares.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { metricsRoutes, pushRoutes } from "./admin.ts";
import { Authenticator } from "./auth.ts";
import type { Caller } from "./auth.ts";
import type { Agent } from "./agent.ts";
import type { AgentCard } from "./types.ts";
import { A2AError, AuthenticationError, ERROR_CODES } from "./errors.ts";
import { httpJsonRoutes } from "./http_json_routes.ts";
import { callMethod } from "./methods.ts";
import { HttpError, checkA2AVersion, checkContentType, isEventStream, routeRequest, sendJson, sendStatus, writeSse } from "./http_util.ts";
import type { Route, RouteHandler } from "./http_util.ts";
import { RateLimiter } from "./rate_limit.ts";
import type { RateLimitOptions } from "./rate_limit.ts";
import { toV03Card } from "./v03.ts";
import { callV03, isV03Method } from "./v03_rpc.ts";

/** Options of {@linkcode createAgentServer}. */
export interface AgentServerOptions {
  /** Largest request body accepted; larger ones get 413 before they are read. @default 1 MiB */
  maxBodyBytes?: number;
  /** Interval of the SSE heartbeat comment. @default 15000 */
  heartbeatMs?: number;
  /** The URL clients reach the agent at; by default taken from the listening address. */
  publicUrl?: string;
  /** Extra rows of the route table, matched before the built-in ones. @default [] */
  routes?: Route[];
  /** Where unexpected errors are logged. @default console.error */
  logError?: (error: unknown) => void;
  /**
   * Connections held at once; past it a new one is closed at once. With the 1 MiB body limit this
   * bounds the memory clients can hold with bodies they send slowly. @default 1024
   */
  maxConnections?: number;
  /** Who may call (`auth.ts`). @default none: every request is the anonymous caller */
  auth?: Authenticator;
  /**
   * Requests a second per principal when authentication is on (429 with `Retry-After` past it);
   * `false` for no limit. Without authentication there is no principal to count for. @default {perSecond: 100, burst: 200}
   */
  rateLimit?: RateLimitOptions | false;
  /** A stream (SSE) ends after this long; the client subscribes again. @default 30 min */
  maxStreamLifetimeMs?: number;
  /** Answer `GET /metrics` without the admin token. @default false: the admin token is needed */
  publicMetrics?: boolean;
}

/** A JSON-RPC request id. */
type RpcId = string | number | null;

/** Where clients look for the card (A2A §8.2). */
const CARD_PATH = "/.well-known/agent-card.json";

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
  const { maxBodyBytes = 1024 * 1024, heartbeatMs = 15_000, routes = [], logError = console.error, publicUrl, maxConnections = 1024, maxStreamLifetimeMs, publicMetrics = false } = options;
  const auth = options.auth ?? new Authenticator({ adminToken: agent.adminToken });
  const limiter = auth.enabled && options.rateLimit !== false ? new RateLimiter(options.rateLimit ?? { perSecond: 100 }) : undefined;
  const baseUrl = (req: IncomingMessage) => {
    if (publicUrl) return publicUrl.replace(/\/$/, "");
    const address = req.socket.localAddress ?? "127.0.0.1";
    const host = address.includes(":") ? `[${address}]` : address;
    return `http://${host}:${(server.address() as AddressInfo).port}`;
  };
  const card: RouteHandler = (req, res, { url }) => sendCard(req, res, url, { ...agent.card(baseUrl(req)), ...auth.cardFields() });
  const jsonRpc: RouteHandler = async (req, res, { body, caller }) => {
    checkContentType(req);
    await handleRpc(agent, req, res, await body(), { heartbeatMs, maxStreamLifetimeMs, logError, caller });
  };
  // Who is calling, before the body is read: the A2A rows below get the caller in their context.
  const identified = (rows: Route[]): Route[] => rows.map((row) => ({
    ...row,
    methods: Object.fromEntries(Object.entries(row.methods).map(([verb, handler]) => [verb, async (req, res, context) => {
      const caller = await identify(auth, req, res);
      const waitMs = limiter && !caller.admin ? limiter.take(caller.principal ?? "") : 0;
      if (waitMs > 0) {
        res.setHeader("Retry-After", String(Math.ceil(waitMs / 1000)));
        throw new HttpError(429, "Too many requests from this caller; retry after the Retry-After seconds");
      }
      return handler(req, res, { ...context, caller });
    }] as const)),
  }));

  // The whole dispatch, in match order: the first row whose path matches answers, with 405 and
  // `Allow` for a method it lacks; no row is 404.
  const table: Route[] = [
    ...routes, // The caller's own rows come first.
    { path: CARD_PATH, methods: { GET: card, HEAD: card } },
    ...pushRoutes(agent), // GET /.well-known/jwks.json and /admin/..., when push is on.
    ...metricsRoutes(agent, { public: publicMetrics }), // GET /metrics
    ...identified([
      ...httpJsonRoutes(agent, { heartbeatMs, maxStreamLifetimeMs, logError }), // /message:send, /tasks/{id}, ...
      { path: "/", methods: { POST: jsonRpc } },
    ]),
  ];
  // Node checks the two timeouts below every connectionsCheckingInterval (30 s by default), which
  // would let a slow client hold a connection up to 40 s instead of 10.
  const server = createServer({ connectionsCheckingInterval: 1_000 }, async (req, res) => {
    try {
      await routeRequest(table, req, res, { maxBodyBytes });
    } catch (error) {
      logError(error);
      if (!res.headersSent) sendStatus(res, 500, "Internal error");
      else res.destroy();
    }
  });
  // Slow-loris guard: a client must send its headers and its body in bounded time.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = maxConnections;
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
function sendCard(req: IncomingMessage, res: ServerResponse, url: URL, card: AgentCard): void {
  const version = String(req.headers["a2a-version"] ?? url.searchParams.get("A2A-Version") ?? "").trim();
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

/** The request's caller; a 401 (or a 503 while the OIDC keys cannot be had) when there is none. */
async function identify(auth: Authenticator, req: IncomingMessage, res: ServerResponse): Promise<Caller> {
  let caller: Caller | undefined;
  try {
    caller = await auth.identify(req);
  } catch (error) {
    if (!(error instanceof AuthenticationError)) throw error;
    res.setHeader("Retry-After", "5");
    throw new HttpError(503, "Cannot check credentials now: the identity provider's keys are unavailable", { cause: error });
  }
  if (caller) return caller;
  res.setHeader("WWW-Authenticate", auth.challenge(req));
  throw new HttpError(401, "This agent needs Authorization: Bearer <token> (see securitySchemes in its agent card)");
}

async function handleRpc(
  agent: Agent, req: IncomingMessage, res: ServerResponse, body: Buffer,
  options: { heartbeatMs: number; maxStreamLifetimeMs: number | undefined; logError: (error: unknown) => void; caller: Caller | undefined },
): Promise<void> {
  const { heartbeatMs, maxStreamLifetimeMs, logError, caller } = options;
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
    checkA2AVersion(req.headers["a2a-version"], ["1.0", "0.3"]);
    // The method name picks the shapes: a v0.3 name gets v0.3 in and out, whatever the header says.
    const result = isV03Method(rpc.method) ? await callV03(agent, rpc.method, rpc.params, caller) : await callMethod(agent, rpc.method, rpc.params, caller);
    if (isEventStream(result)) return await writeSse(res, result, { format: (event) => ({ jsonrpc: "2.0", id, result: event }), heartbeatMs, maxLifetimeMs: maxStreamLifetimeMs });
    sendJson(res, 200, { jsonrpc: "2.0", id, result });
  } catch (error) {
    if (error instanceof A2AError) return sendRpcError(res, id, error);
    if (res.headersSent) throw error;
    // Our fault (a full disk, a bug): the client gets -32603, the detail stays in the log.
    logError(error);
    return sendRpcError(res, id, new A2AError(ERROR_CODES.INTERNAL_ERROR, "Internal error: the agent could not complete the request"));
  }
}

function sendRpcError(res: ServerResponse, id: RpcId, error: A2AError): void {
  sendJson(res, 200, { jsonrpc: "2.0", id, error: error.toJsonRpc() });
}
