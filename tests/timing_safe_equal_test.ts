import assert from "node:assert/strict";
import { test } from "node:test";
import { timingSafeEqualText } from "../lib/timing_safe_equal.ts";

test("timingSafeEqualText() matches equal text only, whatever the lengths, and never a missing value", () => {
  assert.equal(timingSafeEqualText("Bearer abc", "Bearer abc"), true);
  assert.equal(timingSafeEqualText("Bearer abd", "Bearer abc"), false);
  assert.equal(timingSafeEqualText("Bearer abcd", "Bearer abc"), false);
  assert.equal(timingSafeEqualText("", "Bearer abc"), false);
  assert.equal(timingSafeEqualText(undefined, ""), false);
  assert.equal(timingSafeEqualText("", ""), true);
});
