/**
 * A loopback OIDC issuer for tests: a `node:http` server on 127.0.0.1 that serves its discovery
 * document (`/.well-known/openid-configuration`) and JWKS (`/jwks.json`), with one RS256 and one
 * ES256 key made at start, and `sign()` to mint tokens with them. A token carries exactly the
 * claims the test gives; `validClaims()` makes a set that verifies.
 *
 * @example A token the agent accepts
 * ```ts
 * import { startTestIssuer, validClaims } from "./oidc_issuer.ts";
 * import { OidcVerifier } from "../lib/oidc.ts";
 * const issuer = await startTestIssuer();
 * const verifier = new OidcVerifier({ issuer: issuer.issuer, audience: "https://agent.example" });
 * const token = issuer.sign(validClaims(issuer.issuer, "https://agent.example", "alice"));
 * console.log((await verifier.verify(token)).principal); // alice
 * await issuer.close();
 * ```
 */

import { Buffer } from "node:buffer";
import { generateKeyPairSync, sign } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { createServer } from "node:http";
import type { ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The algorithms the issuer signs with. */
export type TestAlg = "RS256" | "ES256";

/** A running test issuer. */
export interface TestIssuer {
  /** Its URL, `http://127.0.0.1:<port>`: the `issuer` to configure and the `iss` to sign. */
  issuer: string;
  /** How many times its JWKS was fetched. */
  readonly jwksRequests: number;
  /**
   * Signs `claims` as they are (nothing is added).
   *
   * @param claims The payload.
   * @param options `alg` (@default "RS256"); `key`: the newest published key for the alg
   * ("current", the default) or one never published ("unknown"); `kid` to put in the header
   * instead of the key's own, or `null` for none.
   * @returns The compact JWS.
   */
  sign(claims: Record<string, unknown>, options?: { alg?: TestAlg; kid?: string | null; key?: "current" | "unknown" }): string;
  /**
   * Publishes a new key for `alg`, which becomes its current key; the old ones stay published.
   *
   * @param alg @default "RS256"
   * @returns The new key's kid.
   */
  rotate(alg?: TestAlg): string;
  /** Stops the server. */
  close(): Promise<void>;
}

interface IssuerKey {
  kid: string;
  alg: TestAlg;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
}

/**
 * Starts a test issuer on 127.0.0.1.
 *
 * @param options `port` to listen on (@default 0: a free one; give one to start an issuer a
 * verifier was already pointed at); `advertisedIssuer`, the `issuer` its discovery document names
 * (@default its own URL; set another to test that verifiers refuse it).
 * @returns The running issuer.
 */
export async function startTestIssuer(options: { port?: number; advertisedIssuer?: string } = {}): Promise<TestIssuer> {
  const published = [makeKey("RS256", "rs-1"), makeKey("ES256", "es-1")];
  const unpublished = { RS256: makeKey("RS256", "rs-unknown"), ES256: makeKey("ES256", "es-unknown") };
  let issuer = "";
  let jwksRequests = 0;
  const server = createServer((request, response) => {
    if (request.url === "/.well-known/openid-configuration") {
      const advertised = options.advertisedIssuer ?? issuer;
      sendJson(response, { issuer: advertised, jwks_uri: `${issuer}/jwks.json`, id_token_signing_alg_values_supported: ["RS256", "ES256"] });
    } else if (request.url === "/jwks.json") {
      jwksRequests += 1;
      sendJson(response, { keys: published.map((key) => key.publicJwk) });
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    get jwksRequests() {
      return jwksRequests;
    },
    sign(claims, { alg = "RS256", kid, key = "current" } = {}) {
      const signer = key === "unknown" ? unpublished[alg] : published.findLast((candidate) => candidate.alg === alg)!;
      const header = kid === null ? { alg, typ: "JWT" } : { alg, typ: "JWT", kid: kid ?? signer.kid };
      const input = `${base64urlJson(header)}.${base64urlJson(claims)}`;
      // JWS wants ECDSA signatures as raw r || s; RSA keys ignore dsaEncoding.
      const signature = sign("sha256", Buffer.from(input), { key: signer.privateKey, dsaEncoding: "ieee-p1363" });
      return `${input}.${signature.toString("base64url")}`;
    },
    rotate(alg = "RS256") {
      const added = makeKey(alg, `${alg === "RS256" ? "rs" : "es"}-${published.length + 1}`);
      published.push(added);
      return added.kid;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * Claims that verify: `iss`, `aud`, `sub`, `iat` now and `exp` five minutes on.
 *
 * @param issuer The `iss`.
 * @param audience The `aud`.
 * @param sub The `sub`, the principal the agent will see.
 * @param nowMs The clock the verifier uses, in ms (@default Date.now()).
 * @returns The claims, to sign as they are or spread and change.
 */
export function validClaims(issuer: string, audience: string, sub: string, nowMs = Date.now()): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return { iss: issuer, aud: audience, sub, iat, exp: iat + 300 };
}

function makeKey(alg: TestAlg, kid: string): IssuerKey {
  const { privateKey, publicKey } = alg === "RS256"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid, alg, privateKey, publicJwk: { ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" } };
}

function sendJson(response: ServerResponse, value: unknown): void {
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(value));
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
