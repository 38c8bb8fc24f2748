/**
 * Who is calling. Every A2A request (both bindings) passes through {@linkcode Authenticator.identify}
 * before anything reads its body: it turns the `Authorization` header into a {@linkcode Caller} —
 * a principal from the token file (`auth_tokens.ts`), from an OIDC JWT (`oidc.ts`), or from the
 * embedding program's own `authenticate` hook — or into a 401. The admin token is a caller too: it
 * sees every task, including those journaled before tasks had owners, and has no principal, so the
 * tasks it makes have no owner either (not one a principal named "admin" would own). With no
 * method configured every request is the one anonymous caller (the loopback tutorial's default).
 *
 * What a caller may then see and how much it may hold is `access.ts`'s business.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { TokenFile } from "./auth_tokens.ts";
import { AuthenticationError } from "./errors.ts";
import { OidcVerifier } from "./oidc.ts";
import { timingSafeEqualText } from "./timing_safe_equal.ts";

/** The caller of one request, as the agent's methods see it. */
export interface Caller {
  /**
   * Who: a token file's principal, an OIDC `sub`, the hook's answer; undefined when authentication
   * is off, and for the admin, so what the admin makes belongs to no principal that could share its name.
   */
  principal?: string;
  /** The request's `tenant`, when it named one. */
  tenant?: string;
  /** The admin token's holder: sees and changes every task. */
  admin?: boolean;
}

/** The embedding program's own check: the principal (1 to 255 characters), or undefined to refuse (401). */
export type AuthenticateFunction = (req: IncomingMessage) => Promise<string | undefined> | string | undefined;

/** What checks OIDC bearer tokens (`OidcVerifier`). */
export interface BearerVerifier {
  /** The issuer, for the card's `openIdConnectUrl`. */
  readonly issuer: string;
  /**
   * Verifies a token.
   *
   * @returns Its principal.
   * @throws {AuthenticationError} `invalid_token`, or `unavailable` when the keys cannot be had.
   */
  verify(token: string): Promise<{ principal: string }>;
}

/** Options of {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  /** `<principal> <token>` lines (`--auth-tokens`). @default none */
  tokens?: TokenFile;
  /** OIDC JWTs (`--oidc-issuer`, `--oidc-audience`). @default none */
  oidc?: BearerVerifier;
  /** Anything else: asked when neither of the above knows the token. @default none */
  authenticate?: AuthenticateFunction;
  /** The admin token: its bearer is the admin caller. @default none */
  adminToken?: string;
}

/** JWTs are three base64url parts; token-file tokens usually are not, so they skip the OIDC check. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;
/** Longer `Authorization` values are refused before any work. */
const MAX_AUTHORIZATION_LENGTH = 16 * 1024;
/**
 * The longest principal an OIDC `sub` or the hook may name (OIDC Core §2 bounds `sub` so): it is
 * journaled in each of its tasks' lines, whose head (`frozen_task.ts`) has room for this much.
 */
export const MAX_PRINCIPAL_CHARS = 255;

/**
 * Turns requests into callers.
 *
 * @example Callers named by a hook
 * ```ts
 * import { Authenticator } from "./auth.ts";
 * const auth = new Authenticator({ authenticate: (req) => req.headers["x-user"] === "alice" ? "alice" : undefined });
 * console.log(auth.enabled); // true
 * ```
 */
export class Authenticator {
  #options: AuthenticatorOptions;

  /** @param options See {@linkcode AuthenticatorOptions}. */
  constructor(options: AuthenticatorOptions = {}) {
    this.#options = options;
  }

  /** Whether any method is configured; when not, every request is the anonymous caller. */
  get enabled(): boolean {
    const { tokens, oidc, authenticate } = this.#options;
    return tokens !== undefined || oidc !== undefined || authenticate !== undefined;
  }

