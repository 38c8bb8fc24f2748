/**
 * The error classes: A2AError as a JSON-RPC error object (the ErrorInfo reason for each code, its
 * metadata, a BadRequest only when fields were wrong), invalidParams(), and the names, codes and
 * causes of the others. Pure.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AError, AuthenticationError, ERROR_CODES, JournalError, SsrfError, WebhookVerificationError, invalidParams } from "../lib/errors.ts";
import type { ErrorCode } from "../lib/errors.ts";

const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

test("A2AError.toJsonRpc() gives each code its ErrorInfo reason, the code's name in ERROR_CODES", () => {
  assert.equal(Object.keys(ERROR_CODES).length, 15);
  for (const [name, code] of Object.entries(ERROR_CODES)) {
    const rpc = new A2AError(code, `about ${name}`).toJsonRpc();
    assert.deepEqual(rpc, { code, message: `about ${name}`, data: [{ "@type": ERROR_INFO, reason: name, domain: "a2a-protocol.org" }] }, name);
  }
  assert.equal((new A2AError(-1 as ErrorCode, "odd").toJsonRpc().data[0] as { reason: string }).reason, "UNKNOWN");
});

test("A2AError.toJsonRpc() puts details in ErrorInfo.metadata, and leaves metadata out without them", () => {
  const error = new A2AError(ERROR_CODES.TASK_NOT_FOUND, "Task t1 was not found", { taskId: "t1" });
  assert.deepEqual(error.toJsonRpc().data, [{ "@type": ERROR_INFO, reason: "TASK_NOT_FOUND", domain: "a2a-protocol.org", metadata: { taskId: "t1" } }]);
  assert.equal("metadata" in (new A2AError(ERROR_CODES.INTERNAL_ERROR, "x").toJsonRpc().data[0] as object), false);
});

test("A2AError.toJsonRpc() adds a BadRequest only when fields were wrong, after the ErrorInfo", () => {
  const violations = [{ field: "message.parts", description: "must be a non-empty array" }, { field: "message.role", description: "is required" }];
  const data = new A2AError(ERROR_CODES.INVALID_PARAMS, "bad", undefined, { fieldViolations: violations }).toJsonRpc().data;
  assert.equal(data.length, 2);
  assert.equal((data[0] as { "@type": string })["@type"], ERROR_INFO);
  assert.deepEqual(data[1], { "@type": BAD_REQUEST, fieldViolations: violations });
  assert.equal(new A2AError(ERROR_CODES.INVALID_PARAMS, "bad", undefined, { fieldViolations: [] }).toJsonRpc().data.length, 1, "an empty list is no BadRequest");
  assert.equal(new A2AError(ERROR_CODES.INVALID_PARAMS, "bad").toJsonRpc().data.length, 1);
});

test("A2AError keeps its cause for logs and never sends it", () => {
  const cause = new Error("disk secret /var/lib/x");
  const error = new A2AError(ERROR_CODES.INTERNAL_ERROR, "Internal error", undefined, { cause });
  assert.equal(error.cause, cause);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "A2AError");
  assert.doesNotMatch(JSON.stringify(error.toJsonRpc()), /disk secret/);
});

test("invalidParams() makes a -32602 naming the field in its message, metadata and field violation", () => {
  const error = invalidParams("message.parts[0]", "must be an object");
  assert.ok(error instanceof A2AError);
  assert.equal(error.code, -32602);
  assert.equal(error.message, "Invalid params: message.parts[0] must be an object");
  assert.deepEqual(error.details, { field: "message.parts[0]" });
  assert.deepEqual(error.fieldViolations, [{ field: "message.parts[0]", description: "must be an object" }]);
  assert.deepEqual(error.toJsonRpc().data[1], { "@type": BAD_REQUEST, fieldViolations: [{ field: "message.parts[0]", description: "must be an object" }] });
});

test("JournalError, SsrfError and WebhookVerificationError carry their name, code and cause", () => {
  const cause = new Error("ENOSPC");
  const cases: Array<[Error & { code: string }, string, string]> = [
    [new JournalError("IO", "Cannot append journal entry: disk is full", { cause }), "JournalError", "IO"],
    [new SsrfError("LOOPBACK", "127.0.0.1 is loopback"), "SsrfError", "LOOPBACK"],
    [new WebhookVerificationError("BAD_SIGNATURE", "No signature matches", { cause }), "WebhookVerificationError", "BAD_SIGNATURE"],
  ];
  for (const [error, name, code] of cases) {
    assert.ok(error instanceof Error, name);
    assert.deepEqual([error.name, error.code], [name, code]);
    assert.match(String(error), new RegExp(`^${name}: `));
  }
  assert.equal(cases[0]![0].cause, cause);
  assert.equal(cases[1]![0].cause, undefined);
});

test("AuthenticationError keeps its code, name and cause", () => {
  const cause = new Error("fetch failed");
  const error = new AuthenticationError("unavailable", "Cannot verify the token: keys unavailable", { cause });
  assert.equal(error.name, "AuthenticationError");
  assert.equal(error.code, "unavailable");
  assert.equal(error.cause, cause);
  assert.ok(error instanceof Error);
  assert.equal(new AuthenticationError("invalid_token", "Token refused: it expired").code, "invalid_token");
});
