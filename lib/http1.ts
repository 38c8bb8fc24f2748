/**
 * A small HTTP/1.1 client for one job: POST a webhook and learn the answer's status and headers.
 *
 * Connections are kept alive and pooled per origin, one request at a time on each (no
 * pipelining). An answer is settled as soon as its headers are in; its body is then read away only
 * to reuse the connection, and only when `Content-Length` frames it and it is small. Any other
 * framing (chunked, until close), `Connection: close`, HTTP/1.0, or a byte the client did not ask
 * for closes the connection instead, which is always correct and only costs a new connection.
 *
 * Why not `node:http`: on the 2-core machine of `scripts/bench.ts` its client costs ~27 us of CPU
 * per POST once warm and ~117 us over a process's first 2,000; this one costs ~15 and ~51
 * (`npx tsx scripts/bench.ts --only client`), and an agent spends most of its time sending webhooks.
 *
 * @module
 */

import { connect as netConnect } from "node:net";
import type { LookupFunction, Socket } from "node:net";
import { setTimeout, clearTimeout } from "node:timers";
import { connect as tlsConnect } from "node:tls";
import { HttpProtocolError, TOKEN, bodyFraming, parseHead, readBody } from "./http1_answer.ts";
import type { BodyReader } from "./http1_answer.ts";

/** The answer to a POST: the status and the header fields (lower-case names, repeats joined with ", "). */
export interface PostResponse {
  status: number;
  headers: Map<string, string>;
}

/** Options of {@linkcode Http1Client}. */
export interface Http1ClientOptions {
  /** Connections per origin; further requests wait for one. @default 8 */
  maxSocketsPerOrigin?: number;
  /** Origins whose connections are kept; the least recently used one is closed past this. @default 256 */
  maxOrigins?: number;
  /** An idle connection is closed after this long, or 1 s before the server's `Keep-Alive: timeout`. @default 4000 */
  idleMs?: number;
  /** Resolves host names before connecting (the SSRF guard). @default the system resolver */
  lookup?: LookupFunction;
  /** Longest status line and header block accepted. @default 16384 */
  maxHeaderBytes?: number;
  /** Longest body read away to keep a connection; a longer one closes it. @default 65536 */
  maxDiscardBytes?: number;
  /** Certificates to trust for `https:` instead of the system's. @default the system's */
  ca?: string | Buffer | Array<string | Buffer>;
}

const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Fields the client writes itself: one given by the caller would frame the request twice. */
const OWN_FIELDS = new Set(["host", "content-length", "transfer-encoding", "connection"]);
const MAX_TIMER_MS = 2 ** 31 - 1;
const HEAD_END = Buffer.from("\r\n\r\n");

/** One request, from the call until it is settled. */
interface Exchange {
  bytes: Buffer;
  resolve: (response: PostResponse) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  settled: boolean;
  /** Sent again once, on a new connection, when a reused one closed before any answer. */
  retried: boolean;
  connection?: Connection;
}

/** The connections of one origin. */
interface Pool {
  key: string;
  host: string;
  port: number;
  secure: boolean;
  /** Open connections are exactly these two: idle ones, and busy (or connecting) ones. */
  idle: Connection[];
  busy: Set<Connection>;
  waiting: Exchange[];
  evicted: boolean;
}

type Options = Required<Omit<Http1ClientOptions, "lookup" | "ca">> & Pick<Http1ClientOptions, "lookup" | "ca">;

/**
 * POSTs over pooled keep-alive HTTP/1.1 connections (TLS for `https:`).
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { Http1Client } from "./http1.ts";
 * const server = createServer((req, res) => req.resume().on("end", () => res.writeHead(204).end()));
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const client = new Http1Client();
 * const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`);
 * const { status } = await client.post(url, { "content-type": "application/json" }, Buffer.from("{}"), 1000);
 * console.log(status); // 204
 * client.close();
 * server.close();
 * ```
 */
