import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebhookVerificationError } from "../lib/errors.ts";
import {
  decodeSecret,
  generateWebhookSecret,
  signJwt,
  signStandardWebhook,
  webhookJwtClaims,
} from "../lib/signing.ts";
import { loadSigningKeys, rotateSigningKey } from "../lib/signing_keys.ts";
import type { SigningKey } from "../lib/signing.ts";
import {
  checkNotificationToken,
  verifyStandardWebhook,
  verifyWebhook,
  verifyWebhookJwt,
  WEBHOOK_TOLERANCE_SECONDS,
} from "../lib/verify.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
const BODY = '{"statusUpdate":{"taskId":"task-1"}}';
const AUDIENCE = "https://receiver.example/hook";
const ISSUER = "https://agent.example";

let dataDir = "";
let key: SigningKey;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "a2a-verify-test-"));
  key = (await loadSigningKeys(dataDir)).current;
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Headers as a Standard Webhooks sender makes them. */
function signed(options: { id?: string; timestamp?: number; body?: string; secrets?: string[] } = {}) {
  const { id = "msg_1", timestamp = NOW_S, body = BODY, secrets = [SECRET] } = options;
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signStandardWebhook(id, timestamp, body, secrets.map(decodeSecret)),
  } as Record<string, string>;
}

/** A resolver that knows only the test key. */
const jwks = {
  async getKey(kid: string): Promise<KeyObject> {
    if (kid !== key.kid) throw new WebhookVerificationError("UNKNOWN_KEY", `no key ${kid}`);
    return createPublicKey({ key: key.publicJwk, format: "jwk" });
  },
};

function token(overrides: Record<string, unknown> = {}, signer: SigningKey = key): string {
  const claims = webhookJwtClaims({ issuer: ISSUER, audience: AUDIENCE, webhookId: "msg_1", taskId: "task-1", body: BODY, now: NOW_MS });
  return signJwt({ ...claims, ...overrides }, signer);
}

