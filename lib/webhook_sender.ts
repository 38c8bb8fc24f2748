/**
 * Sends one webhook attempt and says how it went. It signs (Standard Webhooks headers, an ES256
 * JWT or the config's own `Authorization`, the A2A token header) and POSTs with `node:http(s)`:
 * one keep-alive `Agent` per protocol (connections bounded per origin and in all, idle ones closed
 * after a few seconds), the SSRF guard as every connection's `lookup` (IP literals, which skip
 * it, are checked here first), one deadline per attempt over connecting, the answer's headers and
 * its body, and one retry on a fresh connection when a kept one was closed under the request.
 * Left out: redirects (a 3xx is a failure), the answer's body (read away, up to 64 KiB, only to
 * reuse the connection), and deciding what to do next (the outbox's job).
 *
 * @module
 */

import { Agent as HttpAgent, request as httpRequest } from "node:http";
import type { IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { clearTimeout, setTimeout } from "node:timers";
import { urlToHttpOptions } from "node:url";
import { I32_MAX, parseRetryAfter } from "./backoff.ts";
import { signJwt, signJwtAsync, signStandardWebhook, webhookJwtClaims } from "./signing.ts";
import type { SigningKey, SigningKeys } from "./signing.ts";
import { checkWebhookUrl, guardedLookup } from "./ssrf.ts";
import type { LookupFunction, ResolverFunction, SsrfOptions } from "./ssrf.ts";
import type { AuthenticationInfo } from "./types.ts";

/** One attempt to deliver. */
export interface WebhookAttempt {
  /** The `webhook-id`: the same on every attempt of one event. */
  id: string;
  taskId: string;
  url: string;
  /** The exact body. */
  body: string;
  token?: string;
  authentication?: AuthenticationInfo;
  /** Give up on this attempt sooner than the sender's `timeoutMs` (never later): the outbox shortens it for an origin that keeps timing out. @default the sender's */
  timeoutMs?: number;
}

/** How an attempt went. */
export interface SendOutcome {
  /** 2xx. */
  ok: boolean;
  /** The HTTP status, if one came back. */
  status?: number;
  /** `Retry-After` of a 429/503, in ms, clamped to 1 s .. 6 h. */
  retryAfterMs?: number;
  /** A sentence for the log and the dead letter. */
  error?: string;
  /** No answer came within the timeout. */
  timedOut?: boolean;
}

/** Options of {@linkcode WebhookSender}. */
export interface WebhookSenderOptions {
  /** Standard Webhooks secrets (decoded); one `v1,` signature each. @default [] */
  secrets?: Buffer[];
  /** The agent's current signing keys, for the JWT; none, no JWT. */
  keys?: () => SigningKeys | undefined;
  /** The agent's URL, the JWT's `iss`. @default "" */
  issuer?: () => string;
  /** Give up on an attempt after this long: connecting, waiting for the answer, reading it. @default 10000 */
  timeoutMs?: number;
  /** SSRF guard options. @default guard on, no private targets */
  ssrf?: SsrfOptions;
  /** DNS resolver for the guard (tests inject one). */
  resolver?: ResolverFunction;
  /** Connections per origin. @default 64 */
  maxSocketsPerOrigin?: number;
  /** CA certificates to trust for `https:` instead of the system's (a private CA, tests); never unverified. @default the system's */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

const USER_AGENT = "a2a-push/0.1";
/** Connections open at once, busy or idle, over all origins: webhooks to many hosts cannot use up file descriptors. */
const MAX_SOCKETS = 256;
/** An idle kept-alive connection is closed after this long, or 1 s before the receiver's `Keep-Alive: timeout`. */
const IDLE_SOCKET_MS = 4000;
/** The longest answer body read away to keep a connection; past this the connection is closed instead. */
const MAX_DRAIN_BYTES = 64 * 1024;
/** Informational (1xx) answers taken before the final one; `node:http` itself sets no bound. */
const MAX_INFORMATIONAL = 8;
const RETRY_AFTER_CLAMP_MS = { minMs: 1000, maxMs: 6 * 3600 * 1000 };
/** Longest delay `setTimeout` takes (a longer one fires at once). */
const MAX_TIMER_MS = I32_MAX;
/** Webhook URLs whose check and request options are kept, so each attempt does not parse its URL again. */
const MAX_CACHED_TARGETS = 10_000;
/** A header value `node:http` sends as it is: no CR or LF to split the request, no other control character. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Delivers webhook attempts.
 *
 * @example Send to an address nobody listens on
 * ```ts
 * import { WebhookSender } from "./webhook_sender.ts";
 * const sender = new WebhookSender({ ssrf: { allowPrivate: true }, timeoutMs: 1000 });
 * const outcome = await sender.send({ id: "msg_1", taskId: "t1", url: "http://127.0.0.1:9/none", body: "{}" });
 * console.log(outcome.ok); // false: nothing listens there
 * sender.close();
 * ```
 */
export class WebhookSender {
  #options: WebhookSenderOptions;
  #http: HttpAgent;
  #https: HttpsAgent;
  #connect: { lookup: LookupFunction; ca?: WebhookSenderOptions["ca"] }; // For every connection, kept or fresh.
  /** Per webhook URL: the checked URL and its request options (host, port, path), made once. */
  #targets = new Map<string, { secure: boolean; options: ReturnType<typeof urlToHttpOptions> }>();

  /**
   * @param options See {@linkcode WebhookSenderOptions}.
   * @throws {RangeError} If `timeoutMs` or `maxSocketsPerOrigin` is not a positive number.
   * @throws {TypeError} If an SSRF `allowlist` entry is malformed.
   */
  constructor(options: WebhookSenderOptions = {}) {
    const { timeoutMs = 10_000, maxSocketsPerOrigin = 64, ssrf, resolver, ca } = options;
    if (!(timeoutMs > 0)) throw new RangeError(`Cannot create a webhook sender: timeoutMs must be positive, got ${timeoutMs}`);
    if (!(Number.isInteger(maxSocketsPerOrigin) && maxSocketsPerOrigin > 0)) throw new RangeError(`Cannot create a webhook sender: maxSocketsPerOrigin must be a positive integer, got ${maxSocketsPerOrigin}`);
    this.#options = options;
    const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS, maxSockets: maxSocketsPerOrigin, maxTotalSockets: Math.max(MAX_SOCKETS, maxSocketsPerOrigin) };
    this.#http = new HttpAgent(agentOptions);
    this.#https = new HttpsAgent(agentOptions);
    this.#connect = { lookup: guardedLookup({ ...ssrf, resolver }), ca };
  }

  /**
   * The headers of one attempt. Exposed for tests and for anyone checking what a receiver gets.
   *
   * @param attempt The attempt.
   * @returns Header names (lower case) and values.
   */
  headers(attempt: WebhookAttempt): Record<string, string> {
    const { headers, claims, key } = this.#unsigned(attempt);
    if (claims) headers.authorization = `Bearer ${signJwt(claims, key!)}`;
    return headers;
  }

  /** The headers, and the JWT claims still to sign (the agent's own JWT, when no credentials). */
  #unsigned(attempt: WebhookAttempt): { headers: Record<string, string>; claims?: Record<string, unknown>; key?: SigningKey } {
    const { secrets = [], issuer = () => "", now = Date.now } = this.#options;
    const keys = this.#options.keys?.();
    const timestamp = Math.floor(now() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/a2a+json",
      "user-agent": USER_AGENT,
      "webhook-id": attempt.id,
      "webhook-timestamp": String(timestamp),
    };
    if (secrets.length > 0) headers["webhook-signature"] = signStandardWebhook(attempt.id, timestamp, attempt.body, secrets);
    if (attempt.token) headers["x-a2a-notification-token"] = attempt.token;
    // The config's own credentials win, as the spec says; a scheme without credentials says only
    // how to authenticate, so the agent's own JWT is sent as the Bearer token then.
    if (attempt.authentication?.credentials) {
      const { scheme, credentials } = attempt.authentication;
      headers.authorization = `${scheme} ${credentials}`;
      return { headers };
    }
    if (!keys) return { headers };
    const claims = webhookJwtClaims({ issuer: issuer(), audience: attempt.url, webhookId: attempt.id, taskId: attempt.taskId, body: attempt.body, now: now() });
    return { headers, claims, key: keys.current };
  }

  /**
   * Makes one attempt: refused before anything is sent if the URL or a header value is unsafe.
   *
   * @param attempt The attempt.
   * @returns How it went; never rejects.
   */
  async send(attempt: WebhookAttempt): Promise<SendOutcome> {
    const { timeoutMs: ownTimeoutMs = 10_000 } = this.#options;
    const timeoutMs = attempt.timeoutMs !== undefined && attempt.timeoutMs > 0 ? Math.min(attempt.timeoutMs, ownTimeoutMs) : ownTimeoutMs;
    let target: { secure: boolean; options: ReturnType<typeof urlToHttpOptions> };
    let headers: Record<string, string>;
    try {
      target = this.#target(attempt.url);
      const unsigned = this.#unsigned(attempt);
      headers = unsigned.headers;
      const unsafe = Object.keys(headers).find((name) => !FIELD_VALUE.test(headers[name]!));
      if (unsafe) throw new TypeError(`Cannot send header ${unsafe}: its value holds a CR, LF or other control or non-Latin-1 character`);
      // Signed on the thread pool: the ECDSA signature is the costliest step of an attempt.
      if (unsigned.claims) headers.authorization = `Bearer ${await signJwtAsync(unsigned.claims, unsigned.key!)}`;
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    // A string body goes out in one write with the head; a Buffer would cost a writev of two.
    const body = attempt.body;
    headers["content-length"] = String(Buffer.byteLength(body));
    const started = performance.now();
    const outcome = await this.#post(target, headers, body, timeoutMs, false);
    if (outcome !== "retry") return outcome;
    // The same webhook-id: a receiver that saw the first request after all deduplicates this one.
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    return await this.#post(target, headers, body, left, true) as SendOutcome;
  }

  /** The URL checked by the SSRF guard (literal addresses; names are judged at connect) and its request options. */
  #target(url: string): { secure: boolean; options: ReturnType<typeof urlToHttpOptions> } {
    let target = this.#targets.get(url);
    if (target === undefined) {
      const checked = checkWebhookUrl(url, this.#options.ssrf);
      target = { secure: checked.protocol === "https:", options: urlToHttpOptions(checked) };
      if (this.#targets.size >= MAX_CACHED_TARGETS) this.#targets.clear();
      this.#targets.set(url, target);
    }
    return target;
  }

  /**
   * One POST. "retry" when a reused connection failed before any byte of an answer: the receiver
   * had most likely closed it while idle, just as the request went out, and never saw it.
   */
  #post(target: { secure: boolean; options: ReturnType<typeof urlToHttpOptions> }, headers: Record<string, string>, body: string, timeoutMs: number, fresh: boolean): Promise<SendOutcome | "retry"> {
    const { secure } = target;
    // A fresh connection, outside the pool, for the retry: the pool's other idle ones to this
    // receiver may be just as stale.
    const agent = fresh ? false : secure ? this.#https : this.#http;
    return new Promise((resolve) => {
      let answer: SendOutcome | undefined;
      let bytesBefore = 0;
      let informational = 0;
      let settled = false;
      const finish = (outcome: SendOutcome | "retry") => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const req = (secure ? httpsRequest : httpRequest)({ ...target.options, method: "POST", headers, agent, ...this.#connect });
      // Also while waiting for a connection: a request queued in the agent hears nothing until
      // it gets one.
      const timer = setTimeout(() => {
        const error = new Error(`no answer within ${Math.round(timeoutMs)} ms`);
        req.destroy(error);
        finish(answer ?? { ok: false, error: error.message, timedOut: true });
      }, Math.min(timeoutMs, MAX_TIMER_MS));
      req.on("socket", (socket) => {
        // Deno's node:http sends a request again, on another connection, after it failed with a
        // parse error on a kept one; unwatched, that request could hold the connection for ever.
        if (settled) return socket.destroy();
        bytesBefore = socket.bytesRead;
      });
      req.on("information", () => {
        if (++informational > MAX_INFORMATIONAL) req.destroy(new Error(`the receiver sent more than ${MAX_INFORMATIONAL} informational (1xx) answers`));
      });
      req.on("response", (res) => {
        // The status decides; the body is read away only to reuse the connection.
        answer = judge(res, (this.#options.now ?? Date.now)());
        let drained = 0;
        res.on("data", (chunk: Buffer) => {
          drained += chunk.length;
          if (drained > MAX_DRAIN_BYTES) req.destroy(); // Closing costs only a new connection.
        });
        res.on("end", () => finish(answer!));
        res.on("close", () => finish(answer!)); // Cut, destroyed, or timed out.
      });
      req.on("error", (error) => {
        const unanswered = req.reusedSocket && req.socket?.bytesRead === bytesBefore;
        finish(answer ?? (unanswered && !fresh ? "retry" : { ok: false, error: error.message }));
      });
      req.end(body);
    });
  }

  /** Closes every pooled connection, idle or busy; attempts on them fail. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/** What a final answer means for the outbox. */
function judge(res: IncomingMessage, now: number): SendOutcome {
  const status = res.statusCode ?? 0;
  const outcome: SendOutcome = { ok: status >= 200 && status < 300, status };
  if (!outcome.ok) outcome.error = `HTTP ${status}${status >= 300 && status < 400 ? " (redirects are not followed)" : ""}`;
  if (status === 429 || status === 503) {
    const ms = parseRetryAfter(res.headers["retry-after"], now, RETRY_AFTER_CLAMP_MS);
    if (ms !== undefined) outcome.retryAfterMs = ms;
  }
  return outcome;
}
