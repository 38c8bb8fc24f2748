/**
 * The chaos runs, small and fast: scripts/chaos.ts as a child process with a few tasks, agent (or
 * replica) kills and a receiver kill, bounded by its own time limit and by this test's timeout.
 * The replica run needs PostgreSQL and is skipped, with the reason, without one.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.ts";
import { DATABASE_URL, needsDatabase } from "./pg_helpers.ts";

const TIME_LIMIT_S = 45;
const TEST_TIMEOUT_MS = (TIME_LIMIT_S + 20) * 1000;

/** Runs the chaos script to its end; returns its exit code, its output and its summary line. */
async function runChaos(args: string[]): Promise<{ code: number | null; output: string; summary: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts/chaos.ts"), ...args, "--time-limit", `${TIME_LIMIT_S}s`, "--seed", "7"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  // SIGINT, not SIGKILL, if this process ends first: the script then kills what it started.
  const stopChild = () => child.kill("SIGINT");
  process.once("exit", stopChild);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  process.off("exit", stopChild);
  return { code, output, summary: output.trim().split("\n").findLast((line) => line.startsWith("chaos seed=")) ?? "" };
}

test("scripts/chaos.ts loses nothing and keeps order through agent and receiver kills (small run)", { timeout: TEST_TIMEOUT_MS }, async () => {
  const { code, output, summary } = await runChaos(["--tasks", "20", "--kills", "2", "--receiver-kills", "1", "--duration", "5s"]);
  assert.equal(code, 0, output);
  assert.match(summary, /^chaos seed=7 tasks=20 kills=2 receiver_kills=1 deliveries=\d+ duplicates=\d+ missing=0 out_of_order=0 reprocessed=0 forged_accepted=0 wall=[\d.]+s$/, output);
});

test("scripts/chaos.ts --replicas 3 loses nothing, keeps order and takes a killed replica's runs over (small run)", { ...needsDatabase(), timeout: TEST_TIMEOUT_MS }, async () => {
  const { code, output, summary } = await runChaos(["--replicas", "3", "--database-url", DATABASE_URL!, "--tasks", "40", "--kills", "2", "--receiver-kills", "1", "--duration", "8s"]);
  assert.equal(code, 0, output);
  assert.match(
    summary,
    /^chaos seed=7 tasks=40 kills=2 receiver_kills=1 deliveries=\d+ duplicates=\d+ missing=0 out_of_order=0 reprocessed=0 forged_accepted=0 replicas=3 disagreements=0 takeover_p50=\S+ takeover_max=\S+ wall=[\d.]+s$/,
    output,
  );
  assert.match(output, /^chaos takeover: replica [12] killed at [\d.]+ s \(down until the end\)/m, output);
});