function jwtOptions(extra: Record<string, unknown> = {}) {
  return { jwks, audience: AUDIENCE, issuer: ISSUER, webhookId: "msg_1", now: () => NOW_MS, ...extra };
}

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(error instanceof WebhookVerificationError, `expected WebhookVerificationError, got ${error}`);
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("verifyStandardWebhook()", () => {
  it("verifyStandardWebhook() accepts the known-good vector with whsec_, bare base64 and Buffer secrets", () => {
    const headers = {
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    };
    const now = () => 1614265330_000;
    for (const secret of [SECRET, SECRET.slice("whsec_".length), decodeSecret(SECRET)]) {
      const result = verifyStandardWebhook(headers, '{"test": 2432232314}', [secret], { now });
      assert.deepEqual(result, { id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330 });
    }
  });

  it("verifyStandardWebhook() accepts when any of several v1 entries matches any secret", () => {
    const other = generateWebhookSecret();
    const headers = signed({ secrets: [other, SECRET] });
    headers["webhook-signature"] = `v1a,AAAA v2,xyz v1,${"A".repeat(43)}= ${headers["webhook-signature"]}`;
    assert.equal(verifyStandardWebhook(headers, BODY, [SECRET], { now: () => NOW_MS }).id, "msg_1");
    assert.equal(verifyStandardWebhook(headers, BODY, [generateWebhookSecret(), other], { now: () => NOW_MS }).id, "msg_1");
  });

  it("verifyStandardWebhook() reads repeated signature headers joined by node:http", () => {
    const good = signed()["webhook-signature"];
    const joined = { ...signed(), "webhook-signature": `v1,${"B".repeat(43)}=, ${good}` };
    assert.equal(verifyStandardWebhook(joined, BODY, [SECRET], { now: () => NOW_MS }).id, "msg_1");
    const array = { ...signed(), "webhook-signature": [`v1,${"B".repeat(43)}=`, good] };
    assert.equal(verifyStandardWebhook(array, BODY, [SECRET], { now: () => NOW_MS }).id, "msg_1");
  });

  it("verifyStandardWebhook() accepts bytes as the body", () => {
    const bytes = new TextEncoder().encode(BODY);
    assert.equal(verifyStandardWebhook(signed(), bytes, [SECRET], { now: () => NOW_MS }).timestamp, NOW_S);
  });

  it("verifyStandardWebhook() refuses a request without webhook-signature (MISSING_HEADERS)", () => {
    const { "webhook-signature": _, ...headers } = signed();
    assert.throws(() => verifyStandardWebhook(headers, BODY, [SECRET], { now: () => NOW_MS }), code("MISSING_HEADERS"));
  });

  it("verifyStandardWebhook() refuses a timestamp that is not whole seconds (MALFORMED)", () => {
    for (const timestamp of ["1700000000.5", "abc", "-5", "1e9"]) {
      const headers = { ...signed(), "webhook-timestamp": timestamp };
      assert.throws(() => verifyStandardWebhook(headers, BODY, [SECRET], { now: () => NOW_MS }), code("MALFORMED"));
    }
  });

  it("verifyStandardWebhook() refuses a webhook-id with a dot (MALFORMED)", () => {
    const headers = { ...signed(), "webhook-id": "msg.1" };
    assert.throws(() => verifyStandardWebhook(headers, BODY, [SECRET], { now: () => NOW_MS }), code("MALFORMED"));
  });

  it("verifyStandardWebhook() refuses a timestamp six minutes old (STALE_TIMESTAMP)", () => {
    const headers = signed({ timestamp: NOW_S - 6 * 60 });
    assert.throws(() => verifyStandardWebhook(headers, BODY, [SECRET], { now: () => NOW_MS }), code("STALE_TIMESTAMP"));
  });

  it("verifyStandardWebhook() refuses a timestamp six minutes ahead but takes one four minutes old", () => {
    const ahead = signed({ timestamp: NOW_S + 6 * 60 });
    assert.throws(() => verifyStandardWebhook(ahead, BODY, [SECRET], { now: () => NOW_MS }), code("STALE_TIMESTAMP"));
    const edge = signed({ timestamp: NOW_S - WEBHOOK_TOLERANCE_SECONDS });
    assert.equal(verifyStandardWebhook(edge, BODY, [SECRET], { now: () => NOW_MS }).timestamp, NOW_S - 300);
    const recent = signed({ timestamp: NOW_S - 4 * 60 });
    assert.equal(verifyStandardWebhook(recent, BODY, [SECRET], { now: () => NOW_MS }).timestamp, NOW_S - 240);
  });

  it("verifyStandardWebhook() refuses a tampered body, a wrong secret and a header without v1 (BAD_SIGNATURE)", () => {
    const now = () => NOW_MS;
    assert.throws(() => verifyStandardWebhook(signed(), `${BODY} `, [SECRET], { now }), code("BAD_SIGNATURE"));
    assert.throws(() => verifyStandardWebhook(signed(), BODY, [generateWebhookSecret()], { now }), code("BAD_SIGNATURE"));
    const noV1 = { ...signed(), "webhook-signature": "v2,abc" };
    assert.throws(() => verifyStandardWebhook(noV1, BODY, [SECRET], { now }), code("BAD_SIGNATURE"));
  });

  it("verifyStandardWebhook() treats no secrets or a non-base64 secret as a programmer mistake", () => {
    assert.throws(() => verifyStandardWebhook(signed(), BODY, [], { now: () => NOW_MS }), RangeError);
    assert.throws(() => verifyStandardWebhook(signed(), BODY, ["whsec_not base64!"], { now: () => NOW_MS }), RangeError);
  });
});

