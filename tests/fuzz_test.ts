/**
 * Seeded fuzzing, no dependency: random and mutated JSON-RPC params against the request parsers,
 * random and mutated webhooks against the verifier, random and damaged bytes against the journal
 * decoder (all in process, thousands each), then a few hundred real HTTP requests against an agent.
 * Every run tries the fixed default seed and a fresh random one; a failure names its seed, and
 * `FUZZ_SEED=<seed> node --import tsx --test tests/fuzz_test.ts` replays it.
 */

import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { test } from "node:test";
import { Agent } from "../lib/agent.ts";
import { A2AError, ERROR_CODES, WebhookVerificationError } from "../lib/errors.ts";
import { decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import { parseConfigListParams, parseConfigRef, parsePushConfig } from "../lib/push_config.ts";
import { decodeSecret, signJwt, signStandardWebhook, webhookJwtClaims } from "../lib/signing.ts";
import { loadSigningKeys } from "../lib/signing_keys.ts";
import type { SigningKey } from "../lib/signing.ts";
import { parseListTasksParams, parseSendMessageParams, parseTaskIdParams } from "../lib/validate.ts";
import { verifyWebhook } from "../lib/verify.ts";
import type { WebhookHeaders } from "../lib/verify.ts";
import { createPrng, fuzzSeeds, randomJson, randomString } from "./prng.ts";
import type { Prng } from "./prng.ts";
import { startAgent, tempDir, userMessage } from "./helpers.ts";

const SEEDS = fuzzSeeds();
const PARSER_RUNS = 3000;
const VERIFIER_RUNS = 2500;
const JOURNAL_RUNS = 2000;
const HTTP_RUNS = 250;
const REST_RUNS = 100;

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AUDIENCE = "https://receiver.example/hook";
const NOW_MS = 1_700_000_000_000;
const VERIFICATION_CODES = new Set([
  "MISSING_HEADERS", "MALFORMED", "STALE_TIMESTAMP", "BAD_SIGNATURE", "UNKNOWN_KEY", "WRONG_AUDIENCE",
  "WRONG_ISSUER", "EXPIRED", "BODY_HASH_MISMATCH", "ID_MISMATCH", "BAD_TOKEN", "NO_VERIFIER",
]);
const RPC_CODES = new Set<number>(Object.values(ERROR_CODES).filter((code) => code !== ERROR_CODES.INTERNAL_ERROR));

/** Each seed runs as a subtest named after it, so any failure, even a crash, shows how to replay it. */
function seedName(seed: number): string {
  return `seed ${seed} (replay with FUZZ_SEED=${seed})`;
}

/** Fails with the seed, the run number and the input, so the case can be replayed. */
function fail(seed: number, run: number, problem: string, input: unknown): never {
  let shown: string;
  try {
    shown = typeof input === "string" ? input : JSON.stringify(input, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v));
  } catch (error) {
    shown = `(cannot print: ${(error as Error).message})`;
  }
  assert.fail(`${problem}\n  seed ${seed} (replay with FUZZ_SEED=${seed}), run ${run}\n  input: ${shown?.slice(0, 600)}`);
}

// ---------------------------------------------------------------------------------------------
// Random JSON-RPC params: valid templates, then a few random mutations anywhere in the tree.

const METHODS = [
  "SendMessage", "SendStreamingMessage", "GetTask", "ListTasks", "CancelTask", "SubscribeToTask", "GetExtendedAgentCard",
  "CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig", "ListTaskPushNotificationConfigs", "DeleteTaskPushNotificationConfig",
];

