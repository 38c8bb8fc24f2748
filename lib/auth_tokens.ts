/**
 * The simplest way to know who calls: a file of `<principal> <token>` lines (`--auth-tokens`).
 * Callers send `Authorization: Bearer <token>`; the file is read again when it changes (checked at
 * most once a second, on use) or when `reload()` is called (the agent script does on SIGHUP), so
 * a token is added or revoked without a restart. A file that fails to parse keeps the tokens read
 * before, and says why.
 *
 * Tokens are kept as SHA-256 digests and a presented token is compared with every one of them in
 * constant time, so neither the file's contents nor the time a lookup takes tells which token is
 * close to a valid one.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";

/** Options of {@linkcode TokenFile.load}. */
export interface TokenFileOptions {
  /** Where a failed re-read or a loosely protected file is reported. @default console.warn */
  warn?: (message: string) => void;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  /** The least time between two checks of the file's modification time. @default 1000 */
  checkIntervalMs?: number;
}

/** What a principal's name may be: it is written to the journal and to logs. */
const PRINCIPAL = /^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$/;
/** Shorter tokens are guessable; refuse them rather than let a typo become a password. */
const MIN_TOKEN_LENGTH = 16;

/**
 * The tokens of a `--auth-tokens` file.
 *
 * @example Look up a caller
 * ```ts
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { TokenFile } from "./auth_tokens.ts";
 * const path = join(mkdtempSync(join(tmpdir(), "tokens-")), "tokens");
 * writeFileSync(path, "alice 0123456789abcdef0123\n", { mode: 0o600 });
 * const tokens = await TokenFile.load(path);
 * console.log(await tokens.principalOf("0123456789abcdef0123")); // "alice"
 * ```
 */
export class TokenFile {
  readonly path: string;
  #entries: Array<{ principal: string; digest: Buffer }> = [];
  #version = "";
  #checkedAt = -Infinity;
  #checking: Promise<void> | undefined;
  #warn: (message: string) => void;
  #now: () => number;
  #checkIntervalMs: number;

  /** Use {@linkcode TokenFile.load}. */
  constructor(path: string, options: TokenFileOptions = {}) {
    this.path = path;
    this.#warn = options.warn ?? console.warn;
    this.#now = options.now ?? Date.now;
    this.#checkIntervalMs = options.checkIntervalMs ?? 1000;
  }

  /**
   * Reads a token file.
   *
   * @param path The file: one `<principal> <token>` a line; blank lines and `#` comments are skipped.
   * @param options See {@linkcode TokenFileOptions}.
   * @returns The tokens.
   * @throws {Error} If the file cannot be read, or a line is malformed (the message names the line, never the token).
   */
  static async load(path: string, options: TokenFileOptions = {}): Promise<TokenFile> {
    const file = new TokenFile(path, options);
    await file.reload();
    return file;
  }

  /** Principals with at least one token, for logs and tests. */
  get principals(): string[] {
    return [...new Set(this.#entries.map((entry) => entry.principal))];
  }

  /**
   * Reads the file again now.
   *
   * @returns Resolves when the new tokens are in use.
   * @throws {Error} If it cannot be read or parsed; the tokens before stay in use.
   */
  async reload(): Promise<void> {
    const info = await stat(this.path);
    if ((info.mode & 0o077) !== 0) this.#warn(`Token file ${this.path} can be read by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    this.#entries = parseTokens(await readFile(this.path, "utf8"), this.path);
    this.#version = `${info.ino}:${info.size}:${info.mtimeMs}`;
    this.#checkedAt = this.#now();
  }

  /**
   * The principal a token belongs to. Checks first (at most once per interval) whether the file
   * changed, and reads it again if so.
   *
   * @param token The bearer token a caller sent.
   * @returns The principal, or undefined for an unknown token.
   */
  async principalOf(token: string): Promise<string | undefined> {
    if (this.#now() - this.#checkedAt >= this.#checkIntervalMs) await (this.#checking ??= this.#checkForChange().finally(() => (this.#checking = undefined)));
    const digest = createHash("sha256").update(token).digest();
    let found: string | undefined;
    // Every entry is compared, whatever matched: the time does not say where a match was.
    for (const entry of this.#entries) if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.principal;
    return found;
  }

  async #checkForChange(): Promise<void> {
    this.#checkedAt = this.#now();
    try {
      const info = await stat(this.path);
      if (`${info.ino}:${info.size}:${info.mtimeMs}` !== this.#version) await this.reload();
    } catch (error) {
      this.#warn(`Token file ${this.path} could not be read again, keeping the tokens read before: ${(error as Error).message}`);
    }
  }
}

/**
 * Parses a token file's text.
 *
 * @param text The file's contents.
 * @param name The file's name, for messages.
 * @returns One entry per token, with its digest.
 * @throws {Error} Naming the first bad line (never its token).
 */
function parseTokens(text: string, name: string): Array<{ principal: string; digest: Buffer }> {
  const entries: Array<{ principal: string; digest: Buffer }> = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${name} line ${index + 1}`;
    const [principal, token, ...rest] = line.split(/\s+/);
    if (!token || rest.length > 0) throw new Error(`${where}: expected "<principal> <token>"`);
    if (!PRINCIPAL.test(principal!)) throw new Error(`${where}: the principal must be 1-128 of A-Z a-z 0-9 . _ @ : + - (starting with a letter or digit)`);
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`${where}: the token of ${principal} is shorter than ${MIN_TOKEN_LENGTH} characters`);
    const digest = createHash("sha256").update(token).digest();
    const key = digest.toString("hex");
    if (seen.has(key)) throw new Error(`${where}: this token is already given to another line; each token names one principal`);
    seen.add(key);
    entries.push({ principal: principal!, digest });
  });
  return entries;
}
