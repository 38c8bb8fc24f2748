/**
 * Checks a live response against a spec example: every field the example has, the response has,
 * with the same JSON type, recursively (arrays by their first element); enum-like values keep the
 * example's spelling family (`TASK_STATE_*`, `ROLE_*`, v0.3 lowercase names) and `kind` tags match
 * exactly. Ids, texts and timestamps differ from the example and are not compared.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

/** The spec examples in `tests/fixtures/`. */
export const V03 = JSON.parse(readFileSync(new URL("./fixtures/a2a_v03_examples.json", import.meta.url), "utf8"));
/** The v1.0 spec examples, and the v1.0 form of each v0.3 one under `fromV03`. */
export const V10 = JSON.parse(readFileSync(new URL("./fixtures/a2a_v10_examples.json", import.meta.url), "utf8"));

const FAMILIES: Array<[RegExp, RegExp]> = [
  [/^TASK_STATE_/, /^TASK_STATE_[A-Z_]+$/],
  [/^ROLE_/, /^ROLE_(USER|AGENT)$/],
];
const V03_ENUMS = new Set(["submitted", "working", "input-required", "auth-required", "completed", "canceled", "failed", "rejected", "user", "agent"]);

/**
 * Asserts that `actual` has the shape of the spec example `example`.
 *
 * @param actual What the agent sent.
 * @param example The spec example.
 * @param path Where we are, for messages.
 */
export function assertWireShape(actual: unknown, example: unknown, path = "$"): void {
  if (Array.isArray(example)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)?.slice(0, 200)}`);
    if (example.length > 0 && actual.length > 0) assertWireShape(actual[0], example[0], `${path}[0]`);
    return;
  }
  if (typeof example === "object" && example !== null) {
    assert.ok(typeof actual === "object" && actual !== null && !Array.isArray(actual), `${path}: expected an object, got ${JSON.stringify(actual)?.slice(0, 200)}`);
    // A part may be of another kind than the example's: check it is a well-formed part of the same version.
    if (/\.parts\[\d+\]$/.test(path)) return assertPart(actual as Record<string, unknown>, "kind" in example, path);
    for (const [key, value] of Object.entries(example)) {
      if (key.startsWith("_")) continue;
      assert.ok(key in actual, `${path}: missing "${key}" (has ${Object.keys(actual).join(", ")})`);
      assertWireShape((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    }
    return;
  }
  assert.equal(typeof actual, typeof example, `${path}: expected a ${typeof example}, got ${JSON.stringify(actual)}`);
  if (typeof example !== "string") return;
  if (path.endsWith(".kind")) return assert.equal(actual, example, `${path}: kind`);
  for (const [family, pattern] of FAMILIES) if (family.test(example)) assert.match(actual as string, pattern, path);
  if (V03_ENUMS.has(example) && /\.(state|role)$/.test(path)) assert.ok(V03_ENUMS.has(actual as string), `${path}: "${actual}" is not a v0.3 name`);
}

function assertPart(part: Record<string, unknown>, v03: boolean, path: string): void {
  if (v03) {
    assert.ok(["text", "file", "data"].includes(part.kind as string), `${path}: kind "${part.kind}" is not a v0.3 part kind`);
    assert.ok((part.kind as string) in part, `${path}: a ${part.kind} part without "${part.kind}"`);
  } else {
    assert.ok(!("kind" in part), `${path}: a v1.0 part has no kind`);
    assert.equal(["text", "raw", "url", "data"].filter((k) => k in part).length, 1, `${path}: a v1.0 part has exactly one of text, raw, url, data`);
  }
}