export class Http1Client {
  #options: Options;
  #pools = new Map<string, Pool>();

  /** @param options See {@linkcode Http1ClientOptions}. */
  constructor(options: Http1ClientOptions = {}) {
    const { maxSocketsPerOrigin = 8, maxOrigins = 256, idleMs = 4000, maxHeaderBytes = 16_384, maxDiscardBytes = 65_536, lookup, ca } = options;
    this.#options = { maxSocketsPerOrigin, maxOrigins, idleMs, maxHeaderBytes, maxDiscardBytes, lookup, ca };
  }

  /**
   * Sends one POST and waits for the answer's headers.
   *
   * @param url An `http:` or `https:` URL without credentials.
   * @param headers Request header fields; `host` and `content-length` are added.
   * @param body The body.
   * @param timeoutMs Give up after this long, waiting for a connection included.
   * @returns The status and the header fields.
   * @throws {TypeError} (as the rejection) If a header name or value cannot be sent.
   * @throws {HttpProtocolError} (as the rejection) If the server's answer is not HTTP/1.1.
   */
  post(url: URL, headers: Record<string, string>, body: Uint8Array, timeoutMs: number): Promise<PostResponse> {
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN.test(name)) return Promise.reject(new TypeError(`Cannot send header name ${JSON.stringify(name)}: not an HTTP token`));
      if (OWN_FIELDS.has(name.toLowerCase())) return Promise.reject(new TypeError(`Cannot send header ${name}: the client sets it`));
      if (!FIELD_VALUE.test(value)) return Promise.reject(new TypeError(`Cannot send header ${name}: its value holds a control or non-Latin-1 character`));
      head += `${name}: ${value}\r\n`;
    }
    head += `content-length: ${body.length}\r\n\r\n`;
    const bytes = Buffer.concat([Buffer.from(head, "latin1"), body]);
    return new Promise<PostResponse>((resolve, reject) => {
      const pool = this.#poolFor(url);
      const exchange: Exchange = {
        bytes,
        resolve: (response) => settle(exchange, () => resolve(response)),
        reject: (error) => settle(exchange, () => reject(error)),
        timer: setTimeout(() => this.#timeOut(pool, exchange, timeoutMs), Math.min(timeoutMs, MAX_TIMER_MS)),
        settled: false,
        retried: false,
      };
      this.#dispatch(pool, exchange);
    });
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    for (const pool of this.#pools.values()) this.#evict(pool, new Error("the client was closed"));
    this.#pools.clear();
  }

  /** Open connections, for tests and metrics. */
  get openConnections(): number {
    let open = 0;
    for (const pool of this.#pools.values()) open += pool.idle.length + pool.busy.size;
    return open;
  }

  /** Connections waiting, idle, for a request. */
  get idleConnections(): number {
    let idle = 0;
    for (const pool of this.#pools.values()) idle += pool.idle.length;
    return idle;
  }

  #poolFor(url: URL): Pool {
    const secure = url.protocol === "https:";
    const key = `${url.protocol}//${url.host}`;
    let pool = this.#pools.get(key);
    if (pool) {
      this.#pools.delete(key); // Most recently used last, so the first entry is the one to evict.
    } else {
      const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
      pool = { key, host, port: Number(url.port) || (secure ? 443 : 80), secure, idle: [], busy: new Set(), waiting: [], evicted: false };
      if (this.#pools.size >= this.#options.maxOrigins) {
        // The least recently used origin with nothing in flight; one in use is never forgotten
        // (the bound is on idle connections kept, so a busy moment may pass it).
        for (const old of this.#pools.values()) {
          if (old.busy.size > 0 || old.waiting.length > 0) continue;
          this.#pools.delete(old.key);
          this.#evict(old);
          break;
        }
      }
    }
    this.#pools.set(key, pool);
    return pool;
  }

  /** Closes the pool's idle connections, and with an error fails its waiting and busy requests. */
  #evict(pool: Pool, error?: Error): void {
    pool.evicted = true;
    for (const connection of pool.idle.splice(0)) connection.close();
    if (!error) return;
    for (const exchange of pool.waiting.splice(0)) exchange.reject(error);
    for (const connection of pool.busy) connection.abort(error);
  }

  #dispatch(pool: Pool, exchange: Exchange, first = false): void {
    if (exchange.settled) return;
    const idle = pool.idle.pop();
    if (idle) return this.#start(pool, idle, exchange);
    if (pool.busy.size < this.#options.maxSocketsPerOrigin) { // No idle one: all open ones are busy.
      return this.#start(pool, new Connection(pool, this.#options, this), exchange);
    }
    if (first) pool.waiting.unshift(exchange);
    else pool.waiting.push(exchange);
  }

  #start(pool: Pool, connection: Connection, exchange: Exchange): void {
    pool.busy.add(connection);
    exchange.connection = connection;
    connection.start(exchange);
  }

  /** A connection is done with its exchange: free for the next one, or closed. Called by connections. */
  released(connection: Connection, reusable: boolean): void {
    const { pool } = connection;
    pool.busy.delete(connection);
    if (reusable && !pool.evicted) {
      const next = pool.waiting.shift();
      if (next) return this.#start(pool, connection, next);
      pool.idle.push(connection);
      connection.park();
      return;
    }
    if (reusable) connection.close();
    const next = pool.waiting.shift();
    if (next) this.#dispatch(pool, next);
  }

  /** An idle connection closed (the server, or the idle timer). Called by connections. */
  closedWhileIdle(connection: Connection): void {
    const { pool } = connection;
    const index = pool.idle.indexOf(connection);
    if (index !== -1) pool.idle.splice(index, 1); // Not there if evicted: no longer counted.
  }

  /** A reused connection closed before any byte of an answer: the server had most likely closed it first. Called by connections. */
  retry(connection: Connection, exchange: Exchange): void {
    exchange.retried = true;
    exchange.connection = undefined;
    this.#dispatch(connection.pool, exchange, true); // It waited its turn already.
  }

  #timeOut(pool: Pool, exchange: Exchange, timeoutMs: number): void {
    const error = new Error(`no answer within ${timeoutMs} ms`);
    const index = pool.waiting.indexOf(exchange);
    if (index !== -1) pool.waiting.splice(index, 1);
    exchange.reject(error);
    exchange.connection?.abort(error);
  }
}

