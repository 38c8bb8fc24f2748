/**
 * JwksCache: public keys fetched from an agent's JWKS URL and cached. A loopback server serves the
 * JWKS and counts fetches; the clock is injected, so intervals pass without waiting.
 */

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { WebhookVerificationError } from "../lib/errors.ts";
import { jwksDocument, signJwt, webhookJwtClaims } from "../lib/signing.ts";
import type { SigningKey } from "../lib/signing.ts";
import { loadSigningKeys, rotateSigningKey } from "../lib/signing_keys.ts";
import { JwksCache, fetchJwks } from "../lib/jwks_cache.ts";
import { verifyWebhookJwt } from "../lib/verify.ts";
import { tempDir } from "./helpers.ts";

const NOW_MS = 1_700_000_000_000;
const BODY = '{"statusUpdate":{"taskId":"task-1"}}';
const AUDIENCE = "https://receiver.example/hook";
const ISSUER = "https://agent.example";

const dataDir = tempDir("a2a-jwks-test-");
let key: SigningKey;
before(async () => {
  key = (await loadSigningKeys(dataDir)).current;
});

function token(): string {
  return signJwt(webhookJwtClaims({ issuer: ISSUER, audience: AUDIENCE, webhookId: "msg_1", taskId: "task-1", body: BODY, now: NOW_MS }), key);
}

function jwtOptions() {
  return { audience: AUDIENCE, issuer: ISSUER, webhookId: "msg_1", now: () => NOW_MS };
}

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(error instanceof WebhookVerificationError, `expected WebhookVerificationError, got ${error}`);
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

