/**
 * Sends one webhook attempt and says how it went. It signs (Standard Webhooks headers, an ES256
 * JWT or the config's own `Authorization`, the A2A token header), connects through the SSRF guard
 * (IP literals checked here, names checked in the `lookup` hook for every resolved address),
 * reuses a keep-alive connection per origin, never follows a redirect, and gives up after a
 * timeout. Deciding what to do next is the outbox's job.
 *
 * @module
 */

import { parseRetryAfter } from "./backoff.ts";
import { Http1Client } from "./http1.ts";
import { signJwt, signJwtAsync, signStandardWebhook, webhookJwtClaims } from "./signing.ts";
import type { SigningKey, SigningKeys } from "./signing.ts";
import { checkWebhookUrl, guardedLookup } from "./ssrf.ts";
import type { ResolverFunction, SsrfOptions } from "./ssrf.ts";
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
}

/** How an attempt went. */
export interface SendOutcome {
  /** 2xx. */
  ok: boolean;
  /** The HTTP status, if one came back. */
  status?: number;
  /** `Retry-After` of a 429/503, in ms, clamped. */
  retryAfterMs?: number;
  /** A sentence for the log and the dead letter. */
  error?: string;
}

/** Options of {@linkcode WebhookSender}. */
export interface WebhookSenderOptions {
  /** Standard Webhooks secrets (decoded); one `v1,` signature each. @default [] */
  secrets?: Buffer[];
  /** The agent's current signing keys, for the JWT; none, no JWT. */
  keys?: () => SigningKeys | undefined;
  /** The agent's URL, the JWT's `iss`. @default "" */
  issuer?: () => string;
  /** Give up on an attempt after this long. @default 10000 */
  timeoutMs?: number;
  /** SSRF guard options. @default guard on, no private targets */
  ssrf?: SsrfOptions;
  /** DNS resolver for the guard (tests inject one). */
  resolver?: ResolverFunction;
  /** Connections per origin. @default 64 */
  maxSocketsPerOrigin?: number;
  /** Clamp for `Retry-After`. @default { minMs: 1000, maxMs: 6 hours } */
  retryAfterClampMs?: { minMs: number; maxMs: number };
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

const USER_AGENT = "a2a-push/0.1";
/** Origins whose connections are kept at once; the least recently used one is closed past this. */
const MAX_ORIGINS = 256;

/**
 * Delivers webhook attempts.
 *
 * @example
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
  #client: Http1Client;

  /** @param options See {@linkcode WebhookSenderOptions}. */
  constructor(options: WebhookSenderOptions = {}) {
    this.#options = options;
    // Idle keep-alive connections close after a few seconds (sooner if the receiver says so);
    // the number of origins kept is bounded, so webhooks to many distinct hosts cannot use up
    // the agent's file descriptors.
    this.#client = new Http1Client({
      lookup: guardedLookup({ ...options.ssrf, resolver: options.resolver }),
      maxSocketsPerOrigin: options.maxSocketsPerOrigin ?? 64,
      maxOrigins: MAX_ORIGINS,
    });
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
   * Makes one attempt.
   *
   * @param attempt The attempt.
   * @returns How it went; never rejects.
   */
  async send(attempt: WebhookAttempt): Promise<SendOutcome> {
    const { timeoutMs = 10_000, now = Date.now, retryAfterClampMs = { minMs: 1000, maxMs: 6 * 3600 * 1000 } } = this.#options;
    let url: URL;
    let headers: Record<string, string>;
    try {
      url = checkWebhookUrl(attempt.url, this.#options.ssrf);
      const unsigned = this.#unsigned(attempt);
      headers = unsigned.headers;
      // Signed on the thread pool: the ECDSA signature is the costliest step of an attempt.
      if (unsigned.claims) headers.authorization = `Bearer ${await signJwtAsync(unsigned.claims, unsigned.key!)}`;
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    const body = Buffer.from(attempt.body);
    try {
      const { status, headers: answer } = await this.#client.post(url, headers, body, timeoutMs);
      const outcome: SendOutcome = { ok: status >= 200 && status < 300, status };
      if (!outcome.ok) outcome.error = `HTTP ${status}${status >= 300 && status < 400 ? " (redirects are not followed)" : ""}`;
      if (status === 429 || status === 503) {
        const ms = parseRetryAfter(answer.get("retry-after"), now(), retryAfterClampMs);
        if (ms !== undefined) outcome.retryAfterMs = ms;
      }
      return outcome;
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  /** Closes idle connections. */
  close(): void {
    this.#client.close();
  }
}
