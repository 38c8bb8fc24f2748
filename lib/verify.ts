/**
 * The receiver's side: checks that a webhook came from the agent before anyone parses its body.
 * Three checks, any mix: Standard Webhooks HMAC signatures, an ES256 JWT in `Authorization`
 * checked against the agent's JWKS, and a shared token (`X-A2A-Notification-Token`, or a whole
 * `Authorization` value), which is all that agents built on the official SDKs send. It needs only
 * `node:crypto`, `errors.ts` and `timing_safe_equal.ts` (not `signing.ts`), so a receiver can copy
 * the three files. Its compact-JWS pieces (split, decode, check a signature) also serve `oidc.ts`.
 * Deduplicating (on `webhook-id`, or on the body's hash when a sender gives no id) is left to the
 * caller, which owns the storage.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, timingSafeEqual, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { WebhookVerificationError } from "./errors.ts";
import { timingSafeEqualText } from "./timing_safe_equal.ts";

/** How far `webhook-timestamp` may be from the receiver's clock, either way. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** Request headers as `node:http` gives them: lower-case names. */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

/** Anything that finds a public key by `kid`, such as `JwksCache` (`jwks_cache.ts`). */
export interface KeyResolver {
  getKey(kid: string): Promise<KeyObject>;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;
const UNIX_SECONDS = /^[0-9]{1,15}$/;

/**
 * Verifies a Standard Webhooks delivery: headers present, timestamp within
 * {@linkcode WEBHOOK_TOLERANCE_SECONDS}, and some `v1,` entry of `webhook-signature` matching
 * some secret, compared in constant time. Parse the body only after this returns.
 *
 * @param headers The request headers (lower-case names).
 * @param body The exact body bytes received.
 * @param secrets `whsec_<base64>` strings, bare base64, or decoded key bytes.
 * @param options `now`: the clock in ms (@default Date.now).
 * @returns The `webhook-id` and `webhook-timestamp` (Unix seconds).
 * @throws {WebhookVerificationError} `MISSING_HEADERS`, `MALFORMED`, `STALE_TIMESTAMP` or
 * `BAD_SIGNATURE`.
 * @throws {RangeError} If `secrets` is empty or holds something that is not a secret.
 * @example Verify the Standard Webhooks test vector
 * ```ts
 * import { verifyStandardWebhook } from "./verify.ts";
 * const headers = { "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
 *   "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" };
 * const result = verifyStandardWebhook(headers, '{"test": 2432232314}',
 *   ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], { now: () => 1614265330_000 });
 * console.log(result.id); // msg_p5jXN8AQM9LWM0D4loKWxJek
 * ```
 */
export function verifyStandardWebhook(
  headers: WebhookHeaders,
  body: string | Uint8Array,
  secrets: Array<string | Buffer>,
  options?: { now?: () => number },
): { id: string; timestamp: number } {
  const { now = Date.now } = options ?? {};
  if (secrets.length === 0) throw new RangeError("Cannot verify webhook: no secrets given");
  const keys = secrets.map(secretKey);
  const names = ["webhook-id", "webhook-timestamp", "webhook-signature"];
  const [id, timestampText, signatures] = requireHeaders(headers, names);
  const timestamp = checkTimestamp(id, timestampText, now());
  const expected = keys.map((key) => createHmac("sha256", key).update(`${id}.${timestampText}.`).update(body).digest());
  let matched = false;
  // node:http joins repeated headers with ", ", so an entry may end in a stray comma.
  for (const entry of signatures.split(/\s+/)) {
    const [version, value] = entry.replace(/,$/, "").split(",", 2);
    if (version !== "v1" || !value) continue;
    const given = Buffer.from(value, "base64");
    for (const mac of expected) if (given.length === mac.length && timingSafeEqual(given, mac)) matched = true;
  }
  if (!matched) throw refuse("BAD_SIGNATURE", `no v1 signature of ${id} matches a secret`);
  return { id, timestamp };
}

/**
 * Verifies a webhook JWT (compact JWS, ES256 only) and the claims `signing.ts` puts in it:
 * `aud`, `exp`, `iat`, `nbf` (if present), `iss`, `body_sha256` and `jti`.
 *
 * @param token The compact JWS, without `Bearer `.
 * @param body The exact body bytes received.
 * @param options `jwks`, `audience` (any one must be in `aud`), `issuer`, `webhookId` (must equal
 * `jti`), `now` in ms (@default Date.now) and `clockSkewSeconds` (@default 60).
 * @returns The verified claims.
 * @throws {WebhookVerificationError} `MALFORMED`, `BAD_SIGNATURE` (also for any `alg` but ES256),
 * `UNKNOWN_KEY`, `WRONG_AUDIENCE`, `EXPIRED`, `STALE_TIMESTAMP`, `WRONG_ISSUER`,
 * `BODY_HASH_MISMATCH` or `ID_MISMATCH`.
 * @throws {RangeError} If `audience` is empty.
 * @example A token that is not a JWS
 * ```ts
 * import { JwksCache } from "./jwks_cache.ts";
 * import { verifyWebhookJwt } from "./verify.ts";
 * const jwks = new JwksCache("https://agent.example/.well-known/jwks.json");
 * await verifyWebhookJwt("not-a-jwt", "{}", { jwks, audience: "https://example.com/hook" })
 *   .catch((error) => console.log(error.code)); // MALFORMED
 * ```
 */
export async function verifyWebhookJwt(
  token: string,
  body: string | Uint8Array,
  options: {
    jwks: KeyResolver; audience: string | string[]; issuer?: string; webhookId?: string;
    now?: () => number; clockSkewSeconds?: number;
  },
): Promise<Record<string, unknown>> {
  const { jwks, audience, issuer, webhookId, now = Date.now, clockSkewSeconds = 60 } = options;
  const audiences = [audience].flat();
  if (audiences.length === 0) throw new RangeError("Cannot verify webhook JWT: no audience given");
  const jws = splitCompactJws(token);
  if (!jws) throw refuse("MALFORMED", "Authorization does not hold a compact JWS with a JSON object header");
  const { header } = jws;
  // Only ES256: never `none`, never an HMAC alg that would treat the public key as a secret.
  if (header.alg !== "ES256") throw refuse("BAD_SIGNATURE", `JWT alg ${JSON.stringify(header.alg)} is not ES256`);
  if (header.crit !== undefined) throw refuse("MALFORMED", "JWT header has crit extensions");
  if (typeof header.kid !== "string" || header.kid === "") throw refuse("MALFORMED", "JWT header has no kid");
  const key = await resolveKey(jwks, header.kid);
  if (!verifyJwsSignature(jws, "ES256", key)) throw refuse("BAD_SIGNATURE", `JWT signature does not verify with key ${header.kid}`);
  const claims = decodeJwtSegment(jws.payload);
  if (!claims) throw refuse("MALFORMED", "JWT payload is not a JSON object");
  const { aud, exp, iat, nbf, iss, body_sha256, jti } = claims;
  const nowSeconds = now() / 1000;
  if (typeof exp !== "number" || typeof iat !== "number" || (nbf !== undefined && typeof nbf !== "number")) {
    throw refuse("MALFORMED", "JWT exp, iat or nbf is not a number");
  }
  if (![aud].flat().some((value) => typeof value === "string" && audiences.includes(value))) {
    throw refuse("WRONG_AUDIENCE", `JWT aud ${JSON.stringify(aud)} is not ${audiences.join(" or ")}`);
  }
  if (nowSeconds > exp + clockSkewSeconds) throw refuse("EXPIRED", `JWT expired at ${exp}`);
  if (Math.max(iat, nbf ?? 0) > nowSeconds + clockSkewSeconds) {
    throw refuse("STALE_TIMESTAMP", `JWT iat ${iat} or nbf ${nbf} is in the future`);
  }
  if (issuer !== undefined && iss !== issuer) throw refuse("WRONG_ISSUER", `JWT iss ${JSON.stringify(iss)} is wrong`);
  const digest = createHash("sha256").update(body).digest();
  const claimed = typeof body_sha256 === "string" ? Buffer.from(body_sha256, "base64url") : Buffer.alloc(0);
  if (claimed.length !== digest.length || !timingSafeEqual(claimed, digest)) {
    throw refuse("BODY_HASH_MISMATCH", "JWT body_sha256 does not match the body");
  }
  if (webhookId !== undefined && jti !== webhookId) throw refuse("ID_MISMATCH", `JWT jti is not ${webhookId}`);
  return claims;
}

/** A compact JWS taken apart: the header decoded, the payload not yet (read it once the signature verified). */
export interface CompactJws {
  /** The decoded protected header. */
  header: Record<string, unknown>;
  /** The payload, still base64url: decode it with {@linkcode decodeJwtSegment}. */
  payload: string;
  /** `<header>.<payload>` as sent: the bytes the signature covers. */
  signingInput: Buffer;
  /** The decoded signature. */
  signature: Buffer;
}

/**
 * Takes a compact JWS apart: three base64url segments, the first a JSON object. Nothing is
 * verified; callers check the header, find the key, then call {@linkcode verifyJwsSignature}.
 *
 * @param token The compact JWS.
 * @returns Its parts, or `undefined` if it is not a compact JWS with a JSON object header.
 * @throws Never.
 * @example Split a token
 * ```ts
 * import { splitCompactJws } from "./verify.ts";
 * console.log(splitCompactJws("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")?.header.alg); // ES256
 * console.log(splitCompactJws("not-a-jwt")); // undefined
 * ```
 */
export function splitCompactJws(token: string): CompactJws | undefined {
  const segments = token.split(".");
  if (segments.length !== 3 || !segments.every((segment) => BASE64URL_SEGMENT.test(segment))) return undefined;
  const header = decodeJwtSegment(segments[0]);
  if (!header) return undefined;
  return { header, payload: segments[1], signingInput: Buffer.from(`${segments[0]}.${segments[1]}`), signature: Buffer.from(segments[2], "base64url") };
}

/**
 * Decodes one base64url JWS segment holding a JSON object.
 *
 * @param segment The segment.
 * @returns The object, or `undefined` if the segment is not JSON or not an object.
 * @throws Never.
 * @example Decode a payload
 * ```ts
 * import { decodeJwtSegment } from "./verify.ts";
 * console.log(decodeJwtSegment("eyJzdWIiOiJhbGljZSJ9")); // { sub: 'alice' }
 * ```
 */
export function decodeJwtSegment(segment: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    return undefined; // Not JSON: the callers refuse the token, which is all a reason could add.
  }
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Checks a JWS signature with a public key for the given algorithm. The key's type must be the
 * algorithm's: an RSA key never checks an ES256 token, nor an EC key an RS256 one.
 *
 * @param jws The parts from {@linkcode splitCompactJws}.
 * @param alg `ES256` (ECDSA P-256, signature as raw `r || s`) or `RS256` (RSASSA-PKCS1-v1_5).
 * @param key The public key.
 * @returns Whether the signature verifies.
 * @throws Never for a well-formed key.
 * @example A made-up signature does not verify
 * ```ts
 * import { generateKeyPairSync } from "node:crypto";
 * import { splitCompactJws, verifyJwsSignature } from "./verify.ts";
 * const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
 * console.log(verifyJwsSignature(splitCompactJws("eyJhbGciOiJFUzI1NiJ9.e30.c2ln")!, "ES256", publicKey)); // false
 * ```
 */
export function verifyJwsSignature(jws: CompactJws, alg: "ES256" | "RS256", key: KeyObject): boolean {
  const { signingInput, signature } = jws;
  if (alg === "RS256") return key.asymmetricKeyType === "rsa" && verify("sha256", signingInput, key, signature);
  // JWS carries ECDSA signatures as r || s (IEEE P1363), 64 bytes for P-256, not DER.
  return key.asymmetricKeyType === "ec" && signature.length === 64 && verify("sha256", signingInput, { key, dsaEncoding: "ieee-p1363" }, signature);
}

/**
 * Checks `x-a2a-notification-token` and/or `authorization` against the expected values, in
 * constant time (the `authorization` scheme is compared case-insensitively).
 *
 * @param headers The request headers (lower-case names).
 * @param expected `token` for `x-a2a-notification-token`, `authorization` for the whole
 * `Authorization` value (e.g. `Bearer abc`); at least one.
 * @returns Nothing; it throws if a header is wrong.
 * @throws {WebhookVerificationError} `BAD_TOKEN` if a header is missing or wrong.
 * @throws {RangeError} If neither value is given, or one is empty.
 * @example Check the shared token
 * ```ts
 * import { checkNotificationToken } from "./verify.ts";
 * checkNotificationToken({ "x-a2a-notification-token": "s3cret" }, { token: "s3cret" });
 * ```
 */
export function checkNotificationToken(
  headers: WebhookHeaders,
  expected: { token?: string; authorization?: string },
): void {
  const { token, authorization } = expected;
  if (token === undefined && authorization === undefined) throw new RangeError("Cannot check token: none expected");
  if (token === "" || authorization === "") throw new RangeError("Cannot check token: the expected value is empty");
  if (token !== undefined && !timingSafeEqualText(headerValue(headers, "x-a2a-notification-token"), token)) {
    throw refuse("BAD_TOKEN", "x-a2a-notification-token is missing or wrong");
  }
  const given = headerValue(headers, "authorization");
  if (authorization !== undefined && !timingSafeEqualText(given && lowerScheme(given), lowerScheme(authorization))) {
    throw refuse("BAD_TOKEN", "Authorization is missing or wrong");
  }
}

/**
 * The one call a receiver makes: runs every configured check and says what to deduplicate on.
 * `secrets` → Standard Webhooks; `token`/`authorization` → {@linkcode checkNotificationToken};
 * `jwks` → the `Authorization: Bearer <jwt>` header, with `jti` bound to `webhook-id`. `jwks` and
 * `authorization` cannot both be set, since both claim the one `Authorization` header; pick one.
 * An empty `secrets` list counts as not configured. The JWT and the secrets show that the agent
 * sent the webhook, not that you made its push config (the agent signs for any URL a caller
 * names): give the agent a `token` in your push configs and check it here too.
 *
 * `webhook-id` and `webhook-timestamp` (within {@linkcode WEBHOOK_TOLERANCE_SECONDS}, replay
 * protection) are required with `secrets` or `jwks`, and whenever either header is sent. Senders
 * that only authenticate (the official A2A SDKs send `X-A2A-Notification-Token` or
 * `Authorization` and nothing else) pass with `token`/`authorization` alone: their event id is
 * then derived from the body (`sha256_<base64url>`), so a re-sent identical POST is a duplicate.
 *
 * @param request The headers (lower-case names) and the exact body bytes.
 * @param options The checks to run; `audience` is required with `jwks`; `now` in ms
 * (@default Date.now).
 * @returns `webhookId`: the id to deduplicate on (the header, or the body's hash when the sender
 * sent none, then `derivedId` is true); the timestamp when sent; the checks that passed, in the
 * order run: `"standard-webhooks"`, `"token"`, `"jwt"`.
 * @throws {WebhookVerificationError} `NO_VERIFIER` when no check is configured (never accept
 * unverified), or the code of the first check that fails.
 * @throws {RangeError} If `jwks` comes without `audience` or with `authorization`.
 * @example Verify a webhook from an SDK agent that sends only its token
 * ```ts
 * import { verifyWebhook } from "./verify.ts";
 * const headers = { "x-a2a-notification-token": "s3cret" };
 * const result = await verifyWebhook({ headers, body: "{}" }, { token: "s3cret" });
 * console.log(result.verifiedBy, result.derivedId); // ["token"] true
 * ```
 */
export async function verifyWebhook(
  request: { headers: WebhookHeaders; body: string | Uint8Array },
  options: {
    secrets?: Array<string | Buffer>; jwks?: KeyResolver; audience?: string | string[]; issuer?: string;
    token?: string; authorization?: string; now?: () => number;
  },
): Promise<{ webhookId: string; derivedId: boolean; timestamp: number | undefined; verifiedBy: string[] }> {
  const { headers, body } = request;
  const { secrets = [], jwks, audience, issuer, token, authorization, now = Date.now } = options;
  if (jwks && authorization !== undefined) {
    throw new RangeError("Cannot verify webhook: jwks and authorization both claim the Authorization header");
  }
  if (jwks && audience === undefined) throw new RangeError("Cannot verify webhook: jwks needs an audience");
  const checkToken = token !== undefined || authorization !== undefined;
  if (secrets.length === 0 && !jwks && !checkToken) {
    throw refuse("NO_VERIFIER", "no secrets, JWKS or token configured; refusing to accept unverified webhooks");
  }
  const sentId = headerValue(headers, "webhook-id") !== undefined || headerValue(headers, "webhook-timestamp") !== undefined;
  let webhookId: string | undefined;
  let timestamp: number | undefined;
  if (sentId || secrets.length > 0 || jwks) {
    const [id, timestampText] = requireHeaders(headers, ["webhook-id", "webhook-timestamp"]);
    webhookId = id;
    timestamp = checkTimestamp(id, timestampText, now());
  }
  const verifiedBy: string[] = [];
  if (secrets.length > 0) {
    verifyStandardWebhook(headers, body, secrets, { now });
    verifiedBy.push("standard-webhooks");
  }
  if (checkToken) {
    checkNotificationToken(headers, { token, authorization });
    verifiedBy.push("token");
  }
  if (jwks && audience !== undefined) {
    const [value] = requireHeaders(headers, ["authorization"]);
    const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
    if (!match) throw refuse("MALFORMED", "Authorization is not Bearer <jwt>");
    await verifyWebhookJwt(match[1], body, { jwks, audience, issuer, webhookId, now });
    verifiedBy.push("jwt");
  }
  if (webhookId !== undefined) return { webhookId, derivedId: false, timestamp, verifiedBy };
  return { webhookId: `sha256_${createHash("sha256").update(body).digest("base64url")}`, derivedId: true, timestamp, verifiedBy };
}

function refuse(code: string, problem: string): WebhookVerificationError {
  return new WebhookVerificationError(code, `Webhook refused: ${problem}`);
}

function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(" ") : value;
}

