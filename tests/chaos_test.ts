/**
 * The chaos run, small and fast: scripts/chaos.ts as a child process with a few tasks, two agent
 * kills and one receiver kill, bounded by its own time limit and by this test's timeout.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.ts";

const TIME_LIMIT_S = 45;
const TEST_TIMEOUT_MS = (TIME_LIMIT_S + 20) * 1000;

test("scripts/chaos.ts loses nothing and keeps order through agent and receiver kills (small run)", { timeout: TEST_TIMEOUT_MS }, async () => {
  const args = ["--tasks", "20", "--kills", "2", "--receiver-kills", "1", "--duration", "5s", "--time-limit", `${TIME_LIMIT_S}s`, "--seed", "7"];
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts/chaos.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  // SIGINT, not SIGKILL, if this process ends first: the script then kills the agent and receiver it started.
  const stopChild = () => child.kill("SIGINT");
  process.once("exit", stopChild);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  process.off("exit", stopChild);
  const summary = output.trim().split("\n").findLast((line) => line.startsWith("chaos seed=")) ?? "";
  assert.equal(code, 0, output);
  assert.match(summary, /^chaos seed=7 tasks=20 kills=2 receiver_kills=1 deliveries=\d+ duplicates=\d+ missing=0 out_of_order=0 reprocessed=0 forged_accepted=0 wall=[\d.]+s$/, output);
});
