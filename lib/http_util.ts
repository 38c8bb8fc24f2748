/**
 * The HTTP plumbing every server here shares (the agent's, and the webhook receiver's): one ordered
 * route table and its dispatch (404, 405 with `Allow`), the request body read under a size limit
 * (413 before buffering), JSON answers, the SSE response writer, and the `Content-Type` and
 * `A2A-Version` checks. It leaves out what any route means: no agent, no journal, no verification,
 * so a server that needs only this file does not drag the agent along.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { clearTimeout, setInterval, setTimeout } from "node:timers";
import type { Caller } from "./auth.ts";
import { A2AError, ERROR_CODES } from "./errors.ts";
import { formatSseData } from "./sse.ts";

/** The media types a JSON body may be sent as; a missing `Content-Type` counts as the first. */
const JSON_MEDIA_TYPES = new Set(["application/json", "application/a2a+json"]);

/**
 * A transport failure with the HTTP status it is answered with (413 for a body over the limit,
 * 415 for a body that is not JSON...). The route table turns it into the answer.
 *
 * @example Refuse a request
 * ```ts
 * import { HttpError } from "./http_util.ts";
 * const error = new HttpError(415, "Content-Type text/plain is not supported");
 * console.log(error.status); // 415
 * ```
 */
export class HttpError extends Error {
  override name = "HttpError";
  /** The HTTP status to answer with. */
  readonly status: number;