function settle(exchange: Exchange, done: () => void): void {
  if (exchange.settled) return;
  exchange.settled = true;
  clearTimeout(exchange.timer);
  done();
}

/** One keep-alive connection and the parser of its answers. */
class Connection {
  readonly pool: Pool;
  #socket: Socket;
  #options: Options;
  #client: Http1Client;
  #exchange: Exchange | undefined;
  /** Bytes of an answer's head, while incomplete. */
  #head: Buffer = Buffer.alloc(0);
  /** The answer's body being read away, once its head is in. */
  #body: BodyReader | undefined;
  /** It has carried a whole exchange. */
  #used = false;
  /** Some byte of the current answer has arrived. */
  #gotBytes = false;
  #closed = false;
  #parked = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #idleMs: number;

  constructor(pool: Pool, options: Options, client: Http1Client) {
    this.pool = pool;
    this.#options = options;
    this.#idleMs = options.idleMs;
    this.#client = client;
    const { host, port, secure } = pool;
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host; // SNI takes names only.
    this.#socket = secure
      ? tlsConnect({ host, port, servername, lookup: options.lookup, ca: options.ca, ALPNProtocols: ["http/1.1"] })
      : netConnect({ host, port, lookup: options.lookup });
    this.#socket.setNoDelay(true);
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on("error", (error) => this.#onClosed(error));
    this.#socket.on("close", () => this.#onClosed());
  }

  start(exchange: Exchange): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#parked = false;
    this.#socket.ref();
    this.#exchange = exchange;
    this.#gotBytes = false;
    this.#socket.write(exchange.bytes);
  }