describe("verifyWebhookJwt()", () => {
  it("verifyWebhookJwt() returns the claims of a good token", async () => {
    const claims = await verifyWebhookJwt(token(), BODY, jwtOptions());
    assert.equal(claims.jti, "msg_1");
    assert.equal(claims.taskId, "task-1");
  });

  it("verifyWebhookJwt() refuses a token that is not a compact JWS (MALFORMED)", async () => {
    await assert.rejects(verifyWebhookJwt("a.b", BODY, jwtOptions()), code("MALFORMED"));
    await assert.rejects(verifyWebhookJwt("!!.a.b", BODY, jwtOptions()), code("MALFORMED"));
    const [, payload, signature] = token().split(".");
    await assert.rejects(verifyWebhookJwt(`bm90IGpzb24.${payload}.${signature}`, BODY, jwtOptions()), code("MALFORMED"));
  });

  it("verifyWebhookJwt() refuses alg none and HS256 (BAD_SIGNATURE)", async () => {
    const [, payload, signature] = token().split(".");
    for (const alg of ["none", "HS256", "ES384", undefined]) {
      const header = segment({ alg, typ: "JWT", kid: key.kid });
      await assert.rejects(verifyWebhookJwt(`${header}.${payload}.${signature}`, BODY, jwtOptions()), code("BAD_SIGNATURE"));
    }
  });

  it("verifyWebhookJwt() refuses changed claims under the old signature (BAD_SIGNATURE)", async () => {
    const [header, , signature] = token().split(".");
    const forged = segment({ ...JSON.parse(Buffer.from(token().split(".")[1], "base64url").toString()), aud: "x" });
    await assert.rejects(verifyWebhookJwt(`${header}.${forged}.${signature}`, BODY, jwtOptions()), code("BAD_SIGNATURE"));
  });

  it("verifyWebhookJwt() refuses a token signed by another key with the same kid (BAD_SIGNATURE)", async () => {
    const impostor: SigningKey = { ...key, privateKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey };
    await assert.rejects(verifyWebhookJwt(token({}, impostor), BODY, jwtOptions()), code("BAD_SIGNATURE"));
  });

  it("verifyWebhookJwt() refuses a kid the resolver does not know (UNKNOWN_KEY)", async () => {
    const other = (await rotateSigningKey(join(dataDir, "other"))).current;
    await assert.rejects(verifyWebhookJwt(token({}, other), BODY, jwtOptions()), code("UNKNOWN_KEY"));
    const failing = { getKey: () => Promise.reject(new Error("resolver broke")) };
    await assert.rejects(verifyWebhookJwt(token(), BODY, jwtOptions({ jwks: failing })), (error: unknown) => {
      assert.ok(error instanceof WebhookVerificationError && error.code === "UNKNOWN_KEY");
      assert.equal((error.cause as Error).message, "resolver broke");
      return true;
    });
  });

  it("verifyWebhookJwt() refuses a token for another audience (WRONG_AUDIENCE)", async () => {
    await assert.rejects(verifyWebhookJwt(token({ aud: "https://evil.example" }), BODY, jwtOptions()), code("WRONG_AUDIENCE"));
    await assert.rejects(verifyWebhookJwt(token({ aud: undefined }), BODY, jwtOptions()), code("WRONG_AUDIENCE"));
    const many = token({ aud: ["https://other.example", AUDIENCE] });
    assert.ok(await verifyWebhookJwt(many, BODY, jwtOptions({ audience: ["https://x.example", AUDIENCE] })));
  });

  it("verifyWebhookJwt() refuses an expired token (EXPIRED)", async () => {
    const later = NOW_MS + (300 + 61) * 1000;
    await assert.rejects(verifyWebhookJwt(token(), BODY, jwtOptions({ now: () => later })), code("EXPIRED"));
    assert.ok(await verifyWebhookJwt(token(), BODY, jwtOptions({ now: () => later - 2000 })));
  });

  it("verifyWebhookJwt() refuses a token issued two minutes in the future (STALE_TIMESTAMP)", async () => {
    const future = token({ iat: NOW_S + 120, exp: NOW_S + 420 });
    await assert.rejects(verifyWebhookJwt(future, BODY, jwtOptions()), code("STALE_TIMESTAMP"));
  });

  it("verifyWebhookJwt() refuses a token from another issuer (WRONG_ISSUER)", async () => {
    await assert.rejects(verifyWebhookJwt(token({ iss: "https://evil.example" }), BODY, jwtOptions()), code("WRONG_ISSUER"));
  });

  it("verifyWebhookJwt() refuses a tampered body (BODY_HASH_MISMATCH)", async () => {
    const tampered = BODY.replace("task-1", "task-2");
    await assert.rejects(verifyWebhookJwt(token(), tampered, jwtOptions()), code("BODY_HASH_MISMATCH"));
    await assert.rejects(verifyWebhookJwt(token({ body_sha256: undefined }), BODY, jwtOptions()), code("BODY_HASH_MISMATCH"));
  });

  it("verifyWebhookJwt() refuses a token made for another webhook-id (ID_MISMATCH)", async () => {
    await assert.rejects(verifyWebhookJwt(token(), BODY, jwtOptions({ webhookId: "msg_2" })), code("ID_MISMATCH"));
  });
});

describe("checkNotificationToken()", () => {
  it("checkNotificationToken() accepts the right token and authorization, scheme in any case", () => {
    const headers = { "x-a2a-notification-token": "tok", authorization: "bearer abc" };
    checkNotificationToken(headers, { token: "tok", authorization: "Bearer abc" });
  });

  it("checkNotificationToken() refuses a wrong or missing token (BAD_TOKEN)", () => {
    assert.throws(() => checkNotificationToken({ "x-a2a-notification-token": "tok2" }, { token: "tok" }), code("BAD_TOKEN"));
    assert.throws(() => checkNotificationToken({}, { token: "tok" }), code("BAD_TOKEN"));
    assert.throws(() => checkNotificationToken({ authorization: "Bearer abd" }, { authorization: "Bearer abc" }), code("BAD_TOKEN"));
    assert.throws(() => checkNotificationToken({ "x-a2a-notification-token": "tok" }, {}), RangeError);
  });
});

