/**
 * The sender's side of webhook signing: Standard Webhooks HMAC signatures (`webhook-signature`),
 * and ES256 JWTs whose public keys a receiver fetches as a JWKS. Pure: keys come in as values;
 * where they are kept on disk, and their rotation, is `signing_keys.ts`. Verification is in
 * `verify.ts`, which does not import this file, so a receiver can take it alone.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";

/** Random bytes in a new Standard Webhooks secret (the spec allows 24 to 64). */
const SECRET_BYTES = 24;
/** Lifetime of a webhook JWT when the caller gives none. */
const DEFAULT_TTL_SECONDS = 300;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** An ES256 (P-256) signing key with its public half as a JWK. */
export interface SigningKey {
  /** Key id: base64url of the first 16 bytes of the key's RFC 7638 thumbprint. */
  kid: string;
  /** The private key; it leaves this process only in the 0o600 key file (`signing_keys.ts`). */
  privateKey: KeyObject;
  /** The public key as published in the JWKS. */
  publicJwk: JsonWebKey & { kid: string; alg: "ES256"; use: "sig" };
  /** When the key was made, in ms since the epoch. */
  createdAt: number;
}

/** The keys in use: `current` signs, `previous` stays published so tokens in flight verify. */
export interface SigningKeys {
  current: SigningKey;
  previous?: SigningKey;
}

/**
 * Decodes a Standard Webhooks secret into HMAC key bytes.
 *
 * @param secret `whsec_<base64>` or bare base64.
 * @returns The key bytes.
 * @throws {RangeError} If the secret is empty or not base64.
 * @example Decode a secret
 * ```ts
 * import { decodeSecret } from "./signing.ts";
 * console.log(decodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").length); // 24
 * ```
 */
export function decodeSecret(secret: string): Buffer {
  const text = secret.trim().replace(/^whsec_/, "");
  if (!BASE64.test(text) || text.length % 4 === 1) {
    throw new RangeError("Cannot decode webhook secret: expected whsec_<base64> or base64");
  }
  return Buffer.from(text, "base64");
}

/**
 * Parses a comma-separated list of secrets, as in `A2A_WEBHOOK_SECRET` during rotation.
 *
 * @param text The list; `undefined` or blank gives none.
 * @returns The decoded secrets, in order.
 * @throws {RangeError} If an entry is not a valid secret.
 * @example Two secrets during rotation
 * ```ts
 * import { parseSecrets } from "./signing.ts";
 * console.log(parseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, c2VjcmV0").length); // 2
 * ```
 */
export function parseSecrets(text: string | undefined): Buffer[] {
  return (text ?? "").split(",").map((part) => part.trim()).filter((part) => part !== "").map(decodeSecret);
}

/**
 * Computes the `webhook-signature` header: one `v1,<base64 HMAC-SHA256>` entry per secret, over
 * `<id>.<timestamp>.<body>`.
 *
 * @param id The `webhook-id`: the same on every retry of one event, without `.`.
 * @param timestamp The `webhook-timestamp` of this attempt, in Unix seconds.
 * @param body The exact body bytes that will be sent.
 * @param secrets The decoded secrets (see {@linkcode parseSecrets}).
 * @returns Space-separated signature entries.
 * @throws {RangeError} If `id` is empty or holds `.`, `timestamp` is not whole seconds, or there
 * are no secrets.
 * @example The Standard Webhooks test vector
 * ```ts
 * import { decodeSecret, signStandardWebhook } from "./signing.ts";
 * const secret = decodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
 * const header = signStandardWebhook("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}', [secret]);
 * console.log(header); // v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
 * ```
 */
