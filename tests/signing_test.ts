import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import {
  decodeSecret,
  generateSigningKey,
  generateWebhookSecret,
  jwksDocument,
  parseSecrets,
  signingKeyFrom,
  signJwt,
  signJwtAsync,
  signStandardWebhook,
  webhookJwtClaims,
} from "../lib/signing.ts";

const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("Standard Webhooks signing", () => {
  it("signStandardWebhook() reproduces the known-good Standard Webhooks vector", () => {
    const header = signStandardWebhook(VECTOR.id, VECTOR.timestamp, VECTOR.body, [decodeSecret(VECTOR.secret)]);
    assert.equal(header, VECTOR.signature);
  });

  it("signStandardWebhook() signs bytes exactly as it signs the same string", () => {
    const bytes = new TextEncoder().encode(VECTOR.body);
    assert.equal(signStandardWebhook(VECTOR.id, VECTOR.timestamp, bytes, [decodeSecret(VECTOR.secret)]), VECTOR.signature);
  });

  it("signStandardWebhook() gives one v1 entry per secret during rotation", () => {
    const secrets = parseSecrets(`${VECTOR.secret},${generateWebhookSecret()}`);
    const entries = signStandardWebhook(VECTOR.id, VECTOR.timestamp, VECTOR.body, secrets).split(" ");
    assert.equal(entries.length, 2);
    assert.equal(entries[0], VECTOR.signature);
    assert.match(entries[1], /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(entries[1], entries[0]);
  });

  it("signStandardWebhook() refuses an id with a dot, a fractional timestamp and no secrets", () => {
    const secrets = [decodeSecret(VECTOR.secret)];
    assert.throws(() => signStandardWebhook("a.b", VECTOR.timestamp, "{}", secrets), RangeError);
    assert.throws(() => signStandardWebhook("a", 1.5, "{}", secrets), RangeError);
    assert.throws(() => signStandardWebhook("a", VECTOR.timestamp, "{}", []), RangeError);
  });

  it("decodeSecret() reads whsec_ and bare base64 alike", () => {
    assert.deepEqual(decodeSecret(VECTOR.secret), decodeSecret(VECTOR.secret.slice("whsec_".length)));
    assert.equal(decodeSecret(VECTOR.secret).length, 24);
  });

  it("decodeSecret() refuses empty and non-base64 secrets", () => {
    for (const bad of ["", "whsec_", "   ", "not base64!", "whsec_abc$", "a"]) {
      assert.throws(() => decodeSecret(bad), RangeError, `should refuse ${JSON.stringify(bad)}`);
    }
  });

  it("parseSecrets() trims entries and ignores empty ones", () => {
    assert.deepEqual(parseSecrets(undefined), []);
    assert.deepEqual(parseSecrets(" , ,"), []);
    const secrets = parseSecrets(` ${VECTOR.secret} ,, c2VjcmV0 ,`);
    assert.equal(secrets.length, 2);
    assert.equal(secrets[1].toString(), "secret");
  });

  it("generateWebhookSecret() makes distinct whsec_ secrets of 24 bytes", () => {
    const a = generateWebhookSecret();
    assert.match(a, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.equal(decodeSecret(a).length, 24);
    assert.notEqual(a, generateWebhookSecret());
  });
});

describe("ES256 signing keys", () => {
  it("signingKeyFrom() derives the kid as the RFC 7638 thumbprint of the public key, cut to 16 bytes", () => {
    const current = generateSigningKey(1_000);
    const { crv, kty, x, y } = current.publicJwk;
    const thumbprint = createHash("sha256").update(`{"crv":"${crv}","kty":"${kty}","x":"${x}","y":"${y}"}`).digest();
    assert.equal(current.kid, thumbprint.subarray(0, 16).toString("base64url"));
    assert.equal(current.kid.length, 22);
    assert.equal(current.createdAt, 1_000);
    assert.equal(signingKeyFrom(current.privateKey, 2_000).kid, current.kid);
  });

  it("signingKeyFrom() refuses a key that is not EC P-256", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    assert.throws(() => signingKeyFrom(privateKey, 0), TypeError);
  });

  it("jwksDocument() publishes public keys only", () => {
    const document = jwksDocument({ current: generateSigningKey(0), previous: generateSigningKey(0) });
    assert.equal(document.keys.length, 2);
    for (const jwk of document.keys) {
      assert.deepEqual(Object.keys(jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
      assert.equal(jwk.alg, "ES256");
    }
    assert.doesNotMatch(JSON.stringify(document), /"d"/);
  });
});

describe("webhook JWTs", () => {
  for (const [name, signWith] of [["signJwt()", signJwt], ["signJwtAsync()", signJwtAsync]] as const) it(`${name} makes a JWS that plain node:crypto verify() accepts with the JWK`, async () => {
    const current = generateSigningKey(Date.now());
    const claims = webhookJwtClaims({
      issuer: "https://agent.example",
      audience: "https://receiver.example/hook",
      webhookId: "msg_1",
      taskId: "task-1",
      body: '{"ok":true}',
      now: 1_700_000_000_500,
    });
    const token = await signWith(claims, current);
    const [header, payload, signature] = token.split(".");
    assert.deepEqual(JSON.parse(Buffer.from(header, "base64url").toString()), { alg: "ES256", typ: "JWT", kid: current.kid });
    assert.deepEqual(JSON.parse(Buffer.from(payload, "base64url").toString()), claims);
    const publicKey = createPublicKey({ key: jwksDocument({ current }).keys[0], format: "jwk" });
    const raw = Buffer.from(signature, "base64url");
    assert.equal(raw.length, 64);
    assert.ok(verify("sha256", Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, raw));
    assert.ok(!verify("sha256", Buffer.from(`${header}.${payload}x`), { key: publicKey, dsaEncoding: "ieee-p1363" }, raw));
  });

  it("webhookJwtClaims() names iss, aud, iat, exp, jti, taskId and body_sha256", () => {
    const body = '{"ok":true}';
    const claims = webhookJwtClaims({
      issuer: "https://agent.example",
      audience: "https://receiver.example/hook",
      webhookId: "msg_1",
      taskId: "task-1",
      body,
      now: 1_700_000_000_999,
      ttlSeconds: 60,
    });
    assert.deepEqual(claims, {
      iss: "https://agent.example",
      aud: "https://receiver.example/hook",
      iat: 1_700_000_000,
      exp: 1_700_000_060,
      jti: "msg_1",
      taskId: "task-1",
      body_sha256: createHash("sha256").update(body).digest("base64url"),
    });
    const defaults = webhookJwtClaims({ ...base(), now: 0 });
    assert.equal(defaults.exp, 300);
    assert.throws(() => webhookJwtClaims({ ...base(), now: 0, ttlSeconds: 0 }), RangeError);
  });

  it("webhookJwtClaims() hashes bytes exactly as it hashes the same string", () => {
    const fromString = webhookJwtClaims({ ...base(), body: "héllo", now: 0 });
    const fromBytes = webhookJwtClaims({ ...base(), body: new TextEncoder().encode("héllo"), now: 0 });
    assert.equal(fromBytes.body_sha256, fromString.body_sha256);
  });
});

function base() {
  return { issuer: "i", audience: "a", webhookId: "w", taskId: "t", body: "{}" };
}