  /**
   * @param status The HTTP status (4xx).
   * @param message The reason, a sentence the client is shown.
   * @param options `cause`.
   */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** What a route's handler gets besides the request and the response. */
export interface RouteContext {
  /** The request URL, parsed. */
  url: URL;
  /** The groups of a `RegExp` path, raw (not URL-decoded). */
  params: string[];
  /** Reads the body under the server's limit; rejects with an {@linkcode HttpError} (413, 400). */
  body(): Promise<Buffer>;
  /** Who sent the request, once a server's authentication has said (`auth.ts`). */
  caller?: Caller;
}

/** Answers one request that matched its route and method. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, context: RouteContext) => Promise<void> | void;

/** One row of a route table. */
export interface Route {
  /** The path: exact, or a pattern (anchored by its author) whose groups become `params`. */
  path: string | RegExp;
  /** The handler of each method; another method gets 405 with `Allow` naming these. */
  methods: Readonly<Record<string, RouteHandler>>;
  /**
   * The JSON body of this route's refusals (405, and {@linkcode HttpError}s its handlers throw),
   * for a binding with its own error shape.
   * @default {error: reason}
   */
  errorBody?: (status: number, reason: string) => unknown;
}

/** Options of {@linkcode routeRequest}. */
export interface RouteRequestOptions {
  /** Largest body `context.body()` reads; larger ones get 413 before they are read. @default 1 MiB */
  maxBodyBytes?: number;
}

/**
 * Answers a request from a route table: the first row whose path matches takes it (405 with
 * `Allow` if the method is not one of its), no match is 404, a malformed target 400. An
 * {@linkcode HttpError} a handler throws becomes its status; anything else is rethrown, for the
 * server's own last resort (log, 500).
 *
 * @param table The routes, in match order.
 * @param req The request.
 * @param res The response.
 * @param options See {@linkcode RouteRequestOptions}.
 * @returns When the handler is done.
 * @throws {Error} Whatever a handler throws that is not an `HttpError`.
 *
 * @example A server of one route
 * ```ts
 * import { createServer } from "node:http";
 * import { routeRequest, sendJson } from "./http_util.ts";
 * import type { Route } from "./http_util.ts";
 * const table: Route[] = [{ path: "/hello", methods: { GET: (_req, res) => sendJson(res, 200, { hello: "world" }) } }];
 * const server = createServer((req, res) => void routeRequest(table, req, res)).listen(0, "127.0.0.1");
 * server.close();
 * ```
 */
export async function routeRequest(table: readonly Route[], req: IncomingMessage, res: ServerResponse, options: RouteRequestOptions = {}): Promise<void> {
  const { maxBodyBytes = 1024 * 1024 } = options;
  if (!URL.canParse(req.url ?? "/", "http://x")) return sendStatus(res, 400, "Malformed request target");
  const url = new URL(req.url ?? "/", "http://x");
  const found = findRoute(table, url.pathname);
  if (!found) return sendStatus(res, 404, `No route for ${url.pathname}`);
  const { route, params } = found;
  const { errorBody } = route;
  const refuse = (status: number, reason: string, allow?: string) => sendStatus(res, status, reason, { allow, errorBody });
  const handler = Object.hasOwn(route.methods, req.method ?? "") ? route.methods[req.method!] : undefined;
  if (!handler) {
    const allow = Object.keys(route.methods);
    return refuse(405, `Use ${allow.join(" or ")} for ${url.pathname}`, allow.join(", "));
  }
  try {
    await handler(req, res, { url, params, body: () => readBody(req, maxBodyBytes) });
  } catch (error) {
    if (!(error instanceof HttpError) || res.headersSent) throw error;
    refuse(error.status, error.message);
  }
}

/** The first route whose path matches, with the pattern's groups (none for an exact path). */
function findRoute(table: readonly Route[], pathname: string): { route: Route; params: string[] } | undefined {
  for (const route of table) {
    const params = typeof route.path === "string" ? (route.path === pathname ? [] : undefined) : route.path.exec(pathname)?.slice(1);
    if (params) return { route, params };
  }
  return undefined;
}

/**
 * Reads a request body, refusing (413) a declared or actual size over the limit before buffering it.
 *
 * @param req The request.
 * @param maxBytes The limit.
 * @returns The body.
 * @throws {HttpError} 413 when too large, 400 when the client aborts.
 *
 * @example Read a body of at most 1 KiB
 * ```ts
 * import { createServer } from "node:http";
 * import { readBody, sendJson } from "./http_util.ts";
 * const server = createServer(async (req, res) => sendJson(res, 200, { bytes: (await readBody(req, 1024)).length }));
 * server.listen(0, "127.0.0.1").close();
 * ```
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
    req.on("error", (error) => reject(new HttpError(400, `Request body could not be read: ${error.message}`, { cause: error })));
  });
}

/**
 * Sends a JSON body.
 *
 * @param res The response.
 * @param status The HTTP status.
 * @param value The body.
 * @param contentType The media type. @default "application/json"
 *
 * @example Answer 200 with JSON
 * ```ts
 * import { createServer } from "node:http";
 * import { sendJson } from "./http_util.ts";
 * createServer((_req, res) => sendJson(res, 200, { ok: true })).listen(0, "127.0.0.1").close();
 * ```
 */
export function sendJson(res: ServerResponse, status: number, value: unknown, contentType = "application/json"): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** Options of {@linkcode sendStatus}. */
export interface SendStatusOptions {
  /** The `Allow` header, for 405. */
  allow?: string;
  /** The JSON body for a reason (a binding's error shape). @default {error: reason} */
  errorBody?: (status: number, reason: string) => unknown;
}

/**
 * Sends an HTTP error with its reason, as JSON `{error: reason}` unless `errorBody` shapes it. A
 * 413 also closes the connection, since the rest of that body is not read.
 *
 * @param res The response.
 * @param status The HTTP status.
 * @param reason A sentence.
 * @param options See {@linkcode SendStatusOptions}.
 *
 * @example Refuse a method
 * ```ts
 * import { createServer } from "node:http";
 * import { sendStatus } from "./http_util.ts";
 * createServer((_req, res) => sendStatus(res, 405, "Use POST", { allow: "POST" })).listen(0, "127.0.0.1").close();
 * ```
 */
export function sendStatus(res: ServerResponse, status: number, reason: string, options: SendStatusOptions = {}): void {
  const { allow, errorBody = (_status: number, text: string) => ({ error: text }) } = options;
  if (allow) res.setHeader("Allow", allow);
  if (status === 413) res.setHeader("Connection", "close");
  sendJson(res, status, errorBody(status, reason));
}

/**
 * Checks that a request's body is JSON: `application/json` or `application/a2a+json` (parameters
 * such as `charset` aside); a request without `Content-Type` passes.
 *
 * @param req The request.
 * @throws {HttpError} 415 naming the refused media type.
 *
 * @example Refuse text
 * ```ts
 * import type { IncomingMessage } from "node:http";
 * import { checkContentType } from "./http_util.ts";
 * try {
 *   checkContentType({ headers: { "content-type": "text/plain" } } as IncomingMessage);
 * } catch (error) {
 *   console.log((error as Error).message); // "Content-Type text/plain is not supported; ..."
 * }
 * ```
 */
export function checkContentType(req: IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
  if (!JSON_MEDIA_TYPES.has(type)) {
    throw new HttpError(415, `Content-Type ${type} is not supported; send application/json or application/a2a+json`);
  }
}

/**
 * Checks the `A2A-Version` a client asked for against the versions an interface speaks. A version
 * is spoken as `1.0`, with any patch (`1.0.2`), and, for a `.0`, as its major alone (`1`); a
 * request without the header passes (the spec reads it as 0.3, which the caller handles).
 *
 * @param header The `A2A-Version` header value.
 * @param accepted The versions spoken, as `major.minor`, e.g. `["1.0", "0.3"]`.
 * @throws {A2AError} -32009 (`VERSION_NOT_SUPPORTED`) naming the version.
 *
 * @example Refuse 0.3 where only 1.0 is spoken
 * ```ts
 * import { checkA2AVersion } from "./http_util.ts";
 * checkA2AVersion("1.0.1", ["1.0"]); // passes
 * try {
 *   checkA2AVersion("0.3", ["1.0"]);
 * } catch (error) {
 *   console.log((error as Error).message); // "A2A-Version 0.3 is not supported here; this interface speaks 1.0"
 * }
 * ```
 */
export function checkA2AVersion(header: string | string[] | undefined, accepted: readonly string[]): void {
  const version = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!version) return;
  if (!accepted.some((spoken) => sameVersion(version, spoken))) {
    throw new A2AError(ERROR_CODES.VERSION_NOT_SUPPORTED, `A2A-Version ${version} is not supported here; this interface speaks ${accepted.join(" and ")}`, { version });
  }
}

