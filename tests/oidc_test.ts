/**
 * OidcVerifier: OIDC bearer tokens checked against a loopback issuer (`oidc_issuer.ts`), or a fake
 * fetch where the issuer must misbehave. The clock is injected, so refetch intervals pass without
 * waiting.
 */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { AuthenticationError } from "../lib/errors.ts";
import { MAX_TOKEN_CHARS, OidcVerifier } from "../lib/oidc.ts";
import type { OidcOptions } from "../lib/oidc.ts";
import { freePort } from "./helpers.ts";
import { startTestIssuer, validClaims } from "./oidc_issuer.ts";
import type { TestIssuer } from "./oidc_issuer.ts";

const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const AUDIENCE = "https://agent.example";

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** A token with the given header and claims and a signature of junk. */
function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>, signature = "c2lnbmF0dXJl"): string {
  return `${base64urlJson(header)}.${base64urlJson(claims)}.${signature}`;
}

/** Asserts that verify() refuses `token` with `code`, naming the problem and not quoting the token. */
async function assertRefused(verifier: OidcVerifier, token: string, code: AuthenticationError["code"], pattern?: RegExp): Promise<AuthenticationError> {
  let caught: AuthenticationError | undefined;
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(error instanceof AuthenticationError, `expected AuthenticationError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    if (token.length > 8) assert.ok(!error.message.includes(token), "the message quotes the token");
    caught = error;
    return true;
  });
  return caught!;
}

/** A fetch that answers from a table (a status number, or a JSON body) and records each request. */
function fakeFetch(routes: Record<string, unknown>, seen: Array<{ url: string; init?: RequestInit }> = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    seen.push({ url, init });
    const answer = routes[url];
    if (answer === undefined) return new Response("", { status: 404 });
    return typeof answer === "number" ? new Response("", { status: answer }) : Response.json(answer);
  }) as typeof fetch;
}

describe("OidcVerifier", () => {
  let issuer: TestIssuer;
  before(async () => {
    issuer = await startTestIssuer();
  });
  after(() => issuer.close());

  function setup(options: Partial<OidcOptions> = {}, from: TestIssuer = issuer) {
    const clock = { ms: NOW_MS };
    const verifier = new OidcVerifier({ issuer: from.issuer, audience: AUDIENCE, now: () => clock.ms, ...options });
    return { verifier, clock };
  }

  function claims(extra: Record<string, unknown> = {}, from: TestIssuer = issuer): Record<string, unknown> {
    return { ...validClaims(from.issuer, AUDIENCE, "alice", NOW_MS), ...extra };
  }

  it("OidcVerifier.verify() accepts an RS256 token and returns its sub as the principal", async () => {
    const { verifier } = setup();
    const identity = await verifier.verify(issuer.sign(claims({ email: "alice@example.com" })));
    assert.equal(identity.principal, "alice");
    assert.equal(identity.claims.email, "alice@example.com");
    assert.equal(identity.claims.iss, issuer.issuer);
  });

  it("OidcVerifier.verify() accepts an ES256 token, and an aud array that contains the audience", async () => {
    const { verifier } = setup();
    assert.equal((await verifier.verify(issuer.sign(claims(), { alg: "ES256" }))).principal, "alice");
    const both = issuer.sign(claims({ aud: ["https://other.example", AUDIENCE], sub: "bob" }), { alg: "ES256" });
    assert.equal((await verifier.verify(both)).principal, "bob");
  });

  it("OidcVerifier.verify() refuses a token from another issuer", async () => {
    const { verifier } = setup();
    await assertRefused(verifier, issuer.sign(claims({ iss: "https://evil.example" })), "invalid_token", /iss "https:\/\/evil\.example"/);
    await assertRefused(verifier, issuer.sign(claims({ iss: `${issuer.issuer}/` })), "invalid_token", /iss/);
  });

  it("OidcVerifier.verify() refuses a token whose aud differs or does not include the audience", async () => {
    const { verifier } = setup();
    await assertRefused(verifier, issuer.sign(claims({ aud: "https://other.example" })), "invalid_token", /aud/);
    await assertRefused(verifier, issuer.sign(claims({ aud: ["https://other.example"] })), "invalid_token", /aud/);
    await assertRefused(verifier, issuer.sign(claims({ aud: undefined })), "invalid_token", /aud/);
  });

  it("OidcVerifier.verify() refuses an expired token once past the clock tolerance, and a token without exp", async () => {
    const { verifier } = setup();
    await assertRefused(verifier, issuer.sign(claims({ exp: NOW_S - 60 })), "invalid_token", /expired/);
    assert.ok(await verifier.verify(issuer.sign(claims({ exp: NOW_S - 59 }))), "within the 60 s tolerance");
    await assertRefused(verifier, issuer.sign(claims({ exp: undefined })), "invalid_token", /exp is missing/);
    await assertRefused(verifier, issuer.sign(claims({ exp: String(NOW_S + 300) })), "invalid_token", /exp/);
    const strict = setup({ clockToleranceSeconds: 0 }).verifier;
    await assertRefused(strict, issuer.sign(claims({ exp: NOW_S })), "invalid_token", /expired/);
  });

  it("OidcVerifier.verify() refuses a token whose nbf or iat is in the future beyond the tolerance", async () => {
    const { verifier } = setup();
    await assertRefused(verifier, issuer.sign(claims({ nbf: NOW_S + 61 })), "invalid_token", /not valid before/);
    await assertRefused(verifier, issuer.sign(claims({ iat: NOW_S + 120 })), "invalid_token", /issued in the future/);
    await assertRefused(verifier, issuer.sign(claims({ nbf: "soon" })), "invalid_token", /nbf or iat/);
    assert.ok(await verifier.verify(issuer.sign(claims({ nbf: NOW_S + 30, iat: NOW_S + 30 }))), "within the tolerance");
  });

  it("OidcVerifier.verify() refuses a token without sub, or with an empty or non-string one", async () => {
    const { verifier } = setup();
    for (const sub of [undefined, "", 42]) {
      await assertRefused(verifier, issuer.sign(claims({ sub })), "invalid_token", /sub is missing/);
    }
  });

  it("OidcVerifier.verify() refuses alg none, with or without a signature", async () => {
    const { verifier } = setup();
    const body = base64urlJson(claims());
    await assertRefused(verifier, `${base64urlJson({ alg: "none" })}.${body}.`, "invalid_token", /compact JWS/);
    await assertRefused(verifier, unsigned({ alg: "none", kid: "rs-1" }, claims()), "invalid_token", /alg "none"/);
    await assertRefused(verifier, unsigned({ kid: "rs-1" }, claims()), "invalid_token", /alg undefined/);
  });

  it("OidcVerifier.verify() refuses an HS256 token whose secret is the issuer's RSA public key (alg confusion)", async () => {
    const { verifier } = setup();
    const jwks = (await (await fetch(`${issuer.issuer}/jwks.json`)).json()) as { keys: Array<JsonWebKey & { kid: string }> };
    const jwk = jwks.keys.find((key) => key.kid === "rs-1")!;
    const pem = createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" });
    for (const secret of [pem, JSON.stringify(jwk)]) {
      const input = `${base64urlJson({ alg: "HS256", typ: "JWT", kid: "rs-1" })}.${base64urlJson(claims())}`;
      const token = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
      await assertRefused(verifier, token, "invalid_token", /alg "HS256" is not RS256 or ES256/);
    }
  });

  it("OidcVerifier.verify() refuses a token signed by a key not in the JWKS, under a published kid or its own", async () => {
    const { verifier } = setup();
    await assertRefused(verifier, issuer.sign(claims(), { key: "unknown", kid: "rs-1" }), "invalid_token", /signature does not verify with RS256 key "rs-1"/);
    await assertRefused(verifier, issuer.sign(claims(), { key: "unknown", alg: "ES256", kid: "es-1" }), "invalid_token", /signature/);
    await assertRefused(verifier, issuer.sign(claims(), { key: "unknown" }), "invalid_token", /no RS256 key "rs-unknown"/);
  });

  it("OidcVerifier.verify() refuses a token whose alg does not match its key's type", async () => {
    const { verifier } = setup();
    // An ES256 header naming the RSA key's kid finds no ES256 key of that name, and the reverse.
    await assertRefused(verifier, issuer.sign(claims(), { alg: "ES256", kid: "rs-1" }), "invalid_token", /no ES256 key "rs-1"/);
    await assertRefused(verifier, issuer.sign(claims(), { alg: "RS256", kid: "es-1" }), "invalid_token", /no RS256 key "es-1"/);
  });

  it("OidcVerifier.verify() refuses a token whose payload was changed after signing", async () => {
    const { verifier } = setup();
    const [header, , signature] = issuer.sign(claims()).split(".");
    await assertRefused(verifier, `${header}.${base64urlJson(claims({ sub: "admin" }))}.${signature}`, "invalid_token", /signature does not verify/);
    const [esHeader, , esSignature] = issuer.sign(claims(), { alg: "ES256" }).split(".");
    await assertRefused(verifier, `${esHeader}.${base64urlJson(claims({ sub: "admin" }))}.${esSignature}`, "invalid_token", /signature/);
  });

  it("OidcVerifier.verify() refuses a token longer than MAX_TOKEN_CHARS before decoding or fetching anything", async () => {
    const { verifier } = setup();
    const before = issuer.jwksRequests;
    const long = issuer.sign(claims({ padding: "x".repeat(MAX_TOKEN_CHARS) }));
    await assertRefused(verifier, long, "invalid_token", /at most 16384 characters/);
    assert.equal(issuer.jwksRequests, before, "no keys were fetched for it");
  });

  it("OidcVerifier.verify() refuses strings that are not a compact JWS with a JSON header", async () => {
    const { verifier } = setup();
    const body = base64urlJson(claims());
    const notJwts = ["not-a-jwt", "", "a.b", "a.b.c.d", "a b.c.d", `${base64urlJson([1])}.${body}.c2ln`, `bm90IGpzb24.${body}.c2ln`];
    for (const token of notJwts) await assertRefused(verifier, token, "invalid_token", /not a compact JWS/);
    await assertRefused(verifier, issuer.sign(claims()).replace(/\.[^.]+\./, ".bm90IGpzb24."), "invalid_token", /signature/);
    await assertRefused(verifier, 42 as unknown as string, "invalid_token", /not a string/);
  });

  it("OidcVerifier.verify() refuses a header with crit extensions or a kid that is not a string", async () => {
    const { verifier } = setup();
    await assertRefused(verifier, unsigned({ alg: "RS256", kid: "rs-1", crit: ["exp"] }, claims()), "invalid_token", /crit/);
    await assertRefused(verifier, unsigned({ alg: "RS256", kid: 7 }, claims()), "invalid_token", /kid 7/);
    await assertRefused(verifier, unsigned({ alg: "RS256", kid: "" }, claims()), "invalid_token", /kid ""/);
  });

  it("OidcVerifier.verify() takes a token without kid only while the issuer has exactly one key for its alg", async () => {
    const own = await startTestIssuer();
    try {
      const token = own.sign(claims({}, own), { alg: "ES256", kid: null });
      assert.equal((await setup({}, own).verifier.verify(token)).principal, "alice");
      own.rotate("ES256");
      const after = own.sign(claims({}, own), { alg: "ES256", kid: null });
      await assertRefused(setup({}, own).verifier, after, "invalid_token", /no kid and the issuer has 2 ES256 keys/);
    } finally {
      await own.close();
    }
  });

  it("OidcVerifier.verify() picks up a rotated key with one more JWKS fetch, and still takes the old key's tokens", async () => {
    const own = await startTestIssuer();
    try {
      const { verifier, clock } = setup({}, own);
      const old = own.sign(claims({}, own));
      await verifier.verify(old);
      assert.equal(own.jwksRequests, 1);
      const kid = own.rotate("RS256");
      clock.ms += 30_000;
      const rotated = own.sign(claims({}, own));
      assert.equal(JSON.parse(Buffer.from(rotated.split(".")[0], "base64url").toString()).kid, kid);
      assert.equal((await verifier.verify(rotated)).principal, "alice");
      assert.equal(own.jwksRequests, 2);
      await verifier.verify(rotated);
      await verifier.verify(old);
      assert.equal(own.jwksRequests, 2, "both keys are now cached");
    } finally {
      await own.close();
    }
  });

  it("OidcVerifier.verify() fetches the JWKS at most once per minRefetchIntervalMs, however many unknown kids arrive", async () => {
    const { verifier, clock } = setup();
    await verifier.verify(issuer.sign(claims(), { alg: "ES256" }));
    const start = issuer.jwksRequests;
    const storm = async () => {
      const tokens = Array.from({ length: 50 }, (_, index) => issuer.sign(claims(), { alg: "ES256", kid: `made-up-${index}-${clock.ms}` }));
      const results = await Promise.allSettled(tokens.map((token) => verifier.verify(token)));
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assert.equal((result.reason as AuthenticationError).code, "invalid_token");
      }
    };
    await storm();
    assert.equal(issuer.jwksRequests, start, "the first fetch is too recent to repeat");
    clock.ms += 30_000;
    await storm();
    assert.equal(issuer.jwksRequests, start + 1, "fifty unknown kids, one fetch");
    clock.ms += 29_999;
    await storm();
    assert.equal(issuer.jwksRequests, start + 1);
    clock.ms += 1;
    await storm();
    assert.equal(issuer.jwksRequests, start + 2);
  });

  it("OidcVerifier.verify() shares one fetch among callers that arrive before the keys are cached", async () => {
    const { verifier } = setup();
    const start = issuer.jwksRequests;
    const tokens = Array.from({ length: 10 }, (_, index) => issuer.sign(claims({ sub: `user-${index}` }), { alg: index % 2 ? "ES256" : "RS256" }));
    const identities = await Promise.all(tokens.map((token) => verifier.verify(token)));
    assert.deepEqual(identities.map((identity) => identity.principal), tokens.map((_, index) => `user-${index}`));
    assert.equal(issuer.jwksRequests, start + 1);
  });

  it("OidcVerifier.verify() fetches the keys again once they are older than maxAgeMs", async () => {
    const { verifier, clock } = setup({ maxAgeMs: 60_000 });
    await verifier.verify(issuer.sign(claims()));
    const start = issuer.jwksRequests;
    clock.ms += 60_000;
    await verifier.verify(issuer.sign(validClaims(issuer.issuer, AUDIENCE, "alice", clock.ms)));
    assert.equal(issuer.jwksRequests, start + 1);
  });

  it("OidcVerifier.verify() answers unavailable while the issuer is down, and accepts tokens 1 s after it is back, not 30 s", async () => {
    const port = await freePort();
    const { verifier, clock } = setup({ issuer: `http://127.0.0.1:${port}` });
    const early = unsigned({ alg: "RS256", kid: "rs-1" }, claims({ iss: `http://127.0.0.1:${port}` }));
    const down = await assertRefused(verifier, early, "unavailable", new RegExp(`keys of issuer http://127\\.0\\.0\\.1:${port} are unavailable`));
    assert.ok(down.cause, "the fetch error is the cause");
    const own = await startTestIssuer({ port });
    try {
      const token = own.sign(claims({}, own));
      await assertRefused(verifier, token, "unavailable");
      assert.equal(own.jwksRequests, 0, "no second try within failureRetryIntervalMs");
      clock.ms += 1_000;
      assert.equal((await verifier.verify(token)).principal, "alice");
      assert.equal(own.jwksRequests, 1);
    } finally {
      await own.close();
    }
  });

  it("OidcVerifier.verify() answers unavailable when the discovery document names another issuer", async () => {
    const own = await startTestIssuer({ advertisedIssuer: "https://evil.example" });
    try {
      const { verifier } = setup({}, own);
      await assertRefused(verifier, own.sign(claims({}, own)), "unavailable", /names issuer "https:\/\/evil\.example"/);
      assert.equal(own.jwksRequests, 0, "its JWKS is never read");
    } finally {
      await own.close();
    }
  });

  it("OidcVerifier.verify() answers unavailable for a jwks_uri on plain http off loopback, a failed fetch or a JWKS without keys", async () => {
    const base = "https://login.example";
    const discovery = `${base}/.well-known/openid-configuration`;
    const seen: Array<{ url: string; init?: RequestInit }> = [];
    const token = unsigned({ alg: "RS256", kid: "k" }, { ...claims(), iss: base });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ [discovery]: { issuer: base, jwks_uri: "http://keys.example/jwks" } }, /jwks_uri "http:\/\/keys\.example\/jwks"/],
      [{ [discovery]: { issuer: base } }, /jwks_uri undefined/],
      [{ [discovery]: ["not", "an", "object"] }, /names issuer undefined/],
      [{ [discovery]: 500 }, /OIDC discovery document .* answered HTTP 500/],
      [{ [discovery]: { issuer: base, jwks_uri: `${base}/jwks` }, [`${base}/jwks`]: { keys: "none" } }, /no "keys" array/],
    ];
    for (const [routes, pattern] of cases) {
      const verifier = new OidcVerifier({ issuer: base, audience: AUDIENCE, now: () => NOW_MS, fetch: fakeFetch(routes, seen) });
      await assertRefused(verifier, token, "unavailable", pattern);
    }
    assert.ok(seen.every(({ init }) => init?.redirect === "error"), "no fetch follows a redirect");
    const trailing = `${base}/tenant/`;
    const verifier = new OidcVerifier({ issuer: trailing, audience: AUDIENCE, fetch: fakeFetch({}, seen) });
    await assertRefused(verifier, token, "unavailable");
    assert.equal(seen.at(-1)!.url, `${base}/tenant/.well-known/openid-configuration`, "one slash before .well-known");
  });

  it("OidcVerifier.verify() ignores RSA keys under 2048 bits and keys published for encryption", async () => {
    const base = "https://login.example";
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const strong = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const keys = [
      { ...weak.publicKey.export({ format: "jwk" }), kid: "weak" },
      { ...strong.publicKey.export({ format: "jwk" }), kid: "enc", use: "enc" },
    ];
    const routes = { [`${base}/.well-known/openid-configuration`]: { issuer: base, jwks_uri: `${base}/jwks` }, [`${base}/jwks`]: { keys } };
    const verifier = new OidcVerifier({ issuer: base, audience: AUDIENCE, now: () => NOW_MS, fetch: fakeFetch(routes) });
    for (const [kid, key] of [["weak", weak.privateKey], ["enc", strong.privateKey]] as const) {
      const input = `${base64urlJson({ alg: "RS256", kid })}.${base64urlJson({ ...claims(), iss: base })}`;
      const token = `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
      await assertRefused(verifier, token, "invalid_token", new RegExp(`no RS256 key "${kid}"`));
    }
  });

  it("new OidcVerifier() refuses an issuer on plain http off loopback, with a query, or not a URL, an empty audience and a negative duration", () => {
    for (const bad of ["http://login.example", "ftp://127.0.0.1", "https://login.example/?tenant=a", "https://user:pw@login.example", "login.example", ""]) {
      assert.throws(() => new OidcVerifier({ issuer: bad, audience: AUDIENCE }), TypeError, bad);
    }
    assert.throws(() => new OidcVerifier({ issuer: "https://login.example", audience: "" }), TypeError);
    assert.throws(() => new OidcVerifier({ issuer: "https://login.example", audience: AUDIENCE, minRefetchIntervalMs: -1 }), RangeError);
    assert.throws(() => new OidcVerifier({ issuer: "https://login.example", audience: AUDIENCE, clockToleranceSeconds: Infinity }), RangeError);
    for (const good of ["https://login.example", "http://127.0.0.1:8080", "http://[::1]:8080/realm", "http://localhost:8080"]) {
      assert.ok(new OidcVerifier({ issuer: good, audience: AUDIENCE }), good);
    }
  });
});
