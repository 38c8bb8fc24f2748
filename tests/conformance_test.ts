/**
 * The wire fixes a conformance run (the a2a-tck requirement registry and the v1.0.1 spec) asked for:
 * one test each. The card's strict shape is checked against the fields `a2a.proto` gives AgentCard.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { A2AClient } from "../lib/client.ts";
import { rawPost, startAgent, TEST_PUSH, userMessage, waitFor } from "./helpers.ts";

const noop = () => {};

/** AgentCard's fields in specification/a2a.proto (v1.0.1), as ProtoJSON names them. */
const CARD_FIELDS = new Set([
  "name", "description", "supportedInterfaces", "provider", "version", "documentationUrl", "capabilities",
  "securitySchemes", "securityRequirements", "defaultInputModes", "defaultOutputModes", "skills", "signatures", "iconUrl",
]);
const CAPABILITY_FIELDS = new Set(["streaming", "pushNotifications", "extensions", "extendedAgentCard"]);
const INTERFACE_FIELDS = new Set(["url", "protocolBinding", "tenant", "protocolVersion"]);

async function http(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? "" : JSON.parse(text) };
}

test("GetTaskPushNotificationConfig for a config id the task does not have is TaskNotFound (-32001, HTTP 404)", async () => {
  const t = await startAgent({ handler: noop, push: TEST_PUSH });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}) });
    await assert.rejects(t.client.getPushConfig({ taskId: task.id, id: "no-such-config" }), { code: -32001 });
    const rest = await http(`${t.url}/tasks/${task.id}/pushNotificationConfigs/no-such-config`);
    assert.equal(rest.status, 404);
    assert.equal(rest.body.error.details[0].reason, "TASK_NOT_FOUND");
  } finally {
    await t.close();
  }
});

test("GetExtendedAgentCard: -32004 when the card does not declare one, -32007 when declared but none to give", async () => {
  const undeclared = await startAgent({ handler: noop });
  let available = false;
  const extended = { ...undeclared.agent.card("http://x"), name: "extended" };
  const declared = await startAgent({ handler: noop, extendedCard: () => (available ? extended : undefined) });
  try {
    assert.equal((await http(`${undeclared.url}/.well-known/agent-card.json`)).body.capabilities.extendedAgentCard, false);
    await assert.rejects(undeclared.client.getExtendedAgentCard(), { code: -32004 });
    assert.equal((await http(`${declared.url}/.well-known/agent-card.json`)).body.capabilities.extendedAgentCard, true);
    await assert.rejects(declared.client.getExtendedAgentCard(), { code: -32007 });
    available = true;
    assert.equal((await declared.client.getExtendedAgentCard()).name, "extended");
  } finally {
    await undeclared.close();
    await declared.close();
  }
});

test("a part whose mediaType the card and skills do not accept is ContentTypeNotSupported (-32005), listing the accepted types, and nothing is stored", async () => {
  const skills = [{ id: "images", name: "Images", description: "Looks at pictures", tags: [], inputModes: ["image/*"] }];
  const t = await startAgent({ handler: noop, card: { skills } });
  try {
    const part = (mediaType: string) => ({ messageId: crypto.randomUUID(), role: "ROLE_USER" as const, parts: [{ text: "x" }, { raw: "AAAA", mediaType }] });
    const error = await t.client.sendMessage({ message: part("application/pdf") }).catch((e) => e);
    assert.equal(error.code, -32005);
    assert.match(error.message, /application\/pdf of message\.parts\[1\] is not accepted; this agent accepts text\/plain, application\/json, image\/\*/);
    assert.equal((await t.client.listTasks()).tasks.length, 0, "a refused message stores no task");
    const rest = await http(`${t.url}/message:send`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: part("audio/ogg") }) });
    assert.equal(rest.status, 400);
    assert.equal(rest.body.error.details[0].reason, "CONTENT_TYPE_NOT_SUPPORTED");
    // Accepted: a card mode with parameters, the skill's wildcard, and parts without a mediaType.
    for (const mediaType of ["application/json; charset=utf-8", "IMAGE/PNG"]) {
      const { task } = await t.client.sendMessage({ message: part(mediaType), configuration: { returnImmediately: true } });
      assert.ok(task.id, mediaType);
    }
  } finally {
    await t.close();
  }
});

