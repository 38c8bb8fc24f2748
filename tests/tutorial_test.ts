import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./helpers.ts";

const run = promisify(execFile);

test("scripts/test_long_running.ts passes all five scenarios with its own agent and receiver", async () => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", join(ROOT, "scripts/test_long_running.ts")], {
    cwd: ROOT,
    env: { ...process.env, A2A_DEMO_OWN: "1" },
    timeout: 120_000,
  });
  for (const scenario of ["a. quick task", "b. long task", "c. agent SIGKILLed", "d. receiver down", "e. forged"]) {
    assert.match(stdout, new RegExp(`${scenario}.*PASS`), `${scenario} passed:\n${stdout}`);
  }
  assert.match(stdout, /tampered body: refused, HTTP 401/);
  assert.match(stdout, /signed by the agent, for a stranger's push config: refused, HTTP 401 BAD_TOKEN/);
  assert.match(stdout, /^5 passed, 0 failed, 0 skipped$/m);
});
