/**
 * The request parsers of validate.ts, pure: field() and its snake_case spellings, what
 * parseMessage() and parsePart() keep, the field each refusal names, and the nesting limit. Every
 * method's refusals over the wire are in `hostile_test.ts`; random params in `fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AError } from "../lib/errors.ts";
import {
  MAX_ID_LENGTH,
  MAX_JSON_DEPTH,
  field,
  integer,
  object,
  parseListTasksParams,
  parseMessage,
  parsePart,
  parseSendMessageParams,
  parseTaskIdParams,
  string,
} from "../lib/validate.ts";

/** Asserts that `run` throws -32602 naming `expected` (the dotted path), and returns its message. */
function refusal(run: () => unknown, expected: string): string {
  let message = "";
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof A2AError, String(error));
    assert.equal(error.code, -32602);
    assert.equal(error.details?.field, expected, error.message);
    assert.match(error.message, new RegExp(`^Invalid params: ${expected.replace(/[.[\]]/g, "\\$&")} `));
    message = error.message;
    return true;
  });
  return message;
}

/** `depth` objects, each inside the one before. */
function nested(depth: number): unknown {
  let value: unknown = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

const MESSAGE = { messageId: "m1", role: "ROLE_USER", parts: [{ text: "hi" }] };

test("field() takes the camelCase name, else its snake_case spelling; camelCase wins when both are there", () => {
  assert.equal(field({ messageId: "a" }, "messageId"), "a");
  assert.equal(field({ message_id: "b" }, "messageId"), "b");
  assert.equal(field({ messageId: "a", message_id: "b" }, "messageId"), "a");
  assert.equal(field({ reference_task_ids: ["t"] }, "referenceTaskIds")?.toString(), "t");
  assert.equal(field({ messageid: "c", MessageId: "d" }, "messageId"), undefined, "no other spellings");
  assert.equal(field({}, "text"), undefined);
});

test("parseMessage() keeps the known fields in their camelCase names and drops the rest", () => {
  const parsed = parseMessage({
    message_id: "m1", role: "ROLE_AGENT", parts: [{ text: "hi", media_type: "text/plain", extra: 1 }, { data: { any: [1, "two"] } }],
    context_id: "c1", task_id: "t1", metadata: { k: "v" }, extensions: ["e"], reference_task_ids: ["t0"], unknown: "dropped",
  });
  assert.deepEqual(parsed, {
    messageId: "m1", role: "ROLE_AGENT", parts: [{ text: "hi", mediaType: "text/plain" }, { data: { any: [1, "two"] } }],
    contextId: "c1", taskId: "t1", metadata: { k: "v" }, extensions: ["e"], referenceTaskIds: ["t0"],
  });
  assert.deepEqual(parseMessage({ ...MESSAGE, contextId: "", taskId: null }), MESSAGE, "empty and null ids are left out");
});

test("parseMessage() refusals name the field, under the path it is given", () => {
  refusal(() => parseMessage("hi"), "message");
  refusal(() => parseMessage({ ...MESSAGE, messageId: undefined }), "message.messageId");
  refusal(() => parseMessage({ ...MESSAGE, messageId: "" }), "message.messageId");
  refusal(() => parseMessage({ ...MESSAGE, messageId: "m".repeat(MAX_ID_LENGTH + 1) }), "message.messageId");
  assert.match(refusal(() => parseMessage({ ...MESSAGE, role: "user" }), "message.role"), /must be "ROLE_USER" or "ROLE_AGENT"/);
  refusal(() => parseMessage({ ...MESSAGE, parts: [] }), "message.parts");
  assert.match(refusal(() => parseMessage({ ...MESSAGE, parts: Array.from({ length: 1001 }, () => ({ text: "" })) }), "message.parts"), /at most 1000 parts/);
  refusal(() => parseMessage({ ...MESSAGE, parts: [{ text: "ok" }, { text: 5 }] }), "message.parts[1].text");
  refusal(() => parseMessage({ ...MESSAGE, extensions: [1] }), "message.extensions");
  refusal(() => parseMessage({ ...MESSAGE, metadata: [] }), "message.metadata");
  refusal(() => parseMessage({ ...MESSAGE, context_id: 5 }), "message.contextId");
  refusal(() => parseMessage({ ...MESSAGE, role: 1 }, "params.message"), "params.message.role");
});

test("parsePart() takes exactly one of text, raw, url and data, and keeps filename, mediaType and metadata", () => {
  assert.deepEqual(parsePart({ raw: "aGk=", filename: "hi.txt", mediaType: "text/plain", metadata: { k: 1 } }, "p"), { raw: "aGk=", filename: "hi.txt", mediaType: "text/plain", metadata: { k: 1 } });
  assert.deepEqual(parsePart({ url: "https://x/y.png" }, "p"), { url: "https://x/y.png" });
  assert.deepEqual(parsePart({ data: null }, "p"), { data: null }, "null is data too");
  assert.deepEqual(parsePart({ raw: "-_w=" }, "p"), { raw: "-_w=" }, "base64url is base64 too");
  assert.match(refusal(() => parsePart({}, "p"), "p"), /exactly one of text, raw, url, data/);
  refusal(() => parsePart({ text: "a", url: "https://x" }, "p"), "p");
  refusal(() => parsePart([{ text: "a" }], "p"), "p");
  refusal(() => parsePart({ raw: "not base64!" }, "p"), "p.raw");
  refusal(() => parsePart({ url: "u".repeat(8193) }, "p"), "p.url");
  refusal(() => parsePart({ text: "a", filename: "f".repeat(1025) }, "p"), "p.filename");
  refusal(() => parsePart({ text: "a", media_type: 5 }, "p"), "p.mediaType");
});

test("MAX_JSON_DEPTH: data and metadata nested 100 levels are taken, 101 are refused naming the field, and any depth is checked safely", () => {
  assert.equal(MAX_JSON_DEPTH, 100);
  assert.deepEqual(parsePart({ data: nested(MAX_JSON_DEPTH) }, "p").data, nested(MAX_JSON_DEPTH));
  assert.match(refusal(() => parsePart({ data: nested(MAX_JSON_DEPTH + 1) }, "p"), "p.data"), /must be nested at most 100 levels deep/);
  assert.deepEqual(parseMessage({ ...MESSAGE, metadata: nested(MAX_JSON_DEPTH) }).metadata, nested(MAX_JSON_DEPTH));
  refusal(() => parseMessage({ ...MESSAGE, metadata: nested(MAX_JSON_DEPTH + 1) }), "message.metadata");
  let deep: unknown = [];
  for (let i = 0; i < 200_000; i++) deep = [deep];
  refusal(() => parsePart({ data: deep }, "p"), "p.data");
});

test("string() and integer() refuse a wrong type, a required field missing or empty, and values out of range", () => {
  refusal(() => string({}, "id", "", { required: true }), "id");
  refusal(() => string({ id: "" }, "id", "", { required: true }), "id");
  assert.equal(string({ id: "" }, "id", ""), "", "an optional empty string is a value");
  refusal(() => string({ id: 5 }, "id", "x."), "x.id");
  assert.equal(string({ text: "t".repeat(10_000) }, "text", "", { maxLength: Infinity })?.length, 10_000);
  refusal(() => integer({ n: 1.5 }, "n", ""), "n");
  refusal(() => integer({ n: "1" }, "n", ""), "n");
  assert.match(refusal(() => integer({ n: 0 }, "n", "", { min: 1, max: 100 }), "n"), /between 1 and 100/);
  assert.equal(integer({ n: null }, "n", ""), undefined);
  refusal(() => object(null, "params"), "params");
});

test("parseSendMessageParams() reads the configuration, taking pushNotificationConfig as the older name of taskPushNotificationConfig", () => {
  const push = { url: "https://receiver.example/hook" };
  const parsed = parseSendMessageParams({ message: MESSAGE, configuration: { accepted_output_modes: ["text/plain"], history_length: 2, return_immediately: true, pushNotificationConfig: push }, metadata: { k: "v" } });
  assert.deepEqual(parsed, { message: MESSAGE, configuration: { acceptedOutputModes: ["text/plain"], historyLength: 2, returnImmediately: true, taskPushNotificationConfig: push }, metadata: { k: "v" } });
  refusal(() => parseSendMessageParams({ message: MESSAGE, configuration: { returnImmediately: "yes" } }), "configuration.returnImmediately");
  refusal(() => parseSendMessageParams({}), "message");
});

test("parseTaskIdParams() and parseListTasksParams() read ids, pages and filters, and name what they refuse", () => {
  assert.deepEqual(parseTaskIdParams({ id: "t1", history_length: 3 }), { id: "t1", historyLength: 3 });
  assert.deepEqual(parseTaskIdParams({ id: "t1" }), { id: "t1" });
  refusal(() => parseTaskIdParams({}), "id");
  assert.deepEqual(parseListTasksParams(undefined), {});
  assert.deepEqual(parseListTasksParams({ status: "TASK_STATE_UNSPECIFIED", contextId: "" }), {}, "the unspecified state and an empty context filter nothing");
  assert.deepEqual(parseListTasksParams({ status: "TASK_STATE_WORKING", page_size: 100, include_artifacts: false, status_timestamp_after: "2026-01-01T00:00:00Z" }), {
    status: "TASK_STATE_WORKING", pageSize: 100, includeArtifacts: false, statusTimestampAfter: "2026-01-01T00:00:00Z",
  });
  refusal(() => parseListTasksParams({ status: "working" }), "status");
  refusal(() => parseListTasksParams({ pageSize: 101 }), "pageSize");
  refusal(() => parseListTasksParams({ statusTimestampAfter: "last week" }), "statusTimestampAfter");
});

test("parsePart() refuses a part whose only content is null text, raw or url (it would be an empty part)", () => {
  for (const part of [{ text: null }, { raw: null }, { url: null }]) {
    assert.throws(() => parsePart(part, "message.parts[0]"), (error: { code: number }) => error.code === -32602, JSON.stringify(part));
  }
});