describe("verifyWebhook()", () => {
  it("verifyWebhook() refuses when nothing is configured (NO_VERIFIER)", async () => {
    await assert.rejects(verifyWebhook({ headers: signed(), body: BODY }, {}), code("NO_VERIFIER"));
    await assert.rejects(verifyWebhook({ headers: signed(), body: BODY }, { secrets: [] }), code("NO_VERIFIER"));
  });

  it("verifyWebhook() runs every configured check and lists them", async () => {
    const headers = { ...signed(), "x-a2a-notification-token": "tok", authorization: `Bearer ${token()}` };
    const result = await verifyWebhook(
      { headers, body: BODY },
      { secrets: [SECRET], jwks, audience: AUDIENCE, issuer: ISSUER, token: "tok", now: () => NOW_MS },
    );
    assert.deepEqual(result, { webhookId: "msg_1", derivedId: false, timestamp: NOW_S, verifiedBy: ["standard-webhooks", "token", "jwt"] });
  });

  it("verifyWebhook() applies the timestamp window when only a token is configured", async () => {
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(NOW_S - 6 * 60), "x-a2a-notification-token": "tok" };
    await assert.rejects(verifyWebhook({ headers, body: BODY }, { token: "tok", now: () => NOW_MS }), code("STALE_TIMESTAMP"));
    const { "webhook-id": _, ...noId } = headers;
    await assert.rejects(verifyWebhook({ headers: noId, body: BODY }, { token: "tok", now: () => NOW_MS }), code("MISSING_HEADERS"));
  });

  it("verifyWebhook() accepts a token-only sender without webhook-id, deriving the id from the body", async () => {
    const headers = { "x-a2a-notification-token": "tok" };
    const first = await verifyWebhook({ headers, body: BODY }, { token: "tok", now: () => NOW_MS });
    assert.equal(first.derivedId, true);
    assert.equal(first.timestamp, undefined);
    assert.deepEqual(first.verifiedBy, ["token"]);
    const again = await verifyWebhook({ headers, body: Buffer.from(BODY) }, { token: "tok", now: () => NOW_MS });
    assert.equal(again.webhookId, first.webhookId, "the same bytes give the same id");
    const other = await verifyWebhook({ headers, body: `${BODY} ` }, { token: "tok", now: () => NOW_MS });
    assert.notEqual(other.webhookId, first.webhookId);
    const authorized = await verifyWebhook({ headers: { authorization: "Bearer abc" }, body: BODY }, { authorization: "Bearer abc" });
    assert.equal(authorized.webhookId, first.webhookId);
    await assert.rejects(verifyWebhook({ headers: {}, body: BODY }, { authorization: "Bearer abc" }), code("BAD_TOKEN"));
  });

  it("verifyWebhook() still requires webhook-id and webhook-timestamp with secrets or a JWKS", async () => {
    const headers = { "x-a2a-notification-token": "tok", authorization: `Bearer ${token()}` };
    await assert.rejects(verifyWebhook({ headers, body: BODY }, { secrets: [SECRET], token: "tok", now: () => NOW_MS }), code("MISSING_HEADERS"));
    await assert.rejects(verifyWebhook({ headers, body: BODY }, { jwks, audience: AUDIENCE, now: () => NOW_MS }), code("MISSING_HEADERS"));
  });

  it("verifyWebhook() binds the JWT to webhook-id and needs the Authorization header", async () => {
    const options = { jwks, audience: AUDIENCE, now: () => NOW_MS };
    const other = { ...signed({ id: "msg_2" }), authorization: `Bearer ${token()}` };
    await assert.rejects(verifyWebhook({ headers: other, body: BODY }, options), code("ID_MISMATCH"));
    await assert.rejects(verifyWebhook({ headers: signed(), body: BODY }, options), code("MISSING_HEADERS"));
    const basic = { ...signed(), authorization: "Basic abc" };
    await assert.rejects(verifyWebhook({ headers: basic, body: BODY }, options), code("MALFORMED"));
  });

  it("verifyWebhook() refuses jwks with authorization, or without audience, as a setup mistake", async () => {
    const request = { headers: signed(), body: BODY };
    await assert.rejects(verifyWebhook(request, { jwks, audience: AUDIENCE, authorization: "Bearer x" }), RangeError);
    await assert.rejects(verifyWebhook(request, { jwks }), RangeError);
  });
});