/** The v0.3 names the agent also answers to, with params of their shape. */
const V03_CALLS: ReadonlyArray<[method: string, params: () => Record<string, unknown>]> = [
  ["message/send", () => ({ message: { kind: "message", messageId: crypto.randomUUID(), role: "user", parts: [{ kind: "text", text: "hi" }, { kind: "data", data: { n: 1 } }] }, configuration: { blocking: false } })],
  ["message/stream", () => ({ message: { kind: "message", messageId: crypto.randomUUID(), role: "user", parts: [{ kind: "text", text: "hi" }] } })],
  ["tasks/get", () => ({ id: "task-1", historyLength: 1 })], ["tasks/list", () => ({})], ["tasks/cancel", () => ({ id: "task-1" })],
  ["tasks/resubscribe", () => ({ id: "task-1" })], ["tasks/pushNotificationConfig/set", () => ({ taskId: "task-1", pushNotificationConfig: { url: "http://127.0.0.1:9/hook" } })],
  ["tasks/pushNotificationConfig/get", () => ({ id: "task-1", pushNotificationConfigId: "cfg" })], ["tasks/pushNotificationConfig/list", () => ({ id: "task-1" })],
  ["tasks/pushNotificationConfig/delete", () => ({ id: "task-1", pushNotificationConfigId: "cfg" })], ["agent/getAuthenticatedExtendedCard", () => ({})],
];

/** Valid params of each method (the index of METHODS), to start mutating from. */
function validParams(rng: Prng, method = rng.int(0, 10)): Record<string, unknown> {
  const message = { ...userMessage({ steps: rng.int(0, 3) }), parts: [{ text: "hi" }, { data: { n: 1 } }, { raw: "aGk=" }, { url: "https://x.example/f" }] };
  const send = rng.pick([
    { message, configuration: { returnImmediately: rng.chance(0.5), historyLength: 2, acceptedOutputModes: ["text/plain"], taskPushNotificationConfig: { url: "http://127.0.0.1:9/hook", token: "t" } }, metadata: { a: 1 } },
    { message: { ...message, contextId: "ctx-1", metadata: { k: [1, 2] }, extensions: ["e"], referenceTaskIds: ["t0"] } },
  ]);
  const config = rng.pick([
    { taskId: "task-1", url: "http://127.0.0.1:9/hook", id: "cfg", token: "tok", authentication: { scheme: "Bearer", credentials: "c" } },
    { taskId: "task-1", pushNotificationConfig: { url: "http://hooks.example/h", id: "cfg", authentication: { schemes: ["Basic"] } } },
  ]);
  const list = { contextId: "ctx-1", status: "TASK_STATE_COMPLETED", pageSize: 10, historyLength: 1, statusTimestampAfter: "2024-01-01T00:00:00Z", includeArtifacts: true };
  if (rng.chance(0.2)) Object.assign(list, { pageToken: Buffer.from('["2024-01-01T00:00:00Z","t"]').toString("base64url") });
  const byMethod = [send, send, { id: "task-1", historyLength: 3 }, list, { id: "task-1" }, { id: "task-1" }, {}, config, { taskId: "task-1", id: "cfg" }, { taskId: "task-1", pageSize: 5 }, { taskId: "task-1", id: "cfg" }];
  return structuredClone(byMethod[method]!) as Record<string, unknown>;
}

/** Changes the value at a random place in `root`: replace, delete, add, retype, nest deep. */
function mutate(rng: Prng, root: unknown): unknown {
  if (typeof root !== "object" || root === null || rng.chance(0.1)) return randomJson(rng);
  const containers: Array<Record<string, unknown> | unknown[]> = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== "object" || value === null) continue;
    containers.push(value as Record<string, unknown>);
    stack.push(...Object.values(value));
  }
  const target = rng.pick(containers);
  const keys = Object.keys(target);
  const key = keys.length > 0 && rng.chance(0.8) ? rng.pick(keys) : randomString(rng);
  const record = target as Record<string, unknown>;
  switch (rng.int(0, 5)) {
    case 0:
      delete record[key];
      break;
    case 1:
      record[key] = rng.pick([null, 0, "", [], {}, true, -1, 1.5, "x".repeat(rng.int(250, 9000))]);
      break;
    case 2: {
      // Nesting around the depth limit, and far past it.
      const depth = rng.pick([1, 99, 100, 101, 400]);
      let value: unknown = randomJson(rng, 1);
      for (let i = 0; i < depth; i++) value = rng.chance(0.5) ? [value] : { d: value };
      record[key] = value;
      break;
    }
    case 3:
      record[key] = Array.from({ length: rng.int(0, 1200) }, () => rng.pick([{ text: "" }, "s", 1]));
      break;
    default:
      record[key] = randomJson(rng);
  }
  return root;
}