function requireHeaders(headers: WebhookHeaders, names: string[]): string[] {
  const values = names.map((name) => headerValue(headers, name)?.trim() ?? "");
  const missing = names.filter((_, index) => values[index] === "");
  if (missing.length > 0) throw refuse("MISSING_HEADERS", `missing header ${missing.join(", ")}`);
  return values;
}

function checkTimestamp(id: string, text: string, nowMs: number): number {
  // A "." in the id would make `id.timestamp.body` ambiguous; the spec forbids it.
  if (id.includes(".")) throw refuse("MALFORMED", `webhook-id ${JSON.stringify(id)} contains "."`);
  if (!UNIX_SECONDS.test(text)) throw refuse("MALFORMED", `webhook-timestamp ${JSON.stringify(text)} is not seconds`);
  const timestamp = Number(text);
  const ageSeconds = Math.floor(nowMs / 1000) - timestamp;
  if (Math.abs(ageSeconds) > WEBHOOK_TOLERANCE_SECONDS) {
    const problem = ageSeconds > 0 ? `${ageSeconds} s old` : `${-ageSeconds} s ahead`;
    throw refuse("STALE_TIMESTAMP", `webhook-timestamp is ${problem}`);
  }
  return timestamp;
}

function secretKey(secret: string | Buffer): Buffer {
  if (typeof secret !== "string") return secret;
  const text = secret.trim().replace(/^whsec_/, "");
  if (!BASE64.test(text) || text.length % 4 === 1) throw new RangeError("Cannot use webhook secret: not base64");
  return Buffer.from(text, "base64");
}

/** `Bearer abc` and `bearer abc` are the same credentials: auth schemes are case-insensitive. */
function lowerScheme(value: string): string {
  return value.trim().replace(/^(\S+)\s+/, (_, scheme: string) => `${scheme.toLowerCase()} `);
}

async function resolveKey(jwks: KeyResolver, kid: string): Promise<KeyObject> {
  try {
    return await jwks.getKey(kid);
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw error;
    throw new WebhookVerificationError("UNKNOWN_KEY", `Webhook refused: cannot find key ${kid}`, { cause: error });
  }
}