  /** Waits, idle, for the next exchange; closes after the idle time. */
  park(): void {
    this.#parked = true;
    this.#socket.unref();
    this.#idleTimer = setTimeout(() => this.#socket.destroy(), this.#idleMs);
    this.#idleTimer.unref();
  }

  /** Closes without a word to the client (it no longer counts this connection). */
  close(): void {
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#socket.destroy();
  }

  /** Closes while busy: the current exchange fails with `error`. */
  abort(error: Error): void {
    this.#exchange?.reject(error);
    this.#socket.destroy();
  }

  #onClosed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#parked) return this.#client.closedWhileIdle(this);
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#client.released(this, false);
    if (!exchange || exchange.settled) return;
    // A reused connection that closes before a byte of the answer: the server had closed it
    // while idle and never saw the request, most likely. One more try on another connection
    // (a receiver deduplicates by webhook-id should it have seen it after all).
    if (this.#used && !this.#gotBytes && !exchange.retried) return this.#client.retry(this, exchange);
    exchange.reject(error ?? new Error("the connection closed before an answer"));
  }

  #fail(error: Error): void {
    this.#exchange?.reject(error);
    this.#onClosed(error);
  }

  #onData(chunk: Buffer): void {
    this.#gotBytes = true;
    if (!this.#exchange && !this.#body) return this.#fail(new HttpProtocolError("the server sent bytes while no request was waiting"));
    let rest = chunk;
    while (rest.length > 0 && !this.#closed) {
      if (this.#body) {
        const error = readBody(this.#body, rest);
        if (error) return this.#fail(error);
        if (this.#body.discarded > this.#options.maxDiscardBytes) return this.#onClosed(); // Not worth reading.
        if (this.#body.state === "done") this.#bodyRead();
        return;
      }
      this.#head = this.#head.length === 0 ? rest : Buffer.concat([this.#head, rest]);
      const end = this.#head.indexOf(HEAD_END);
      if (end === -1 ? this.#head.length > this.#options.maxHeaderBytes : end > this.#options.maxHeaderBytes) {
        return this.#fail(new HttpProtocolError(`the answer's headers exceed ${this.#options.maxHeaderBytes} bytes`));
      }
      if (end === -1) return;
      const head = this.#head.subarray(0, end).toString("latin1");
      rest = this.#head.subarray(end + 4);
      this.#head = Buffer.alloc(0);
      let parsed: ReturnType<typeof parseHead>;
      try {
        parsed = parseHead(head);
      } catch (error) {
        return this.#fail(error as Error);
      }
      const { status, headers, minor } = parsed;
      if (status === 101) return this.#fail(new HttpProtocolError("the server switched protocols unasked"));
      if (status < 200) continue; // 100 Continue, 103 Early Hints: the answer follows.
      this.#exchange!.resolve({ status, headers });
      this.#exchange = undefined;
      const body = bodyFraming(status, headers, minor);
      if (!body || /\bclose\b/i.test(headers.get("connection") ?? "")) {
        return this.#onClosed(); // Settled already: this only closes and frees the slot.
      }
      const hint = /\btimeout=(\d+)/i.exec(headers.get("keep-alive") ?? "");
      if (hint) this.#idleMs = Math.min(this.#options.idleMs, Number(hint[1]) * 1000 - 1000);
      this.#body = body;
      if (body.state === "done" && rest.length === 0) return this.#bodyRead();
      // The request is settled; a body that stalls must not hold the connection (or the
      // process) for ever: it gets the idle time to arrive, and holds no reference meanwhile.
      this.#socket.unref();
      this.#idleTimer = setTimeout(() => this.#onClosed(), this.#options.idleMs);
      this.#idleTimer.unref();
    }
  }

  #bodyRead(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#body = undefined;
    this.#used = true;
    if (this.#idleMs <= 0) return this.#onClosed();
    this.#client.released(this, true);
  }
}
