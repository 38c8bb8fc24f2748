import assert from "node:assert/strict";
import { test } from "node:test";
import { StreamResponse } from "@a2a-js/sdk";
import { V1PushNotificationSerializer } from "@a2a-js/sdk/server";
import { streamResponseJson, taskIdOf } from "../lib/sdk_wire.ts";
import type { SdkStreamResponse } from "../lib/sdk_wire.ts";
import { createPrng } from "./prng.ts";
import type { Prng } from "./prng.ts";

/** The body the SDK's own sender posts for an event. */
function sdkBody(event: SdkStreamResponse): string {
  return new V1PushNotificationSerializer().serialize(event as StreamResponse).body;
}

const text = (value: string) => ({ content: { $case: "text" as const, value }, metadata: undefined, filename: "", mediaType: "" });

test("streamResponseJson() gives the bytes the SDK's sender posts for an executor's hand-built events (undefined metadata, empty strings, enum numbers)", () => {
  const message = { messageId: "m1", contextId: "c1", taskId: "t1", role: 2, parts: [text("step 1/3")], metadata: undefined, extensions: [], referenceTaskIds: [] };
  const events: SdkStreamResponse[] = [
    { payload: { $case: "task", value: { id: "t1", contextId: "c1", status: { state: 1, message: undefined, timestamp: "2026-11-27T00:00:00.000Z" }, artifacts: [], history: [{ ...message, role: 1 }], metadata: undefined } } },
    { payload: { $case: "statusUpdate", value: { taskId: "t1", contextId: "c1", status: { state: 2, message, timestamp: "2026-11-27T00:00:01.000Z" }, metadata: {} } } },
    { payload: { $case: "artifactUpdate", value: { taskId: "t1", contextId: "c1", artifact: { artifactId: "a", name: "report.txt", description: "", parts: [{ content: { $case: "raw", value: Buffer.from([0, 255, 7]) }, metadata: { k: 1 }, filename: "r.bin", mediaType: "application/octet-stream" }], metadata: undefined, extensions: ["urn:x"] }, append: true, lastChunk: false, metadata: undefined } } },
    { payload: { $case: "statusUpdate", value: { taskId: "t1", contextId: "c1", status: { state: 3, message: undefined, timestamp: undefined }, metadata: undefined } } },
    { payload: { $case: "message", value: { ...message, referenceTaskIds: ["t0"] } } },
    { payload: { $case: "statusUpdate", value: { taskId: "t1", contextId: "", status: { state: 42, message: undefined, timestamp: "x" }, metadata: undefined } } },
    { payload: { $case: "artifactUpdate", value: { taskId: "t1", contextId: "c1", artifact: undefined, append: false, lastChunk: true, metadata: undefined } } },
    { payload: { $case: "task", value: { id: "t1", contextId: "c1", status: undefined, artifacts: [], history: [], metadata: undefined } } },
  ];
  for (const event of events) assert.equal(JSON.stringify(streamResponseJson(event)), sdkBody(event));
  assert.equal(JSON.stringify(streamResponseJson({ payload: undefined })), sdkBody({ payload: undefined }));
});

/** A random v1.0 StreamResponse as JSON, decoded by the SDK into its own objects. */
function randomEvent(prng: Prng): SdkStreamResponse {
  const maybe = <T>(value: () => T) => (prng.chance(0.5) ? value() : undefined);
  const word = () => prng.pick(["", "a", "t-1", "ü ✓", 'q"uote', "\u0000x"]);
  const json = () => prng.pick([null, 0, 1.5, "s", true, [1, "x"], { nested: { deep: [null] } }]);
  const metadata = () => maybe(() => ({ [word() || "k"]: json() }));
  const part = () => ({
    ...prng.pick([{ text: word() }, { raw: Buffer.from(prng.bytes(prng.int(0, 5))).toString("base64") }, { url: "https://x/" }, { data: json() }, {}]),
    metadata: metadata(), filename: maybe(word), mediaType: maybe(word),
  });
  const message = () => ({ messageId: word(), contextId: maybe(word), taskId: maybe(word), role: prng.pick(["ROLE_USER", "ROLE_AGENT", undefined, 1]), parts: Array.from({ length: prng.int(0, 2) }, part), metadata: metadata(), extensions: maybe(() => [word()]), referenceTaskIds: maybe(() => [word()]) });
  const status = () => maybe(() => ({ state: prng.pick(["TASK_STATE_WORKING", "TASK_STATE_COMPLETED", "TASK_STATE_INPUT_REQUIRED", 0, 8, undefined]), message: maybe(message), timestamp: maybe(() => "2026-11-27T00:00:00Z") }));
  const artifact = () => ({ artifactId: word(), name: maybe(word), description: maybe(word), parts: Array.from({ length: prng.int(0, 2) }, part), metadata: metadata(), extensions: maybe(() => [word()]) });
  const payload = prng.pick([
    () => ({ task: { id: word(), contextId: word(), status: status(), artifacts: maybe(() => [artifact()]), history: maybe(() => [message()]), metadata: metadata() } }),
    () => ({ message: message() }),
    () => ({ statusUpdate: { taskId: word(), contextId: word(), status: status(), metadata: metadata() } }),
    () => ({ artifactUpdate: { taskId: word(), contextId: word(), artifact: maybe(artifact), append: maybe(() => prng.chance(0.5)), lastChunk: maybe(() => prng.chance(0.5)), metadata: metadata() } }),
  ])();
  return StreamResponse.fromJSON(payload) as SdkStreamResponse;
}

test("streamResponseJson() gives the SDK's bytes for 2,000 random events decoded by the SDK (seeded)", () => {
  const seed = Number(process.env.FUZZ_SEED ?? 17);
  const prng = createPrng(seed);
  for (let i = 0; i < 2000; i++) {
    const event = randomEvent(prng);
    assert.equal(JSON.stringify(streamResponseJson(event)), sdkBody(event), `seed ${seed}, event ${i}`);
  }
});

test("taskIdOf() names the task as the SDK's sender does, empty for a message of no task, and refuses an event without payload", () => {
  const status = { state: 2, message: undefined, timestamp: undefined };
  assert.equal(taskIdOf({ payload: { $case: "task", value: { id: "t1", contextId: "c", status, artifacts: [], history: [], metadata: undefined } } }), "t1");
  assert.equal(taskIdOf({ payload: { $case: "artifactUpdate", value: { taskId: "t2", contextId: "c", artifact: undefined, append: false, lastChunk: false, metadata: undefined } } }), "t2");
  assert.equal(taskIdOf({ payload: { $case: "message", value: { messageId: "m", contextId: "", taskId: "", role: 2, parts: [], metadata: undefined, extensions: [], referenceTaskIds: [] } } }), "");
  assert.throws(() => taskIdOf({}), TypeError);
});
