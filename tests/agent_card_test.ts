/**
 * buildCard(), checkMediaTypes() and extendedCardOf(): what the agent says about itself, and what
 * it refuses because of it. Pure.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { buildCard, checkMediaTypes, extendedCardOf } from "../lib/agent_card.ts";
import { A2AError } from "../lib/errors.ts";
import type { AgentCard, AgentSkill, Part } from "../lib/types.ts";

const BASE = "http://127.0.0.1:8001";

test("buildCard() lists JSON-RPC 1.0, HTTP+JSON 1.0 and JSON-RPC 0.3 at the agent's URL, JSON-RPC 1.0 first", () => {
  const card = buildCard(BASE, { pushNotifications: true, extendedAgentCard: false });
  assert.deepEqual(card.supportedInterfaces, [
    { url: `${BASE}/`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
    { url: BASE, protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
    { url: `${BASE}/`, protocolBinding: "JSONRPC", protocolVersion: "0.3" },
  ]);
});

test("buildCard() declares streaming, and push and the extended card only as asked", () => {
  assert.deepEqual(buildCard(BASE, { pushNotifications: true, extendedAgentCard: false }).capabilities, { streaming: true, pushNotifications: true, extendedAgentCard: false });
  assert.deepEqual(buildCard(BASE, { pushNotifications: false, extendedAgentCard: true }).capabilities, { streaming: true, pushNotifications: false, extendedAgentCard: true });
});

test("buildCard() fills defaults, and takes the owner's fields over them", () => {
  const plain = buildCard(BASE, { pushNotifications: true, extendedAgentCard: false });
  assert.equal(plain.name, "a2a-push agent");
  assert.deepEqual(plain.defaultInputModes, ["text/plain", "application/json"]);
  assert.deepEqual(plain.defaultOutputModes, ["text/plain"]);
  assert.deepEqual(plain.skills, []);
  assert.equal("provider" in plain, false);
  assert.equal("documentationUrl" in plain, false);

  const skills: AgentSkill[] = [{ id: "s", name: "Summarise", description: "Summarises", tags: ["text"] }];
  const provider = { url: "https://example.com", organization: "Example" };
  const owned = buildCard(BASE, {
    card: { name: "mine", description: "d", version: "2.0.0", defaultInputModes: ["image/png"], defaultOutputModes: ["application/json"], skills, provider, documentationUrl: "https://example.com/docs" },
    pushNotifications: true,
    extendedAgentCard: false,
  });
  assert.equal(owned.name, "mine");
  assert.equal(owned.description, "d");
  assert.equal(owned.version, "2.0.0");
  assert.deepEqual(owned.defaultInputModes, ["image/png"]);
  assert.deepEqual(owned.defaultOutputModes, ["application/json"]);
  assert.deepEqual(owned.skills, skills);
  assert.deepEqual(owned.provider, provider);
  assert.equal(owned.documentationUrl, "https://example.com/docs");
});

/** The -32005 error checkMediaTypes throws, or undefined if it accepts. */
function refusal(parts: Part[], card?: Parameters<typeof checkMediaTypes>[1]): A2AError | undefined {
  try {
    checkMediaTypes(parts, card);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof A2AError, String(error));
    return error;
  }
}

test("checkMediaTypes() accepts the default modes exactly, ignoring parameters and case, and parts without a media type", () => {
  assert.equal(refusal([{ text: "hi", mediaType: "text/plain" }, { data: {}, mediaType: "application/json" }]), undefined);
  assert.equal(refusal([{ text: "hi", mediaType: "text/plain; charset=utf-8" }]), undefined);
  assert.equal(refusal([{ text: "hi", mediaType: "Text/Plain" }]), undefined);
  assert.equal(refusal([{ text: "no media type" }]), undefined);
  assert.equal(refusal([]), undefined);
});

test("checkMediaTypes() refuses a type outside the modes with -32005, naming the part and every accepted type", () => {
  const error = refusal([{ text: "ok", mediaType: "text/plain" }, { raw: "AAAA", mediaType: "image/png" }], { skills: [{ id: "s", name: "n", description: "d", tags: [], inputModes: ["audio/wav"] }] });
  assert.ok(error);
  assert.equal(error.code, -32005);
  assert.match(error.message, /image\/png/);
  assert.match(error.message, /message\.parts\[1\]/);
  assert.match(error.message, /text\/plain, application\/json, audio\/wav/);
  assert.deepEqual(error.details, { field: "message.parts[1].mediaType", mediaType: "image/png", accepted: "text/plain,application/json,audio/wav" });
});

test("checkMediaTypes() with the owner's modes no longer takes the defaults", () => {
  assert.equal(refusal([{ text: "hi", mediaType: "text/plain" }], { defaultInputModes: ["application/pdf"] })?.code, -32005);
  assert.equal(refusal([{ url: "https://x/doc.pdf", mediaType: "application/pdf" }], { defaultInputModes: ["application/pdf"] }), undefined);
});

test("checkMediaTypes() takes a `type/*` mode for any subtype of that type only", () => {
  const card = { defaultInputModes: ["image/*"] };
  assert.equal(refusal([{ raw: "AA", mediaType: "image/png" }, { raw: "AA", mediaType: "image/jpeg;q=1" }], card), undefined);
  assert.equal(refusal([{ text: "x", mediaType: "text/plain" }], card)?.code, -32005);
  assert.equal(refusal([{ text: "x", mediaType: "imagex/png" }], card)?.code, -32005);
});

test("checkMediaTypes() takes anything under `*/*`", () => {
  const card = { defaultInputModes: ["*/*"] };
  assert.equal(refusal([{ raw: "AA", mediaType: "application/octet-stream" }, { text: "x", mediaType: "text/csv" }], card), undefined);
});

test("checkMediaTypes() also takes the input modes of the card's skills", () => {
  const skills: AgentSkill[] = [
    { id: "transcribe", name: "Transcribe", description: "d", tags: [], inputModes: ["audio/*"] },
    { id: "read", name: "Read", description: "d", tags: [] },
  ];
  assert.equal(refusal([{ raw: "AA", mediaType: "audio/ogg" }], { skills }), undefined);
  assert.equal(refusal([{ raw: "AA", mediaType: "video/mp4" }], { skills })?.code, -32005);
});

const EXTENDED: AgentCard = { ...buildCard(BASE, { pushNotifications: true, extendedAgentCard: true }), name: "extended" };

test("extendedCardOf() refuses with -32004 when the card declares no extended card", () => {
  assert.throws(() => extendedCardOf(undefined), (error: A2AError) => error instanceof A2AError && error.code === -32004);
});

test("extendedCardOf() refuses with -32007 when the function has no card to give", () => {
  assert.throws(() => extendedCardOf(() => undefined), (error: A2AError) => error instanceof A2AError && error.code === -32007);
});

test("extendedCardOf() gives the card, or what the function returns at each call", () => {
  assert.equal(extendedCardOf(EXTENDED), EXTENDED);
  let calls = 0;
  const fn = () => ({ ...EXTENDED, version: `v${++calls}` });
  assert.equal(extendedCardOf(fn).version, "v1");
  assert.equal(extendedCardOf(fn).version, "v2");
});