describe("JwksCache", () => {
  let requests = 0;
  let status = 200;
  let document: unknown;
  let url = "";
  const server = createServer((request, response) => {
    requests += 1;
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(document));
  });
  let clock = NOW_MS;
  let second: SigningKey;

  before(async () => {
    second = (await rotateSigningKey(join(dataDir, "jwks"))).current;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  function reset(keys: SigningKey[]) {
    requests = 0;
    status = 200;
    clock = NOW_MS;
    document = jwksDocument({ current: keys[0], previous: keys[1] });
    return new JwksCache(url, { now: () => clock, minRefetchIntervalMs: 30_000, maxAgeMs: 600_000 });
  }

  it("JwksCache.getKey() serves a cache hit without a second fetch", async () => {
    const cache = reset([key]);
    await cache.getKey(key.kid);
    clock += 60_000;
    const found = await cache.getKey(key.kid);
    assert.equal(found.asymmetricKeyType, "ec");
    assert.equal(requests, 1);
    assert.ok(await verifyWebhookJwt(token(), BODY, { ...jwtOptions(), jwks: cache }));
  });

  it("JwksCache.getKey() re-fetches once for an unknown kid, then not again within the interval", async () => {
    const cache = reset([key]);
    await cache.getKey(key.kid);
    await assert.rejects(cache.getKey("nope"), code("UNKNOWN_KEY"));
    assert.equal(requests, 1, "the first fetch is too recent to repeat");
    clock += 30_000;
    await assert.rejects(cache.getKey("nope"), code("UNKNOWN_KEY"));
    assert.equal(requests, 2);
    clock += 29_000;
    await assert.rejects(cache.getKey("nope"), code("UNKNOWN_KEY"));
    await assert.rejects(cache.getKey("still-nope"), code("UNKNOWN_KEY"));
    assert.equal(requests, 2);
    document = jwksDocument({ current: second, previous: key });
    clock += 1_000;
    assert.ok(await cache.getKey(second.kid));
    assert.equal(requests, 3);
  });

  it("JwksCache.getKey() shares one fetch among concurrent callers", async () => {
    const cache = reset([second, key]);
    const keys = await Promise.all([cache.getKey(key.kid), cache.getKey(second.kid), cache.getKey(key.kid)]);
    assert.equal(keys.length, 3);
    assert.equal(requests, 1);
  });

  it("JwksCache.getKey() fetches again once the cache is older than maxAgeMs", async () => {
    const cache = reset([key]);
    await cache.getKey(key.kid);
    clock += 600_000;
    await cache.getKey(key.kid);
    assert.equal(requests, 2);
  });

  it("JwksCache.getKey() reports a failed fetch as UNKNOWN_KEY with the cause", async () => {
    const cache = reset([key]);
    status = 500;
    await assert.rejects(cache.getKey(key.kid), (error: unknown) => {
      assert.ok(error instanceof WebhookVerificationError && error.code === "UNKNOWN_KEY");
      assert.match((error.cause as Error).message, /HTTP 500/);
      return true;
    });
    status = 200;
    await assert.rejects(cache.getKey(key.kid), code("UNKNOWN_KEY"));
    assert.equal(requests, 1);
  });

  it("JwksCache.getKey() tries a failed fetch again after failureRetryIntervalMs, not the whole refetch interval", async () => {
    const cache = reset([key]);
    status = 503; // The agent is restarting (found by scripts/chaos.ts: 30 s of refused webhooks).
    await assert.rejects(cache.getKey(key.kid), code("UNKNOWN_KEY"));
    status = 200;
    clock += 999;
    await assert.rejects(cache.getKey(key.kid), code("UNKNOWN_KEY"));
    assert.equal(requests, 1);
    clock += 1;
    assert.ok(await cache.getKey(key.kid));
    assert.equal(requests, 2);
    await assert.rejects(cache.getKey("nope"), code("UNKNOWN_KEY"));
    clock += 1_000;
    await assert.rejects(cache.getKey("nope"), code("UNKNOWN_KEY"));
    assert.equal(requests, 2, "after a good fetch, unknown kids wait for minRefetchIntervalMs");
  });

  it("JwksCache.getKey() ignores keys that are not EC P-256 for ES256", async () => {
    const cache = reset([key]);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    const [ec] = jwksDocument({ current: key }).keys;
    document = { keys: [{ ...rsa, kid: "rsa" }, { ...ec, kid: "rs", alg: "RS256" }, ec] };
    await assert.rejects(cache.getKey("rsa"), code("UNKNOWN_KEY"));
    await assert.rejects(cache.getKey("rs"), code("UNKNOWN_KEY"));
    clock += 30_000;
    assert.ok(await cache.getKey(key.kid));
  });

  it("JwksCache.getKey() stops serving a key older than maxAgeMs when the fetch that would renew it fails", async () => {
    const cache = reset([key]);
    await cache.getKey(key.kid);
    status = 503;
    clock += 600_000;
    await assert.rejects(cache.getKey(key.kid), code("UNKNOWN_KEY"));
    assert.equal(requests, 2);
  });

  it("JwksCache.getKey() takes a document without a keys array as a failed fetch, and keeps the first of two keys with one kid", async () => {
    const cache = reset([key]);
    document = { keys: "none" };
    await assert.rejects(cache.getKey(key.kid), (error: unknown) => {
      assert.ok(error instanceof WebhookVerificationError && error.code === "UNKNOWN_KEY");
      assert.match((error.cause as Error).message, /no "keys" array/);
      return true;
    });
    const [first] = jwksDocument({ current: key }).keys;
    const [other] = jwksDocument({ current: second }).keys;
    document = { keys: [first, { ...other, kid: key.kid }] };
    clock += 1_000;
    const found = await cache.getKey(key.kid);
    assert.equal(found.export({ format: "jwk" }).x, key.publicJwk.x, "the first key with the kid wins");
  });

  it("JwksCache refuses a URL that is not http(s) and a negative interval", () => {
    assert.throws(() => new JwksCache("file:///etc/jwks.json"), TypeError);
    assert.throws(() => new JwksCache(url, { minRefetchIntervalMs: -1 }), RangeError);
  });

  it("fetchJwks() keeps EC P-256 keys for ES256 and RSA keys for RS256, and leaves the others out", async () => {
    reset([key]);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ format: "jwk" });
    const [ec] = jwksDocument({ current: key }).keys;
    document = { keys: [ec, { ...rsa, kid: "rsa" }, { ...rsa, alg: "PS256" }, { ...p384, kid: "p384" }, { ...ec, use: "enc" }, "junk", { ...rsa }] };
    const keys = await fetchJwks(url);
    assert.deepEqual(keys.map(({ kid, alg }) => [kid, alg]), [[key.kid, "ES256"], ["rsa", "RS256"], [undefined, "RS256"]]);
  });

  it("fetchJwks() reports a key node:crypto cannot load instead of dropping it", async () => {
    reset([key]);
    const [ec] = jwksDocument({ current: key }).keys;
    document = { keys: [ec, { ...ec, kid: "off-curve", y: ec.x }] };
    await assert.rejects(fetchJwks(url), (error: unknown) => {
      assert.match((error as Error).message, /cannot be loaded \(keys\[1\]\)/);
      assert.ok((error as Error).cause);
      return true;
    });
  });
});
