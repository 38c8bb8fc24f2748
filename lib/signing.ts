/**
 * The sender's side of webhook signing: Standard Webhooks HMAC signatures (`webhook-signature`),
 * and ES256 JWTs whose public keys a receiver fetches as a JWKS. The ES256 keys live in
 * `<dataDir>/signing_keys.json`, the only disk code here. Verification is in `verify.ts`, which
 * does not import this file, so a receiver can take it alone.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import { generateKeyPairSync } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";

/** The file under the data directory that holds the signing keys. */
const KEYS_FILE = "signing_keys.json";
/** Random bytes in a new Standard Webhooks secret (the spec allows 24 to 64). */
const SECRET_BYTES = 24;
/** Lifetime of a webhook JWT when the caller gives none. */
const DEFAULT_TTL_SECONDS = 300;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** An ES256 (P-256) signing key with its public half as a JWK. */
export interface SigningKey {
  /** Key id: base64url of the first 16 bytes of the key's RFC 7638 thumbprint. */
  kid: string;
  /** The private key; it leaves this process only in the 0o600 key file. */
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

/** Options of {@linkcode loadSigningKeys} and {@linkcode rotateSigningKey}. */
export interface SigningKeyOptions {
  /** Clock for `createdAt`, in ms. @default {Date.now} */
  now?: () => number;
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
 * Loads the ES256 keys from `<dataDir>/signing_keys.json`, making the directory, the file and a
 * first key when missing. Concurrent first starts agree on one key, since `link` never overwrites.
 *
 * @param dataDir The data directory.
 * @param options `now`, for `createdAt`.
 * @returns The current key, and the previous one after a rotation.
 * @throws {Error} If the file cannot be read or written, or is not a key file.
 * @example Load (or create) the keys
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { loadSigningKeys } from "./signing.ts";
 * const keys = await loadSigningKeys(mkdtempSync(`${tmpdir()}/keys-`));
 * console.log(keys.current.publicJwk.alg); // ES256
 * ```
 */
export async function loadSigningKeys(dataDir: string, options?: SigningKeyOptions): Promise<SigningKeys> {
  const { now = Date.now } = options ?? {};
  const file = join(dataDir, KEYS_FILE);
  const existing = await readKeysFile(file);
  if (existing) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeKeysFile(file, { current: generateSigningKey(now()) }, "link");
  // Read back rather than return ours: if another start won the race, its key is the one on disk.
  const keys = await readKeysFile(file);
  if (!keys) throw new Error(`Cannot load signing keys: ${file} vanished after it was written`);
  return keys;
}

/**
 * Makes a new current key; the old current becomes `previous` and any older key is dropped.
 *
 * @param dataDir The data directory.
 * @param options `now`, for `createdAt`.
 * @returns The new current key and the previous one.
 * @throws {Error} If the key file cannot be read or written.
 * @example Rotate
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { rotateSigningKey } from "./signing.ts";
 * const { current, previous } = await rotateSigningKey(mkdtempSync(`${tmpdir()}/keys-`));
 * console.log(current.kid !== previous.kid); // true
 * ```
 */
export async function rotateSigningKey(dataDir: string, options?: SigningKeyOptions): Promise<Required<SigningKeys>> {
  const { now = Date.now } = options ?? {};
  const old = await loadSigningKeys(dataDir, { now });
  const keys = { current: generateSigningKey(now()), previous: old.current };
  await writeKeysFile(join(dataDir, KEYS_FILE), keys, "rename");
  return keys;
}

/**
 * The JWKS document a receiver fetches: public keys only.
 *
 * @param keys The keys from {@linkcode loadSigningKeys}.
 * @returns `{keys: [current, previous?]}` as public JWKs (never `d`).
 * @throws {Error} Never.
 * @example Serve the JWKS
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { jwksDocument, loadSigningKeys } from "./signing.ts";
 * const keys = await loadSigningKeys(mkdtempSync(`${tmpdir()}/keys-`));
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
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { loadSigningKeys, signJwt } from "./signing.ts";
 * const { current } = await loadSigningKeys(mkdtempSync(`${tmpdir()}/keys-`));
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

function jwtSigningInput(claims: Record<string, unknown>, key: SigningKey): string {
  return `${base64urlJson({ alg: "ES256", typ: "JWT", kid: key.kid })}.${base64urlJson(claims)}`;
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

function generateSigningKey(createdAt: number): SigningKey {
  return keyFromPrivate(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, createdAt);
}

function keyFromPrivate(privateKey: KeyObject, createdAt: number): SigningKey {
  const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: "jwk" });
  if (kty !== "EC" || crv !== "P-256" || typeof x !== "string" || typeof y !== "string") {
    throw new TypeError(`Cannot use signing key: expected an EC P-256 key, got ${kty} ${crv ?? ""}`);
  }
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const thumbprint = createHash("sha256").update(JSON.stringify({ crv, kty, x, y })).digest();
  const kid = thumbprint.subarray(0, 16).toString("base64url");
  return { kid, privateKey, publicJwk: { kty, crv, x, y, kid, alg: "ES256", use: "sig" }, createdAt };
}

function storeKey(key: SigningKey): { kid: string; createdAt: number; privateKeyPem: string } {
  const privateKeyPem = key.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  return { kid: key.kid, createdAt: key.createdAt, privateKeyPem };
}

function restoreKey(file: string, stored: unknown): SigningKey {
  const { kid, createdAt, privateKeyPem } = (stored ?? {}) as Partial<ReturnType<typeof storeKey>>;
  if (typeof privateKeyPem !== "string" || typeof createdAt !== "number") {
    throw new Error(`Cannot load signing keys: ${file} holds an entry without privateKeyPem or createdAt`);
  }
  const key = keyFromPrivate(createPrivateKey(privateKeyPem), createdAt);
  if (kid !== undefined && kid !== key.kid) {
    throw new Error(`Cannot load signing keys: ${file} says kid ${kid}, but the key's kid is ${key.kid}`);
  }
  return key;
}

async function readKeysFile(file: string): Promise<SigningKeys | undefined> {
  let data: { current?: unknown; previous?: unknown } | null;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`Cannot load signing keys: cannot read ${file} as JSON`, { cause: error });
  }
  const current = restoreKey(file, data?.current);
  return data?.previous === undefined ? { current } : { current, previous: restoreKey(file, data.previous) };
}

/**
 * Writes the keys to a fresh 0o600 temp file, flushes it, then publishes it as `file`: by `link`
 * (keeps a file that is already there) or `rename` (replaces it), and flushes the directory.
 */
async function writeKeysFile(file: string, keys: SigningKeys, publish: "link" | "rename"): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const data = { current: storeKey(keys.current), previous: keys.previous && storeKey(keys.previous) };
  try {
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (publish === "rename") await rename(temp, file);
    else await linkUnlessPresent(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(dirname(file));
}

async function linkUnlessPresent(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    // Another start published its key first; the caller reads that one back.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/** Makes a rename or link durable (POSIX); Windows cannot open a directory. */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