/** Whether `version` names `spoken` (`major.minor`): exactly, with a patch, or as a `.0`'s major. */
function sameVersion(version: string, spoken: string): boolean {
  if (version === spoken || (spoken.endsWith(".0") && version === spoken.slice(0, -2))) return true;
  return version.startsWith(`${spoken}.`) && /^\d+$/.test(version.slice(spoken.length + 1));
}

/** A stream of values to send as SSE; `close()` stops it early (the task it follows goes on). */
export interface EventStream<T> extends AsyncIterable<T> {
  close(): void;
}

/**
 * Whether a handler's result is a stream (sent as SSE) rather than one value (sent as JSON).
 *
 * @param value A result.
 * @returns True for an async iterable with `close()`.
 *
 * @example
 * ```ts
 * import { isEventStream } from "./http_util.ts";
 * console.log(isEventStream({ id: "t1" })); // false
 * ```
 */
export function isEventStream(value: unknown): value is EventStream<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value && typeof (value as { close?: unknown }).close === "function";
}

/** Options of {@linkcode writeSse}. */
export interface WriteSseOptions<T> {
  /** The JSON each value is sent as (one `data:` line). @default the value itself */
  format?: (value: T) => unknown;
  /** Interval of the heartbeat comment that keeps proxies from closing a quiet stream. @default 15000 */
  heartbeatMs?: number;
  /** The stream ends after this long, whatever it follows; the client subscribes again. @default 30 min */
  maxLifetimeMs?: number;
}

/**
 * Answers with a stream as Server-Sent Events: headers at once, one event per value, a heartbeat
 * comment while it is quiet, and the end when the stream ends. The client leaving closes the
 * stream, not what it follows.
 *
 * @param res The response.
 * @param stream The values.
 * @param options See {@linkcode WriteSseOptions}.
 * @returns When the response has ended.
 *
 * @example Stream two values, each wrapped
 * ```ts
 * import { createServer } from "node:http";
 * import { writeSse } from "./http_util.ts";
 * async function* count() { yield 1; yield 2; }
 * const server = createServer((_req, res) => {
 *   void writeSse(res, Object.assign(count(), { close() {} }), { format: (n) => ({ n }) });
 * });
 * server.listen(0, "127.0.0.1").close();
 * ```
 */
export async function writeSse<T>(res: ServerResponse, stream: EventStream<T>, options: WriteSseOptions<T> = {}): Promise<void> {
  const { format = (value: T): unknown => value, heartbeatMs = 15_000, maxLifetimeMs = 30 * 60_000 } = options;
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), heartbeatMs);
  heartbeat.unref();
  // A stream held forever would hold its connection (and a quota slot) forever.
  const lifetime = setTimeout(() => stream.close(), Math.min(maxLifetimeMs, 2 ** 31 - 1));
  lifetime.unref();
  res.on("close", () => stream.close());
  try {
    for await (const value of stream) {
      if (res.destroyed) break;
      res.write(formatSseData(format(value)));
    }
  } finally {
    clearInterval(heartbeat);
    clearTimeout(lifetime);
    res.end();
  }
}
