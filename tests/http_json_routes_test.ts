/**
 * httpJsonRoutes() alone, served through routeRequest() for a stand-in agent that records its calls:
 * the operation each path and verb reaches, with ids and query parameters as the agent gets them,
 * results as bare JSON or SSE, and every refusal as an AIP-193 body (A2A errors, errors the agent
 * did not expect, 405, 413, 415). The binding against a real agent is in `http_json_test.ts`.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import type { Agent } from "../lib/agent.ts";
import { A2AError, ERROR_CODES } from "../lib/errors.ts";
import { httpJsonRoutes } from "../lib/http_json_routes.ts";
import { routeRequest } from "../lib/http_util.ts";
import { readSseData } from "../lib/sse.ts";

type Json = any;

/** A stand-in agent: each method records its call's params (not the caller after them) and answers `{called, args}`, or what `answers` says. */
function standIn(answers: Record<string, (...args: unknown[]) => unknown> = {}) {
  const calls: Array<[string, unknown[]]> = [];
  const methods = ["sendMessage", "sendStreamingMessage", "getTask", "listTasks", "cancelTask", "subscribeToTask", "createPushConfig", "getPushConfig", "listPushConfigs", "deletePushConfig", "extendedCard"];
  const agent = Object.fromEntries(methods.map((name) => [name, async (...all: unknown[]) => {
    const args = all.slice(0, 1);
    calls.push([name, args]);
    return answers[name] ? answers[name](...args) : { called: name, args };
  }]));
  // callMethod asks a replica to catch up on TaskNotFound; a lone agent has none to catch up with.
  agent.catchUp = async () => false;
  return { agent: agent as unknown as Agent, calls };
}