test("the card: a v1.0 request (A2A-Version 1.0, header or query) gets only AgentCard's proto fields; a request without a version also gets the v0.3 keys", async () => {
  const t = await startAgent({ handler: noop, push: TEST_PUSH });
  try {
    const cardUrl = `${t.url}/.well-known/agent-card.json`;
    for (const v1 of [await http(cardUrl, { headers: { "A2A-Version": "1.0" } }), await http(`${cardUrl}?A2A-Version=1.0`)]) {
      assert.equal(v1.status, 200);
      assert.deepEqual(Object.keys(v1.body).filter((key) => !CARD_FIELDS.has(key)), []);
      assert.deepEqual(Object.keys(v1.body.capabilities).filter((key) => !CAPABILITY_FIELDS.has(key)), []);
      for (const i of v1.body.supportedInterfaces) assert.deepEqual(Object.keys(i).filter((key) => !INTERFACE_FIELDS.has(key)), []);
      for (const field of ["name", "description", "supportedInterfaces", "version", "capabilities", "defaultInputModes", "defaultOutputModes", "skills"]) {
        assert.ok(field in v1.body, `required field ${field}`);
      }
    }
    // A v0.3 client (e.g. @a2a-js/sdk 0.3.x) sends no version: it reads `url` and `preferredTransport`.
    const v03 = await http(cardUrl);
    assert.equal(v03.body.url, `${t.url}/`);
    assert.equal(v03.body.preferredTransport, "JSONRPC");
    assert.equal(v03.body.protocolVersion, "0.3.0");
    assert.ok(Array.isArray(v03.body.supportedInterfaces), "v1.0 readers without a header still find their interfaces");
    assert.equal(v03.headers.get("vary"), "A2A-Version");
    // And our own client asks as v1.0.
    const client = await A2AClient.fromCardUrl(t.url);
    assert.equal((client.card as unknown as Record<string, unknown>).url, undefined);
  } finally {
    await t.close();
  }
});

test("the card answers HEAD, with Cache-Control max-age and an ETag that If-None-Match revalidates (304)", async () => {
  const t = await startAgent({ handler: noop });
  try {
    const cardUrl = `${t.url}/.well-known/agent-card.json`;
    const get = await fetch(cardUrl);
    const etag = get.headers.get("etag");
    assert.match(etag ?? "", /^"[A-Za-z0-9_-]+"$/);
    assert.match(get.headers.get("cache-control") ?? "", /max-age=\d+/);
    await get.arrayBuffer();
    const head = await fetch(cardUrl, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("etag"), etag);
    assert.equal((await head.text()), "");
    const again = await fetch(cardUrl, { headers: { "If-None-Match": etag! } });
    assert.equal(again.status, 304);
    const other = await fetch(cardUrl, { headers: { "If-None-Match": etag!, "A2A-Version": "1.0" } });
    assert.equal(other.status, 200, "the v1.0 card is another representation, with its own ETag");
    assert.notEqual(other.headers.get("etag"), etag);
    await other.arrayBuffer();
    assert.equal((await fetch(cardUrl, { method: "POST" })).status, 405);
  } finally {
    await t.close();
  }
});

test("validation errors carry a google.rpc.BadRequest with the field violations beside the ErrorInfo, on both bindings", async () => {
  const t = await startAgent({ handler: noop });
  try {
    const bad = { message: { messageId: "m", role: "ROLE_USER", parts: [] } };
    const rpc = await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SendMessage", params: bad }));
    const [info, badRequest] = rpc.body.error.data;
    assert.equal(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert.equal(badRequest["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert.equal(badRequest.fieldViolations[0].field, "message.parts");
    assert.ok(badRequest.fieldViolations[0].description.length > 0);
    const rest = await http(`${t.url}/message:send`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bad) });
    assert.equal(rest.body.error.details[1]["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert.equal(rest.body.error.details[1].fieldViolations[0].field, "message.parts");
    // Errors that are not about a field carry no BadRequest.
    const missing = await rawPost(`${t.url}/`, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "GetTask", params: { id: "nope" } }));
    assert.equal(missing.body.error.data.length, 1);
  } finally {
    await t.close();
  }
});

test("a push config whose host does not resolve yet is accepted; its deliveries fail at connect time and are retried", async () => {
  let resolvable = false;
  const resolver = async (host: string) => {
    if (!resolvable) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return [{ address: "127.0.0.1", family: 4 }];
  };
  const t = await startAgent({ handler: noop, push: { ...TEST_PUSH, resolver, schedule: [0, 60_000] } });
  try {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true } });
    const config = await t.client.createPushConfig({ taskId: task.id, url: "http://receiver.internal:9/webhook" });
    assert.equal(config.url, "http://receiver.internal:9/webhook");
    const tried = await waitFor(() => t.agent.outbox!.deliveries("pending").find((d) => d.attempts > 0), { what: "a failed attempt" });
    assert.match(tried.lastError ?? "", /ENOTFOUND/);
    // A name that resolves to a blocked address is still refused at creation.
    resolvable = true;
    const guarded = await startAgent({ handler: noop, push: { resolver, schedule: [0] } });
    try {
      const { task: other } = await guarded.client.sendMessage({ message: userMessage({}), configuration: { returnImmediately: true } });
      await assert.rejects(guarded.client.createPushConfig({ taskId: other.id, url: "http://receiver.internal/webhook" }), { code: -32602 });
    } finally {
      await guarded.close();
    }
  } finally {
    await t.close();
  }
});