  /**
   * Who sent a request.
   *
   * @param req The request (only its headers are read).
   * @returns The caller, or undefined when it must be refused with 401 (an OIDC `sub` or hook answer
   *   that is empty or longer than {@linkcode MAX_PRINCIPAL_CHARS} names nobody).
   * @throws {AuthenticationError} `unavailable` when the OIDC issuer's keys cannot be fetched (503).
   */
  async identify(req: IncomingMessage): Promise<Caller | undefined> {
    const { tokens, oidc, authenticate, adminToken } = this.#options;
    const header = req.headers.authorization;
    if (header !== undefined && header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
    const bearer = /^Bearer +(\S+)\s*$/i.exec(header ?? "")?.[1];
    if (bearer !== undefined && adminToken !== undefined && timingSafeEqualText(bearer, adminToken)) return { admin: true };
    if (!this.enabled) return {};
    if (bearer !== undefined) {
      const principal = await tokens?.principalOf(bearer);
      if (principal !== undefined) return { principal };
      if (oidc && JWT_SHAPE.test(bearer)) {
        try {
          const { principal } = await oidc.verify(bearer);
          if (isPrincipal(principal)) return { principal };
        } catch (error) {
          if (!(error instanceof AuthenticationError) || error.code === "unavailable") throw error;
          // An invalid JWT may still be the hook's to judge.
        }
      }
    }
    const principal = await authenticate?.(req);
    return isPrincipal(principal) ? { principal } : undefined;
  }

  /**
   * Reads the token file again (the agent script calls it on SIGHUP); nothing without one.
   *
   * @returns Resolves when the new tokens are in use.
   * @throws {Error} If the file cannot be read or parsed; the tokens before stay in use.
   */
  async reload(): Promise<void> {
    await this.#options.tokens?.reload();
  }

  /**
   * The `WWW-Authenticate` value of a 401 (RFC 6750): `invalid_token` when a bearer token was sent.
   *
   * @param req The refused request.
   * @returns The header's value.
   */
  challenge(req: IncomingMessage): string {
    const sent = /^Bearer /i.test(req.headers.authorization ?? "");
    return sent ? 'Bearer realm="a2a", error="invalid_token"' : 'Bearer realm="a2a"';
  }

  /**
   * How the agent card declares authentication (A2A v1.0 `securitySchemes` and
   * `securityRequirements`): a bearer token, and OpenID Connect when an issuer is configured. Any
   * one of them is enough. Nothing when authentication is off.
   *
   * @returns The two card fields, or `{}`.
   */
  cardFields(): { securitySchemes?: Record<string, unknown>; securityRequirements?: unknown[] } {
    if (!this.enabled) return {};
    const securitySchemes: Record<string, unknown> = {
      bearer: { httpAuthSecurityScheme: { scheme: "Bearer", description: "Authorization: Bearer <token>: a token the agent's operator issued" } },
    };
    const securityRequirements: unknown[] = [{ schemes: { bearer: { list: [] } } }];
    if (this.#options.oidc) {
      securitySchemes.oidc = { openIdConnectSecurityScheme: { openIdConnectUrl: `${this.#options.oidc.issuer.replace(/\/$/, "")}/.well-known/openid-configuration` } };
      securityRequirements.push({ schemes: { oidc: { list: [] } } });
    }
    return { securitySchemes, securityRequirements };
  }
}

/** A principal a caller may have: a non-empty string of at most {@linkcode MAX_PRINCIPAL_CHARS}. */
function isPrincipal(value: unknown): value is string {
  return typeof value === "string" && value !== "" && value.length <= MAX_PRINCIPAL_CHARS;
}

/** Options of {@linkcode openAuthenticator}: the agent script's flags. */
export interface OpenAuthenticatorOptions {
  /** `--auth-tokens`: a file of `<principal> <token>` lines. @default none */
  tokensFile?: string;
  /** `--oidc-issuer`: the OpenID provider whose JWTs are accepted. @default none */
  oidcIssuer?: string;
  /** `--oidc-audience`: the `aud` those JWTs must carry; required with an issuer. */
  oidcAudience?: string;
  /** The agent's admin token (`Agent.adminToken`). @default none */
  adminToken?: string;
  /** Where token-file warnings go. @default console.warn */
  warn?: (message: string) => void;
}

/**
 * Builds the authenticator the flags describe.
 *
 * @param options See {@linkcode OpenAuthenticatorOptions}.
 * @returns The authenticator; `enabled` is false when no method was given.
 * @throws {Error} If the token file cannot be read or parsed, or an issuer comes without an audience.
 */
export async function openAuthenticator(options: OpenAuthenticatorOptions): Promise<Authenticator> {
  const { tokensFile, oidcIssuer, oidcAudience, adminToken, warn } = options;
  if (oidcIssuer !== undefined && !oidcAudience) throw new Error("--oidc-issuer needs --oidc-audience: the aud the agent's tokens are issued for");
  const tokens = tokensFile === undefined ? undefined : await TokenFile.load(tokensFile, { warn });
  const oidc = oidcIssuer === undefined ? undefined : new OidcVerifier({ issuer: oidcIssuer, audience: oidcAudience! });
  return new Authenticator({ tokens, oidc, adminToken });
}

/**
 * Whether a listening address is reachable only from this machine.
 *
 * @param host The `--host` value: an address or `localhost`.
 * @returns True for `localhost`, 127.0.0.0/8 and ::1.
 *
 * @example Tell a loopback address from others
 * ```ts
 * import { isLoopbackHost } from "./auth.ts";
 * console.log(isLoopbackHost("127.0.0.1"), isLoopbackHost("0.0.0.0")); // true false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1" || /^::ffff:127\./.test(bare);
}