function randomParams(rng: Prng, method?: number): unknown {
  let params: unknown = rng.chance(0.15) ? randomJson(rng) : validParams(rng, method);
  for (let i = rng.int(0, 3); i > 0; i--) params = mutate(rng, params);
  return params;
}

/** Answers only with documented errors: -32602 naming a field. */
function checkParserError(seed: number, run: number, name: string, input: unknown, error: unknown): void {
  if (!(error instanceof A2AError)) fail(seed, run, `${name} threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, input);
  if (error.code !== ERROR_CODES.INVALID_PARAMS) fail(seed, run, `${name} threw code ${error.code}: ${error.message}`, input);
  if (typeof error.details?.field !== "string") fail(seed, run, `${name} did not name the field: ${error.message}`, input);
}

const resolver = async (host: string) => (host.endsWith(".example") ? [{ address: "10.0.0.1", family: 4 }] : Promise.reject(new Error(`no host ${host}`)));

test("the request parsers take thousands of random params without throwing anything but -32602, and what they accept journals cleanly", async (t) => {
  const parsers: Array<[string, (params: unknown) => unknown]> = [
    ["parseSendMessageParams", parseSendMessageParams],
    ["parseTaskIdParams", parseTaskIdParams],
    ["parseListTasksParams", parseListTasksParams],
    ["parseConfigRef", parseConfigRef],
    ["parseConfigListParams", parseConfigListParams],
    ["parsePushConfig", (params) => parsePushConfig(params, { resolver })],
    ["parsePushConfig (inline, private allowed)", (params) => parsePushConfig(params, { taskId: "t1", path: "configuration.taskPushNotificationConfig", ssrf: { allowPrivate: true }, resolver })],
  ];
  for (const seed of SEEDS) await t.test(seedName(seed), async () => {
    const rng = createPrng(seed);
    let accepted = 0;
    for (let run = 0; run < PARSER_RUNS; run++) {
      const params = randomParams(rng);
      for (const [name, parse] of parsers) {
        let result: unknown;
        try {
          result = await parse(params);
        } catch (error) {
          checkParserError(seed, run, name, params, error);
          continue;
        }
        accepted++;
        // What a parser accepts goes into the journal as is: it must encode and read back the same.
        // The one exception, an inline push config, is journaled only as parsePushConfig rebuilds it.
        const sent = result as { configuration?: { taskPushNotificationConfig?: unknown } };
        const inline = sent.configuration?.taskPushNotificationConfig;
        if (inline !== undefined) {
          delete sent.configuration!.taskPushNotificationConfig;
          try {
            sent.configuration!.taskPushNotificationConfig = await parsePushConfig(inline, { taskId: "t1", ssrf: { allowPrivate: true }, resolver });
          } catch (error) {
            checkParserError(seed, run, `${name} then parsePushConfig`, params, error);
          }
        }
        let decoded: unknown[];
        try {
          decoded = decodeJournal(encodeRecord({ type: "fuzz", result })).records;
        } catch (error) {
          fail(seed, run, `${name} accepted a value the journal cannot encode: ${(error as Error).message}`, params);
        }
        if (decoded.length !== 1) fail(seed, run, `${name} accepted a value the journal does not read back`, params);
        assert.deepEqual(decoded[0], JSON.parse(JSON.stringify({ type: "fuzz", result })), `seed ${seed} run ${run}`);
      }
    }
    assert.ok(accepted > PARSER_RUNS / 2, `seed ${seed}: the generator should also make valid params, got ${accepted} acceptances`);
  });
});

// ---------------------------------------------------------------------------------------------
// Webhooks: genuine ones, mutated ones, random ones.

interface Webhook {
  headers: WebhookHeaders;
  body: Uint8Array;
}

function genuineWebhook(rng: Prng, key: SigningKey): Webhook & { id: string; timestamp: string } {
  const id = `msg_${Buffer.from(rng.bytes(12)).toString("base64url")}`;
  const timestamp = String(Math.floor(NOW_MS / 1000) - rng.int(-200, 200));
  const body = rng.chance(0.7) ? new TextEncoder().encode(JSON.stringify(randomJson(rng))) : rng.bytes(rng.int(0, 300));
  const claims = webhookJwtClaims({ issuer: "https://agent.example", audience: AUDIENCE, webhookId: id, taskId: "t1", body, now: NOW_MS });
  const headers: WebhookHeaders = {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signStandardWebhook(id, Number(timestamp), body, [decodeSecret(SECRET)]),
    authorization: `Bearer ${signJwt(claims, key)}`,
    "x-a2a-notification-token": "s3cret-token",
  };
  return { headers, body, id, timestamp };
}

function flipChar(rng: Prng, text: string): string {
  if (text.length === 0) return randomString(rng);
  const at = rng.int(0, text.length - 1);
  const replacement = rng.chance(0.5) ? String.fromCharCode(text.charCodeAt(at) ^ (1 << rng.int(0, 6))) : randomString(rng);
  return text.slice(0, at) + replacement + text.slice(at + 1);
}

function mutateWebhook(rng: Prng, webhook: Webhook): Webhook {
  const headers = { ...webhook.headers };
  let body = webhook.body;
  const names = ["webhook-id", "webhook-timestamp", "webhook-signature", "authorization", "x-a2a-notification-token"];
  for (let i = rng.int(1, 3); i > 0; i--) {
    const name = rng.pick(names);
    const value = String(headers[name] ?? "");
    switch (rng.int(0, 9)) {
      case 0: {
        const copy = Uint8Array.from(body.length > 0 ? body : [0]);
        copy[rng.int(0, copy.length - 1)]! ^= 1 << rng.int(0, 7);
        body = copy;
        break;
      }
      case 1:
        body = rng.chance(0.5) ? body.subarray(0, rng.int(0, Math.max(0, body.length - 1))) : new Uint8Array([...body, ...rng.bytes(rng.int(1, 4))]);
        break;
      case 2:
        delete headers[name];
        break;
      case 3:
        headers[name] = flipChar(rng, value);
        break;
      case 4:
        headers[name] = randomString(rng);
        break;
      case 5: {
        // Swap JWT segments, or graft another token's payload onto this signature.
        const parts = value.replace(/^Bearer /, "").split(".");
        const j = rng.int(0, 2);
        parts[j] = rng.chance(0.5) ? Buffer.from(JSON.stringify(randomJson(rng))).toString("base64url") : parts[(j + 1) % 3]!;
        headers.authorization = `Bearer ${parts.join(".")}`;
        break;
      }
      case 6:
        headers["webhook-timestamp"] = rng.pick([String(Number(headers["webhook-timestamp"]) + rng.int(-400, 400)), `0${headers["webhook-timestamp"]}`, " 1", "1e9", "-0", ""]);
        break;
      case 7:
        headers[name] = [value, randomString(rng)];
        break;
      case 8:
        headers["webhook-signature"] = `${rng.pick(["v1,", "v1a,", "v2,", ""])}${Buffer.from(rng.bytes(32)).toString("base64")} ${rng.chance(0.5) ? value : ""}`;
        break;
      default:
        headers["webhook-id"] = rng.pick([`${value}.x`, value.toUpperCase(), `${value} `, "msg_other"]);
    }
  }
  return { headers, body };
}

function randomWebhook(rng: Prng): Webhook {
  const headers: WebhookHeaders = {};
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature", "authorization", "x-a2a-notification-token", randomString(rng).toLowerCase()]) {
    if (rng.chance(0.7)) headers[name] = rng.chance(0.9) ? randomString(rng) : [randomString(rng), randomString(rng)];
  }
  if (rng.chance(0.5)) headers["webhook-timestamp"] = String(Math.floor(NOW_MS / 1000) - rng.int(-100, 100));
  if (rng.chance(0.3)) headers.authorization = `Bearer ${[0, 1, 2].map(() => Buffer.from(rng.bytes(rng.int(0, 70))).toString("base64url")).join(".")}`;
  return { headers, body: rng.bytes(rng.int(0, 200)) };
}

test("verifyWebhook() never accepts a forged or mutated webhook and throws only WebhookVerificationError, over thousands of inputs", async (t) => {
  const keys = await loadSigningKeys(tempDir());
  const key = keys.current;
  const publicKey = createPublicKey({ key: key.publicJwk, format: "jwk" });
  const jwks = {
    async getKey(kid: string): Promise<KeyObject> {
      if (kid !== key.kid) throw new WebhookVerificationError("UNKNOWN_KEY", `no key ${kid.slice(0, 40)}`);
      return publicKey;
    },
  };
  const now = () => NOW_MS;
  const verifiers: Array<[name: string, options: Parameters<typeof verifyWebhook>[1], binds: { timestamp: boolean }]> = [
    ["HMAC and JWT", { secrets: [SECRET], jwks, audience: AUDIENCE, issuer: "https://agent.example", now }, { timestamp: true }],
    ["JWT only", { jwks, audience: [AUDIENCE, "https://other.example/"], now }, { timestamp: false }],
    ["HMAC only", { secrets: [SECRET, decodeSecret("whsec_" + Buffer.alloc(24, 9).toString("base64"))], now }, { timestamp: true }],
    ["token only", { token: "s3cret-token", now }, { timestamp: false }],
  ];
  for (const seed of SEEDS) await t.test(seedName(seed), async () => {
    const rng = createPrng(seed);
    let refused = 0;
    for (let run = 0; run < VERIFIER_RUNS; run++) {
      const genuine = genuineWebhook(rng, key);
      const kind = rng.int(0, 9);
      const candidate = kind === 0 ? genuine : kind === 1 ? randomWebhook(rng) : mutateWebhook(rng, genuine);
      for (const [name, options, binds] of verifiers) {
        if (name === "token only" && kind !== 1) continue; // A token is a bearer secret: it binds nothing, by design.
        let result: Awaited<ReturnType<typeof verifyWebhook>>;
        try {
          result = await verifyWebhook(candidate, options);
        } catch (error) {
          if (!(error instanceof WebhookVerificationError)) fail(seed, run, `${name}: threw ${(error as Error)?.name}: ${(error as Error)?.message}`, candidate);
          if (!VERIFICATION_CODES.has(error.code)) fail(seed, run, `${name}: undocumented code ${error.code}`, candidate);
          if (kind === 0) fail(seed, run, `${name}: refused a genuine webhook (${error.code}: ${error.message})`, candidate);
          refused++;
          continue;
        }
        if (kind === 1) fail(seed, run, `${name}: accepted random headers`, candidate);
        const sameBody = Buffer.compare(Buffer.from(candidate.body), Buffer.from(genuine.body)) === 0;
        // Compared as the verifier reads it: repeated headers joined by a space, then trimmed.
        const timestampHeader = candidate.headers["webhook-timestamp"];
        const timestampText = (Array.isArray(timestampHeader) ? timestampHeader.join(" ") : String(timestampHeader)).trim();
        const sameTimestamp = timestampText === genuine.timestamp;
        if (!sameBody || result.webhookId !== genuine.id || (binds.timestamp && !sameTimestamp)) {
          fail(seed, run, `${name}: accepted a forgery (id ${result.webhookId}, same body ${sameBody}, same timestamp ${sameTimestamp})`, candidate);
        }
      }
    }
    assert.ok(refused > VERIFIER_RUNS, `seed ${seed}: most mutations should be refused, got ${refused}`);
  });
});

// ---------------------------------------------------------------------------------------------
// The journal decoder: random bytes, and good journals damaged at random.

test("decodeJournal() never throws on random or damaged bytes and only ever returns a prefix of what was written", async (t) => {
  for (const seed of SEEDS) await t.test(seedName(seed), () => {
    const rng = createPrng(seed);
    for (let run = 0; run < JOURNAL_RUNS; run++) {
      let bytes: Uint8Array;
      let written: unknown[] | undefined;
      if (rng.chance(0.3)) {
        bytes = rng.bytes(rng.int(0, 400));
        if (rng.chance(0.5)) bytes = new Uint8Array([...bytes].map((b) => (rng.chance(0.05) ? 0x0a : b)));
      } else {
        written = Array.from({ length: rng.int(1, 6) }, () => ({ type: "status", value: randomJson(rng, 2) }));
        const good = Buffer.concat(written.map((record) => encodeRecord(record)));
        bytes = Uint8Array.from(good);
        switch (rng.int(0, 3)) {
          case 0:
            bytes[rng.int(0, bytes.length - 1)]! ^= 1 << rng.int(0, 7);
            break;
          case 1:
            bytes = bytes.subarray(0, rng.int(0, bytes.length));
            break;
          case 2: {
            const at = rng.int(0, bytes.length);
            bytes = new Uint8Array([...bytes.subarray(0, at), ...rng.bytes(rng.int(1, 20)), ...bytes.subarray(at)]);
            break;
          }
          default:
            bytes[rng.int(0, bytes.length - 1)] = rng.pick([0x0a, 0x20, 0x7b, 0x22, 0xff]);
        }
      }
      let decoded: ReturnType<typeof decodeJournal>;
      try {
        decoded = decodeJournal(bytes);
      } catch (error) {
        fail(seed, run, `decodeJournal() threw ${(error as Error).message}`, bytes);
      }
      if (decoded.goodBytes < 0 || decoded.goodBytes > bytes.length) fail(seed, run, `goodBytes ${decoded.goodBytes} out of range`, bytes);
      if ((decoded.badLine === undefined) !== (decoded.goodBytes === bytes.length)) fail(seed, run, "badLine and goodBytes disagree", bytes);
      const again = decodeJournal(bytes.subarray(0, decoded.goodBytes));
      if (again.badLine !== undefined || again.records.length !== decoded.records.length) fail(seed, run, "the good prefix does not decode cleanly", bytes);
      if (written) {
        const expected = JSON.parse(JSON.stringify(written.slice(0, decoded.records.length)));
        try {
          assert.deepEqual(decoded.records, expected);
        } catch {
          fail(seed, run, "decoded records are not a prefix of the written ones", bytes);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real HTTP: a few hundred random requests against a running agent.


function randomRequestBody(rng: Prng, knownTasks: string[]): string | Uint8Array {
  switch (rng.int(0, 9)) {
    case 0:
      return rng.bytes(rng.int(0, 300));
    case 1:
      return JSON.stringify(randomJson(rng));
    default: {
      const method = rng.int(0, METHODS.length - 1);
      const v03 = rng.chance(0.2) ? rng.pick(V03_CALLS) : undefined;
      let params: unknown = v03 ? v03[1]() : randomParams(rng, rng.chance(0.8) ? method : undefined);
      for (let i = v03 ? rng.int(0, 2) : 0; i > 0; i--) params = mutate(rng, params);
      if (knownTasks.length > 0 && typeof params === "object" && params !== null && !Array.isArray(params) && rng.chance(0.5)) {
        const record = params as Record<string, unknown>;
        if ("id" in record) record.id = rng.pick(knownTasks);
        if ("taskId" in record) record.taskId = rng.pick(knownTasks);
      }
      if (rng.chance(0.05)) params = undefined;
      const request: Record<string, unknown> = { jsonrpc: "2.0", id: rng.pick<unknown>([rng.int(0, 1e6), `r-${rng.int(0, 1e6)}`, null, undefined]), method: rng.chance(0.95) ? (v03?.[0] ?? METHODS[method]) : randomString(rng), params };
      if (rng.chance(0.1)) mutate(rng, request);
      const text = JSON.stringify(request);
      return rng.chance(0.1) ? text.slice(0, rng.int(0, text.length)) : text;
    }
  }
}

/** A request for the HTTP+JSON binding: a route (or a near miss), a verb, ids in the path, a body. */
function randomRestRequest(rng: Prng, knownTasks: string[]): { method: string; path: string; body?: string | Uint8Array } {
  // Every byte percent-encoded: encodeURIComponent throws on the lone surrogates randomString makes.
  const encode = (text: string) => [...Buffer.from(text)].map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join("") || "x";
  const id = () => encode(knownTasks.length > 0 && rng.chance(0.7) ? rng.pick(knownTasks) : randomString(rng));
  const segment = () => rng.pick([id(), "%", "%ZZ", "%E0%A4%A", "..", "a%2Fb", "cfg"]);
  const path = rng.pick([
    "/message:send", "/message:stream", `/tasks/${segment()}`, `/tasks/${segment()}:cancel`, `/tasks/${segment()}:subscribe`,
    `/tasks/${segment()}/pushNotificationConfigs`, `/tasks/${segment()}/pushNotificationConfigs/${segment()}`, "/extendedAgentCard",
    `/tasks?pageSize=${rng.int(-2, 120)}&status=${rng.pick(["working", "TASK_STATE_COMPLETED", "x", ""])}&historyLength=${rng.pick(["1", "-1", "a"])}&includeArtifacts=${rng.pick(["true", "no"])}`,
    `/tasks?${encode(randomString(rng))}=${encode(randomString(rng))}&__proto__=x&constructor=y`,
  ]);
  const method = rng.chance(0.8) ? (path.startsWith("/message") || path.endsWith(":cancel") || (path.endsWith("Configs") && rng.chance(0.5)) ? "POST" : rng.chance(0.9) ? "GET" : "DELETE") : rng.pick(["PUT", "PATCH", "DELETE", "POST", "GET"]);
  if (method !== "POST") return { method, path };
  const template = path.startsWith("/message") ? validParams(rng, 0) : { url: "http://127.0.0.1:9/hook", id: "cfg", token: "t" };
  let body: unknown = template;
  for (let i = rng.int(0, 2); i > 0; i--) body = mutate(rng, body);
  return { method, path, body: rng.chance(0.1) ? rng.bytes(rng.int(0, 50)) : JSON.stringify(body) };
}

/** The id a server must echo: the request's, when it parsed as a request with a string or number id. */
function expectedId(body: string | Uint8Array): unknown {
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(typeof body === "string" ? new TextEncoder().encode(body) : body));
    return typeof value?.id === "string" || typeof value?.id === "number" ? value.id : null;
  } catch {
    return null;
  }
}

function checkRpcAnswer(seed: number, run: number, input: unknown, answer: any, id: unknown): void {
  if (answer?.jsonrpc !== "2.0") fail(seed, run, `not a JSON-RPC answer: ${JSON.stringify(answer).slice(0, 200)}`, input);
  if (("result" in answer) === ("error" in answer)) fail(seed, run, "an answer needs exactly one of result and error", input);
  if (answer.id !== id && !(answer.error && answer.id === null)) fail(seed, run, `answer id ${JSON.stringify(answer.id)}, expected ${JSON.stringify(id)}`, input);
  if (answer.error && (!RPC_CODES.has(answer.error.code) || typeof answer.error.message !== "string")) {
    fail(seed, run, `error ${JSON.stringify(answer.error).slice(0, 300)} is not a documented client error`, input);
  }
}

test("a running agent answers hundreds of random JSON-RPC and HTTP+JSON requests without a 5xx, then still serves and reloads the same tasks", async (context) => {
  const logged: unknown[] = [];
  // Push on, with every name resolving to loopback and the first attempt an hour away: configs are
  // accepted, and nothing is sent anywhere during the run.
  const push = { ssrf: { allowPrivate: true }, resolver: async () => [{ address: "127.0.0.1", family: 4 }], schedule: [3_600_000] };
  const t = await startAgent({ handler: () => {}, push }, { logError: (error) => logged.push(error) });
  const url = `${t.url}/`;
  const knownTasks: string[] = [];
  try {
    for (const seed of SEEDS) await context.test(seedName(seed), async () => {
      const rng = createPrng(seed);
      for (let start = 0; start < HTTP_RUNS; start += 25) {
        const batch = Array.from({ length: 25 }, () => randomRequestBody(rng, knownTasks));
        await Promise.all(batch.map(async (body, i) => {
          const run = start + i;
          const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: body as BodyInit, signal: AbortSignal.timeout(20_000) });
          if (response.status !== 200) fail(seed, run, `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`, body);
          const id = expectedId(body);
          if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
            const events = (await response.text()).split("\n").filter((line) => line.startsWith("data:"));
            if (events.length === 0) fail(seed, run, "a stream with no events", body);
            for (const line of events) checkRpcAnswer(seed, run, body, JSON.parse(line.slice(5)), id);
            return;
          }
          const answer = await response.json();
          checkRpcAnswer(seed, run, body, answer, id);
          const task = answer.result?.task ?? answer.result;
          if (typeof task?.id === "string" && typeof task?.contextId === "string") knownTasks.push(task.id);
        }));
      }
      // The HTTP+JSON binding: errors are 4xx with a google.rpc.Status body, never a 5xx.
      for (let start = 0; start < REST_RUNS; start += 25) {
        await Promise.all(Array.from({ length: 25 }, () => randomRestRequest(rng, knownTasks)).map(async (request, i) => {
          const run = HTTP_RUNS + start + i;
          const headers: Record<string, string> = request.body === undefined ? {} : { "content-type": "application/a2a+json" };
          const response = await fetch(`${t.url}${request.path}`, { method: request.method, headers, body: request.body as BodyInit | undefined, signal: AbortSignal.timeout(20_000) });
          const text = await response.text();
          if (response.status >= 500) fail(seed, run, `HTTP ${response.status}: ${text.slice(0, 200)}`, request);
          if (response.headers.get("content-type")?.startsWith("text/event-stream")) return;
          if (text === "" && (response.status === 400 || response.status === 431)) return; // Node's parser: a URL past 16 KiB.
          let answer: any;
          try {
            answer = JSON.parse(text);
          } catch {
            fail(seed, run, `HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`, request);
          }
          // A google.rpc.Status from the binding, or the server's plain {error} for paths outside it.
          const reason = typeof answer?.error === "string" ? answer.error : answer?.error?.message;
          if (response.status >= 400 && typeof reason !== "string") fail(seed, run, `HTTP ${response.status} without an error message`, request);
          if (typeof answer?.id === "string" && typeof answer?.contextId === "string") knownTasks.push(answer.id);
        }));
      }
    });
    assert.deepEqual(logged, [], "no request caused an internal error");
    assert.equal((await t.client.listTasks({ pageSize: 1 })).pageSize, 1, "the agent still serves");
  } finally {
    await t.close();
  }
  const before = new Map([...t.agent.store.all()].map(({ task }) => [task.id, task.status.state]));
  const reopened = await Agent.open({ dataDir: t.dataDir, handler: () => {}, warn: () => {}, push });
  try {
    const after = new Map([...reopened.store.all()].map(({ task }) => [task.id, task.status.state]));
    assert.deepEqual(after, before, "the journal reloads the same tasks");
  } finally {
    await reopened.close();
  }
});
