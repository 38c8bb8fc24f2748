/**
 * Checks OIDC bearer tokens for the agent: a JWT signed by the configured issuer with RS256 or
 * ES256, for this agent (`aud`), within its validity window, naming a subject, which becomes the
 * caller's principal. The issuer's keys are found through its discovery document (`jwks_uri`) and
 * cached (`remote_cache.ts`). Left out: reading the `Authorization` header and deciding what a
 * principal may do (the server's part), opaque tokens and introspection, encrypted tokens (JWE),
 * keys named in the token itself (`jku`, `x5u`, `jwk`: never trusted), and every other alg.
 *
 * @module
 */

import type { KeyObject } from "node:crypto";
import { AuthenticationError } from "./errors.ts";
import { fetchJwks } from "./jwks_cache.ts";
import type { JwkKey } from "./jwks_cache.ts";
import { escapeLogText } from "./log_text.ts";
import { RemoteCache, checkDurations, fetchJson } from "./remote_cache.ts";
import { decodeJwtSegment, splitCompactJws, verifyJwsSignature } from "./verify.ts";

/**
 * The longest token {@linkcode OidcVerifier.verify} reads. Real ID and access tokens stay within a
 * few KiB; the bound keeps the work an unauthenticated caller can ask for small.
 */
export const MAX_TOKEN_CHARS = 16 * 1024;

/** Hosts allowed over plain http, for tests and issuers on the same machine. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);
/** How much of a claim a message quotes. */
const SHOWN_CHARS = 80;

/** Options of {@linkcode OidcVerifier}. */
export interface OidcOptions {
  /** The issuer URL, exactly as its tokens' `iss` spell it: https, or http on a loopback host. */
  issuer: string;
  /** This agent's identifier, which the token's `aud` (a string or an array) must contain. */
  audience: string;
  /** The fetch to use. @default {globalThis.fetch} */
  fetch?: typeof fetch;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
  /** How far `exp`, `nbf` and `iat` may be off, for clocks that drift. @default {60} */
  clockToleranceSeconds?: number;
  /** How long fetched keys are trusted. @default {600_000} */
  maxAgeMs?: number;
  /** The least time between two fetches, however many unknown kids arrive. @default {30_000} */
  minRefetchIntervalMs?: number;
  /** The least time before trying again after a fetch that failed. @default {1_000} */
  failureRetryIntervalMs?: number;
  /** How long one fetch (discovery or JWKS) may take. @default {10_000} */
  timeoutMs?: number;
}

/** Who a verified token says the caller is. */
export interface OidcIdentity {
  /** The token's `sub`: a non-empty string, unique within the issuer. */
  principal: string;
  /** Every claim of the token, verified or not: read others at your own judgement. */
  claims: Record<string, unknown>;
}

/**
 * Verifies OIDC JWT bearer tokens from one issuer for one audience. Keys are fetched on the first
 * token, from the `jwks_uri` of `<issuer>/.well-known/openid-configuration` (whose `issuer` must
 * be the configured one exactly), and cached for `maxAgeMs`. A token whose `kid` is not in the
 * cache fetches them again, at most once per `minRefetchIntervalMs` (everyone waiting shares the
 * fetch), so a new key after rotation is picked up while a flood of made-up kids costs one fetch
 * per interval. After a failed fetch the wait is `failureRetryIntervalMs`, so an agent that started
 * while its issuer was down accepts tokens soon after the issuer is back.
 *
 * @example Check the bearer token of a request
 * ```ts
 * import { OidcVerifier } from "./oidc.ts";
 * const oidc = new OidcVerifier({ issuer: "https://login.example.com", audience: "https://agent.example" });
 * await oidc.verify("not-a-jwt").catch((error) => console.log(error.code)); // invalid_token
 * ```
 */
export class OidcVerifier {
  #issuer: string;
  #audience: string;
  #now: () => number;
  #toleranceSeconds: number;
  #keys: RemoteCache<JwkKey[]>;

  /**
   * @param options The issuer and audience (required), then fetch, clock and cache settings.
   * @throws {TypeError} If `issuer` is not an https URL (or http on a loopback host) without
   * query, fragment or credentials, or `audience` is not a non-empty string.
   * @throws {RangeError} If a duration is negative or not finite.
   */
  /** The issuer whose tokens are accepted (the agent card's `openIdConnectUrl` is under it). */
  get issuer(): string {
    return this.#issuer;
  }

