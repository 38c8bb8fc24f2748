/**
 * Where the agent's secrets live in its data directory: the ES256 webhook signing keys,
 * `signing_keys.json` (0o600), made with a first key on first start and rotated so the previous key
 * stays published while tokens signed with it are in flight, and the admin token, `admin_token`.
 * The only disk code of signing; what a key is and how it signs is `signing.ts`.
 *
 * @module
 */

import { createPrivateKey, randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { syncDirectory } from "./fs_util.ts";
import { generateSigningKey, signingKeyFrom } from "./signing.ts";
import type { SigningKey, SigningKeys } from "./signing.ts";

/** The file under the data directory that holds the signing keys. */
const KEYS_FILE = "signing_keys.json";

/** Options of {@linkcode loadSigningKeys} and {@linkcode rotateSigningKey}. */
export interface SigningKeyOptions {
  /** Clock for `createdAt`, in ms. @default {Date.now} */
  now?: () => number;
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
 * import { loadSigningKeys } from "./signing_keys.ts";
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
 * import { rotateSigningKey } from "./signing_keys.ts";
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

function storeKey(key: SigningKey): { kid: string; createdAt: number; privateKeyPem: string } {
  const privateKeyPem = key.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  return { kid: key.kid, createdAt: key.createdAt, privateKeyPem };
}

function restoreKey(file: string, stored: unknown): SigningKey {
  const { kid, createdAt, privateKeyPem } = (stored ?? {}) as Partial<ReturnType<typeof storeKey>>;
  if (typeof privateKeyPem !== "string" || typeof createdAt !== "number") {
    throw new Error(`Cannot load signing keys: ${file} holds an entry without privateKeyPem or createdAt`);
  }
  const key = signingKeyFrom(createPrivateKey(privateKeyPem), createdAt);
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

/**
 * The admin interface's bearer token, kept in `<dataDir>/admin_token` (mode 0600), made on first
 * start; concurrent first starts agree on one token, since the file is created exclusively.
 *
 * @param dataDir The agent's data directory.
 * @returns The token.
 * @throws {Error} If the file cannot be read or written.
 * @example Load (or make) the token
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { loadAdminToken } from "./signing_keys.ts";
 * console.log((await loadAdminToken(mkdtempSync(`${tmpdir()}/admin-`))).length); // 32
 * ```
 */
export async function loadAdminToken(dataDir: string): Promise<string> {
  const path = join(dataDir, "admin_token");
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const token = randomBytes(24).toString("base64url");
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: "wx" }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return (await readFile(path, "utf8")).trim();
}