/** Serves the routes of `agent` on a free port for the duration of `run`; unexpected errors are collected. */
async function serve(agent: Agent, run: (url: string, logged: unknown[]) => Promise<void>, maxBodyBytes?: number): Promise<void> {
  const logged: unknown[] = [];
  const table = httpJsonRoutes(agent, { logError: (error) => logged.push(error), heartbeatMs: 60_000 });
  const server = createServer((req, res) => void routeRequest(table, req, res, { maxBodyBytes }).catch((error: unknown) => logged.push(error)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as { port: number }).port}`, logged);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function http(url: string, init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {}) {
  const response = await fetch(url, { method: init.method ?? "GET", body: init.body as BodyInit | undefined, headers: { ...(init.body === undefined ? {} : { "content-type": "application/a2a+json" }), ...init.headers } });
  const text = await response.text();
  return { status: response.status, type: response.headers.get("content-type"), allow: response.headers.get("allow"), body: text ? JSON.parse(text) as Json : undefined };
}

const MESSAGE = { messageId: "m1", role: "ROLE_USER", parts: [{ text: "hi" }] };

test("httpJsonRoutes() sends each path and verb to its agent method, ids decoded from the path, results as bare a2a+json", async () => {
  const { agent, calls } = standIn();
  await serve(agent, async (url) => {
    const cases: Array<[string, string, unknown, string, unknown[]]> = [
      ["POST", "/message:send", { message: MESSAGE }, "sendMessage", [{ message: MESSAGE }]],
      ["GET", "/tasks/t%201", undefined, "getTask", [{ id: "t 1" }]],
      ["GET", "/tasks/t1?historyLength=2", undefined, "getTask", [{ id: "t1", historyLength: 2 }]],
      ["POST", "/tasks/t%2F1:cancel", undefined, "cancelTask", [{ id: "t/1" }]],
      ["POST", "/tasks/t1/pushNotificationConfigs", { id: "c1", url: "https://r.example/hook", taskId: "ignored" }, "createPushConfig", [{ id: "c1", url: "https://r.example/hook", taskId: "t1" }]],
      ["POST", "/tasks/t1/pushNotificationConfigs", { config: { url: "https://r.example/hook" } }, "createPushConfig", [{ url: "https://r.example/hook", taskId: "t1" }]],
      ["POST", "/tasks/t1/pushNotificationConfigs", [1], "createPushConfig", [[1]]],
      ["GET", "/tasks/t1/pushNotificationConfigs?pageSize=2&pageToken=p", undefined, "listPushConfigs", [{ pageSize: 2, pageToken: "p", taskId: "t1" }]],
      ["GET", "/tasks/t1/pushNotificationConfigs/c%231", undefined, "getPushConfig", [{ taskId: "t1", id: "c#1" }]],
      ["GET", "/extendedAgentCard", undefined, "extendedCard", []],
    ];
    for (const [verb, path, body, method, args] of cases) {
      calls.length = 0;
      const response = await http(`${url}${path}`, { method: verb, body: body === undefined ? undefined : JSON.stringify(body) });
      assert.equal(response.status, 200, `${verb} ${path}: ${JSON.stringify(response.body)}`);
      assert.equal(response.type, "application/a2a+json", path);
      assert.deepEqual(calls, [[method, args]], `${verb} ${path}`);
      assert.deepEqual(response.body, { called: method, args }, path);
    }
    calls.length = 0;
    const deleted = await http(`${url}/tasks/t1/pushNotificationConfigs/c1`, { method: "DELETE" });
    // Both bindings answer what the agent's method answers (the real agent's delete: {}, see http_json_test).
    assert.deepEqual([deleted.status, deleted.body, calls], [200, { called: "deletePushConfig", args: [{ taskId: "t1", id: "c1" }] }, [["deletePushConfig", [{ taskId: "t1", id: "c1" }]]]]);
  });
});

test("httpJsonRoutes() reads query parameters as the validators take them: numbers, booleans and v0.3 state names", async () => {
  const { agent, calls } = standIn();
  await serve(agent, async (url) => {
    await http(`${url}/tasks?status=working&page_size=5&includeArtifacts=false&history_length=0&contextId=c1&pageToken=42`);
    assert.deepEqual(calls, [["listTasks", [{ status: "TASK_STATE_WORKING", pageSize: 5, includeArtifacts: false, historyLength: 0, contextId: "c1", pageToken: "42" }]]]);
    calls.length = 0;
    await http(`${url}/tasks?status=TASK_STATE_COMPLETED&include_artifacts=true`);
    assert.deepEqual(calls, [["listTasks", [{ status: "TASK_STATE_COMPLETED", includeArtifacts: true }]]]);
    const refused = await http(`${url}/tasks?pageSize=lots`);
    assert.deepEqual([refused.status, refused.body.error.details[0].metadata], [400, { field: "pageSize" }], "text where a number goes is the validator's to refuse");
    const alsoRefused = await http(`${url}/tasks?includeArtifacts=yes`);
    assert.deepEqual([alsoRefused.status, alsoRefused.body.error.details[0].metadata], [400, { field: "includeArtifacts" }]);
  });
});

test("httpJsonRoutes() streams a stream result as SSE of bare events, for message:stream and for GET or POST :subscribe", async () => {
  const events = [{ task: { id: "t1" } }, { statusUpdate: { taskId: "t1", status: { state: "TASK_STATE_COMPLETED" } } }];
  const stream = () => Object.assign((async function* () { yield* events; })(), { close() {} });
  const { agent, calls } = standIn({ sendStreamingMessage: stream, subscribeToTask: stream });
  await serve(agent, async (url) => {
    for (const [verb, path, body] of [["POST", "/message:stream", JSON.stringify({ message: MESSAGE })], ["GET", "/tasks/t1:subscribe", undefined], ["POST", "/tasks/t1:subscribe", undefined]] as const) {
      const response = await fetch(`${url}${path}`, { method: verb, body, headers: body ? { "content-type": "application/json" } : {} });
      assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/, path);
      const got: unknown[] = [];
      for await (const data of readSseData(response.body!)) got.push(JSON.parse(data));
      assert.deepEqual(got, events, `${verb} ${path}`);
    }
    assert.deepEqual(calls.map(([name]) => name), ["sendStreamingMessage", "subscribeToTask", "subscribeToTask"]);
  });
});

test("httpJsonRoutes() answers an A2AError with the status of §5.4 and a google.rpc.Status body carrying its ErrorInfo", async () => {
  const { agent } = standIn({
    getTask: () => { throw new A2AError(ERROR_CODES.TASK_NOT_FOUND, "Task t9 was not found", { taskId: "t9" }); },
    cancelTask: () => { throw new A2AError(ERROR_CODES.TASK_NOT_CANCELABLE, "Task t9 has ended"); },
    extendedCard: () => { throw new A2AError(ERROR_CODES.INVALID_AGENT_RESPONSE, "bad card"); },
  });
  await serve(agent, async (url, logged) => {
    const notFound = await http(`${url}/tasks/t9`);
    assert.deepEqual([notFound.status, notFound.body], [404, {
      error: { code: 404, status: "NOT_FOUND", message: "Task t9 was not found", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "TASK_NOT_FOUND", domain: "a2a-protocol.org", metadata: { taskId: "t9" } }] },
    }]);
    const cancel = await http(`${url}/tasks/t9:cancel`, { method: "POST" });
    assert.deepEqual([cancel.status, cancel.body.error.status, cancel.body.error.details[0].reason], [400, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE"]);
    const card = await http(`${url}/extendedAgentCard`);
    assert.deepEqual([card.status, card.body.error.status], [500, "INTERNAL"]);
    const invalid = await http(`${url}/message:send`, { method: "POST", body: JSON.stringify({ message: { ...MESSAGE, parts: [] } }) });
    assert.deepEqual([invalid.status, invalid.body.error.status, invalid.body.error.details.map((d: Json) => d["@type"].split(".").at(-1))], [400, "INVALID_ARGUMENT", ["ErrorInfo", "BadRequest"]]);
    assert.deepEqual(logged, [], "the agent's refusals are not logged");
  });
});

test("httpJsonRoutes() logs an error the agent did not expect and answers 500 INTERNAL without its detail", async () => {
  const failure = new Error("ECONNRESET talking to the model at 10.0.0.7");
  const { agent } = standIn({ getTask: () => { throw failure; } });
  await serve(agent, async (url, logged) => {
    const response = await http(`${url}/tasks/t1`);
    assert.equal(response.status, 500);
    assert.deepEqual(response.body.error, {
      code: 500, status: "INTERNAL", message: "Internal error: the agent could not complete the request",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "INTERNAL_ERROR", domain: "a2a-protocol.org" }],
    });
    assert.doesNotMatch(JSON.stringify(response.body), /10\.0\.0\.7/);
    assert.deepEqual(logged, [failure]);
  });
});

test("httpJsonRoutes() refuses bad JSON, invalid UTF-8, a bad path segment and another A2A-Version before calling the agent", async () => {
  const { agent, calls } = standIn();
  await serve(agent, async (url) => {
    const cases: Array<[string, Parameters<typeof http>[1], number, string, string]> = [
      ["/message:send", { method: "POST", body: "{nope" }, 400, "INVALID_ARGUMENT", "PARSE_ERROR"],
      ["/message:send", { method: "POST", body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]) }, 400, "INVALID_ARGUMENT", "PARSE_ERROR"],
      ["/tasks/%E0%A4%A", {}, 400, "INVALID_ARGUMENT", "INVALID_PARAMS"],
      ["/tasks/t1", { headers: { "A2A-Version": "0.3" } }, 400, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED"],
      ["/tasks/t1", { headers: { "A2A-Version": "2.0" } }, 400, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED"],
    ];
    for (const [path, init, status, rpcStatus, reason] of cases) {
      const response = await http(`${url}${path}`, init);
      assert.deepEqual([response.status, response.body.error.status, response.body.error.details[0].reason], [status, rpcStatus, reason], `${path} ${JSON.stringify(init)}`);
    }
    assert.deepEqual(calls, []);
    assert.equal((await http(`${url}/tasks/t1`, { headers: { "A2A-Version": "1.0" } })).status, 200);
  });
});

test("httpJsonRoutes() shapes the route table's refusals as AIP-193 too: 405 with Allow, 413 and 415", async () => {
  const { agent, calls } = standIn();
  await serve(agent, async (url) => {
    const wrongVerb = await http(`${url}/tasks/t1`, { method: "DELETE" });
    assert.deepEqual([wrongVerb.status, wrongVerb.allow], [405, "GET"]);
    assert.deepEqual(wrongVerb.body, { error: { code: 405, status: "UNIMPLEMENTED", message: "Use GET for /tasks/t1", details: [] } });
    const configsVerb = await http(`${url}/tasks/t1/pushNotificationConfigs`, { method: "PUT" });
    assert.equal(configsVerb.allow, "POST, GET");
    const tooBig = await http(`${url}/message:send`, { method: "POST", body: JSON.stringify({ message: { ...MESSAGE, parts: [{ text: "x".repeat(200) }] } }) });
    assert.deepEqual([tooBig.status, tooBig.body.error.code, tooBig.body.error.status, tooBig.body.error.details], [413, 413, "INVALID_ARGUMENT", []]);
    const wrongType = await http(`${url}/message:send`, { method: "POST", body: JSON.stringify({ message: MESSAGE }), headers: { "content-type": "text/plain" } });
    assert.deepEqual([wrongType.status, wrongType.body.error.status, wrongType.body.error.details], [415, "INVALID_ARGUMENT", []]);
    assert.deepEqual(calls, []);
  }, 100);
});