  constructor(options: OidcOptions) {
    const { issuer, audience, fetch = globalThis.fetch, now = Date.now, clockToleranceSeconds = 60 } = options;
    const { maxAgeMs = 600_000, minRefetchIntervalMs = 30_000, failureRetryIntervalMs = 1_000, timeoutMs = 10_000 } = options;
    const url = parseUrl(issuer);
    if (!url || !isSecureOrLoopback(url) || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
      throw new TypeError(`Cannot create OidcVerifier: issuer ${shown(issuer)} is not an https URL (or http on 127.0.0.1, ::1 or localhost) without query or fragment`);
    }
    if (typeof audience !== "string" || audience === "") throw new TypeError("Cannot create OidcVerifier: audience is empty");
    checkDurations("OidcVerifier", { clockToleranceSeconds, maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs, timeoutMs });
    this.#issuer = issuer;
    this.#audience = audience;
    this.#now = now;
    this.#toleranceSeconds = clockToleranceSeconds;
    this.#keys = new RemoteCache(() => loadIssuerKeys(issuer, { fetch, timeoutMs }), { now, maxAgeMs, minRefetchIntervalMs, failureRetryIntervalMs });
  }

  /**
   * Verifies a token: its size, its form (compact JWS), its alg (RS256 or ES256 only: never
   * `none`, never an HMAC alg that would take the public key as a secret), its signature with the
   * issuer's key named by `kid` (a token without `kid` only when the issuer has exactly one key for
   * the alg), then its claims: `iss`, `aud`, `exp` (required), `nbf`, `iat` and `sub`.
   *
   * @param token The token, without `Bearer `.
   * @returns The principal (`sub`) and the claims.
   * @throws {AuthenticationError} `invalid_token` if the token is not accepted; `unavailable` if
   * the issuer's keys could not be fetched (the fetch error is the `cause`).
   */
  async verify(token: string): Promise<OidcIdentity> {
    if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS) throw invalid(`it is not a string of at most ${MAX_TOKEN_CHARS} characters`);
    const jws = splitCompactJws(token);
    if (!jws) throw invalid("it is not a compact JWS (three base64url parts, the first a JSON object)");
    const { alg, kid, crit } = jws.header;
    if (alg !== "RS256" && alg !== "ES256") throw invalid(`its alg ${shown(alg)} is not RS256 or ES256`);
    // Extensions we do not know must not be ignored (RFC 7515 §4.1.11); we know none.
    if (crit !== undefined) throw invalid("its header has crit extensions");
    if (kid !== undefined && (typeof kid !== "string" || kid === "")) throw invalid(`its kid ${shown(kid)} is not a non-empty string`);
    const key = await this.#findKey(alg, kid);
    if (!verifyJwsSignature(jws, alg, key)) throw invalid(`its signature does not verify with ${keyName(alg, kid)}`);
    const claims = decodeJwtSegment(jws.payload);
    if (!claims) throw invalid("its payload is not a JSON object");
    const principal = checkClaims(claims, { issuer: this.#issuer, audience: this.#audience, nowSeconds: this.#now() / 1000, toleranceSeconds: this.#toleranceSeconds });
    return { principal, claims };
  }

  async #findKey(alg: "RS256" | "ES256", kid: string | undefined): Promise<KeyObject> {
    let key = pickKey(this.#keys.fresh, alg, kid);
    if (key) return key;
    try {
      await this.#keys.refresh();
    } catch (error) {
      throw this.#unavailable(error);
    }
    key = pickKey(this.#keys.fresh, alg, kid);
    if (key) return key;
    // Without a good fetch we cannot tell an unknown key from a new one: the token is not at fault.
    if (this.#keys.fresh === undefined || this.#keys.lastError !== undefined) throw this.#unavailable(this.#keys.lastError);
    const count = this.#keys.fresh.filter((candidate) => candidate.alg === alg).length;
    throw invalid(kid === undefined ? `it has no kid and the issuer has ${count} ${alg} keys, not one` : `the issuer has no ${keyName(alg, kid)}`);
  }

  #unavailable(cause: unknown): AuthenticationError {
    const reason = cause instanceof Error ? `: ${cause.message}` : "";
    return new AuthenticationError("unavailable", `Cannot verify the token: the keys of issuer ${this.#issuer} are unavailable${reason}`, { cause });
  }
}

/** The issuer's keys: its discovery document, checked, then the JWKS it names. */
async function loadIssuerKeys(issuer: string, options: { fetch: typeof fetch; timeoutMs: number }): Promise<JwkKey[]> {
  const discoveryUrl = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  // No redirects: one could lead from the https URL we checked to a plain-http one.
  const fetchOptions = { ...options, redirect: "error" as const };
  const document = await fetchJson(discoveryUrl, { ...fetchOptions, what: "OIDC discovery document" });
  const { issuer: named, jwks_uri: jwksUri } = (typeof document === "object" && document !== null ? document : {}) as Record<string, unknown>;
  // OIDC Discovery §4.3: otherwise a host serving several issuers could pass one's tokens as another's.
  if (named !== issuer) throw new Error(`OIDC discovery document ${discoveryUrl} names issuer ${shown(named)}, not ${issuer}`);
  const jwksUrl = parseUrl(jwksUri);
  if (!jwksUrl || !isSecureOrLoopback(jwksUrl)) {
    throw new Error(`OIDC discovery document ${discoveryUrl} has jwks_uri ${shown(jwksUri)}, not an https URL (or http on a loopback host)`);
  }
  return await fetchJwks(jwksUrl.href, fetchOptions);
}

/** The key for `kid`, or for a token without one the issuer's only key for `alg`. */
function pickKey(keys: JwkKey[] | undefined, alg: "RS256" | "ES256", kid: string | undefined): KeyObject | undefined {
  const candidates = (keys ?? []).filter((candidate) => candidate.alg === alg);
  if (kid === undefined) return candidates.length === 1 ? candidates[0].key : undefined;
  return candidates.find((candidate) => candidate.kid === kid)?.key;
}

/** The claims, checked in the order RFC 7519 and OIDC Core §3.1.3.7 give; returns `sub`. */
function checkClaims(claims: Record<string, unknown>, expected: { issuer: string; audience: string; nowSeconds: number; toleranceSeconds: number }): string {
  const { iss, aud, exp, nbf, iat, sub } = claims;
  const { issuer, audience, nowSeconds, toleranceSeconds } = expected;
  if (iss !== issuer) throw invalid(`its iss ${shown(iss)} is not ${issuer}`);
  if (!(Array.isArray(aud) ? aud : [aud]).includes(audience)) throw invalid(`its aud ${shown(aud)} does not include ${audience}`);
  if (!isTime(exp)) throw invalid("its exp is missing or not a number");
  if ((nbf !== undefined && !isTime(nbf)) || (iat !== undefined && !isTime(iat))) throw invalid("its nbf or iat is not a number");
  // RFC 7519 §4.1.4: not accepted "on or after" exp.
  if (nowSeconds >= exp + toleranceSeconds) throw invalid(`it expired at ${exp}, now is ${Math.floor(nowSeconds)}`);
  if (nbf !== undefined && nbf > nowSeconds + toleranceSeconds) throw invalid(`it is not valid before ${nbf}, now is ${Math.floor(nowSeconds)}`);
  if (iat !== undefined && iat > nowSeconds + toleranceSeconds) throw invalid(`it was issued in the future, at ${iat}, now is ${Math.floor(nowSeconds)}`);
  if (typeof sub !== "string" || sub === "") throw invalid("its sub is missing or empty");
  return sub;
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** `URL.parse()` is newer than Node 20.0; `canParse()` spares a try/catch. */
function parseUrl(text: unknown): URL | undefined {
  return typeof text === "string" && URL.canParse(text) ? new URL(text) : undefined;
}

function isSecureOrLoopback(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
}

function invalid(problem: string): AuthenticationError {
  return new AuthenticationError("invalid_token", `Token refused: ${problem}`);
}

function keyName(alg: string, kid: string | undefined): string {
  return kid === undefined ? `its only ${alg} key` : `${alg} key ${shown(kid)}`;
}

/** A value from the token or the issuer for a message: JSON, cut short, unable to forge a log line. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return escapeLogText(text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text);
}