export function signStandardWebhook(
  id: string,
  timestamp: number,
  body: string | Uint8Array,
  secrets: Buffer[],
): string {
  if (id === "" || id.includes(".")) throw new RangeError(`Cannot sign webhook: id "${id}" is empty or has "."`);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`Cannot sign webhook: timestamp ${timestamp} is not whole Unix seconds`);
  }
  if (secrets.length === 0) throw new RangeError("Cannot sign webhook: no secrets given");
  const prefix = `${id}.${timestamp}.`;
  return secrets
    .map((secret) => `v1,${createHmac("sha256", secret).update(prefix).update(body).digest("base64")}`)
    .join(" ");
}

/**
 * Makes a new random Standard Webhooks secret.
 *
 * @returns `whsec_` and 24 random bytes in base64.
 * @throws {Error} Only if the system has no entropy to give.
 * @example Make a secret
 * ```ts
 * import { generateWebhookSecret } from "./signing.ts";
 * console.log(generateWebhookSecret().startsWith("whsec_")); // true
 * ```
 */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString("base64")}`;
}

/**
 * Makes a new ES256 (P-256) signing key.
 *
 * @param createdAt When it is made, in ms since the epoch (kept with the key).
 * @returns The key, its kid and its public JWK.
 * @throws {Error} Only if the system has no entropy to give.
 * @example Make a key
 * ```ts
 * import { generateSigningKey } from "./signing.ts";
 * console.log(generateSigningKey(Date.now()).publicJwk.alg); // ES256
 * ```
 */
export function generateSigningKey(createdAt: number): SigningKey {
  return signingKeyFrom(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, createdAt);
}

/**
 * A signing key from its private half: derives the public JWK and the kid (base64url of the first
 * 16 bytes of the RFC 7638 thumbprint).
 *
 * @param privateKey An EC P-256 private key.
 * @param createdAt When it was made, in ms since the epoch.
 * @returns The key.
 * @throws {TypeError} If the key is not an EC P-256 key.
 * @example Rebuild a key from its PEM
 * ```ts
 * import { createPrivateKey } from "node:crypto";
 * import { generateSigningKey, signingKeyFrom } from "./signing.ts";
 * const key = generateSigningKey(0);
 * const pem = key.privateKey.export({ format: "pem", type: "pkcs8" });
 * console.log(signingKeyFrom(createPrivateKey(pem), 0).kid === key.kid); // true
 * ```
 */
export function signingKeyFrom(privateKey: KeyObject, createdAt: number): SigningKey {
  const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: "jwk" });
  if (kty !== "EC" || crv !== "P-256" || typeof x !== "string" || typeof y !== "string") {
    throw new TypeError(`Cannot use signing key: expected an EC P-256 key, got ${kty} ${crv ?? ""}`);
  }
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const thumbprint = createHash("sha256").update(JSON.stringify({ crv, kty, x, y })).digest();
  const kid = thumbprint.subarray(0, 16).toString("base64url");
  return { kid, privateKey, publicJwk: { kty, crv, x, y, kid, alg: "ES256", use: "sig" }, createdAt };
}

/**
 * The JWKS document a receiver fetches: public keys only.
 *
 * @param keys The keys in use (`loadSigningKeys` in `signing_keys.ts` reads them).
 * @returns `{keys: [current, previous?]}` as public JWKs (never `d`).
 * @throws {Error} Never.
 * @example Serve the JWKS
 * ```ts
 * import { generateSigningKey, jwksDocument } from "./signing.ts";
 * const keys = { current: generateSigningKey(Date.now()) };
 * console.log(JSON.stringify(jwksDocument(keys)).includes('"d"')); // false
 * ```
 */
export function jwksDocument(keys: SigningKeys): { keys: JsonWebKey[] } {
  const list = keys.previous ? [keys.current, keys.previous] : [keys.current];
  return { keys: list.map(({ publicJwk: { kty, crv, x, y, kid, alg, use } }) => ({ kty, crv, x, y, kid, alg, use })) };
}

/**
 * Signs claims as a compact JWS: header `{alg: "ES256", typ: "JWT", kid}`, signature in the raw
 * `r || s` (IEEE P1363) form JWS requires, not DER.
 *
 * @param claims The payload; see {@linkcode webhookJwtClaims}.
 * @param key The key to sign with, normally `current`.
 * @returns `<header>.<payload>.<signature>`, each base64url.
 * @throws {TypeError} If the claims cannot be serialized as JSON.
 * @example Sign a token
 * ```ts
 * import { generateSigningKey, signJwt } from "./signing.ts";
 * const current = generateSigningKey(Date.now());
 * console.log(signJwt({ aud: "https://example.com/hook" }, current).split(".").length); // 3
 * ```
 */
export function signJwt(claims: Record<string, unknown>, key: SigningKey): string {
  const input = jwtSigningInput(claims, key);
  const signature = sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

/**
 * {@linkcode signJwt} off the main thread: the ECDSA signature is computed on libuv's thread pool,
 * which leaves the event loop ~3x more time per webhook than signing in place.
 *
 * @param claims The JWT claims.
 * @param key The key to sign with.
 * @returns The compact JWT.
 * @throws {TypeError} If the claims cannot be serialized as JSON.
 * @example Sign a token off the event loop
 * ```ts
 * import { generateSigningKey, signJwtAsync } from "./signing.ts";
 * const token = await signJwtAsync({ aud: "https://example.com/hook" }, generateSigningKey(Date.now()));
 * console.log(token.split(".").length); // 3
 * ```
 */
export function signJwtAsync(claims: Record<string, unknown>, key: SigningKey): Promise<string> {
  const input = jwtSigningInput(claims, key);
  return new Promise((resolve, reject) => {
    sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" }, (error, signature) => {
      if (error) reject(error);
      else resolve(`${input}.${signature.toString("base64url")}`);
    });
  });
}

/** Each key's JWT header, encoded once: it is the same for every token the key signs. */
const ENCODED_HEADERS = new WeakMap<SigningKey, string>();

function jwtSigningInput(claims: Record<string, unknown>, key: SigningKey): string {
  let header = ENCODED_HEADERS.get(key);
  if (header === undefined) ENCODED_HEADERS.set(key, (header = base64urlJson({ alg: "ES256", typ: "JWT", kid: key.kid })));
  return `${header}.${base64urlJson(claims)}`;
}

/**
 * The claims of a webhook JWT; `verify.ts` checks these names: `iss` (the agent), `aud` (the
 * webhook URL), `iat` and `exp` (Unix seconds), `jti` (the `webhook-id`), `taskId`, and
 * `body_sha256` (base64url SHA-256 of the exact body bytes).
 *
 * @param input Issuer, audience, ids, body, `now` in ms and `ttlSeconds` (@default 300).
 * @returns The claims, ready for {@linkcode signJwt}.
 * @throws {RangeError} If `ttlSeconds` is not a positive whole number.
 * @example Claims for one delivery
 * ```ts
 * import { webhookJwtClaims } from "./signing.ts";
 * const claims = webhookJwtClaims({ issuer: "https://agent.example", audience: "https://example.com/hook",
 *   webhookId: "msg_1", taskId: "t1", body: "{}", now: 1_700_000_000_000 });
 * console.log(claims.exp); // 1700000300
 * ```
 */
export function webhookJwtClaims(input: {
  issuer: string; audience: string; webhookId: string; taskId: string; body: string | Uint8Array;
  now: number; ttlSeconds?: number;
}): Record<string, unknown> {
  const { issuer, audience, webhookId, taskId, body, now, ttlSeconds = DEFAULT_TTL_SECONDS } = input;
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`Cannot make webhook claims: ttlSeconds ${ttlSeconds} is not a positive integer`);
  }
  const iat = Math.floor(now / 1000);
  const body_sha256 = createHash("sha256").update(body).digest("base64url");
  return { iss: issuer, aud: audience, iat, exp: iat + ttlSeconds, jti: webhookId, taskId, body_sha256 };
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
