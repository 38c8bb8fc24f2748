/**
 * The data directory's lock under a race: two processes ask for it at the same moment, 100 times
 * over fresh directories and 100 times over a stale lock left by a dead process. Exactly one may
 * win each time: two agents serving one journal would interleave their writes.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { acquireLock } from "../lib/lock.ts";
import { ROOT, tempDir } from "./helpers.ts";

const ROUNDS = 100;

/** A racer child, and the answers it gave, by directory. */
function racer() {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "tests/lock_racer.ts")], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const answers = new Map<string, string>();
  const waiting = new Map<string, () => void>();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const [dir = "", answer = ""] = line.split("\t");
    answers.set(dir, answer);
    waiting.get(dir)?.();
  });
  const ask = (dir: string) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer for ${dir} within 10 s`)), 10_000);
    waiting.set(dir, () => {
      clearTimeout(timer);
      resolve(answers.get(dir)!);
    });
    child.stdin!.write(`${dir}\n`);
  });
  return { child, ask };
}

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", "0"]).pid!;
}

test("acquireLock(): two processes racing for one directory, 100 times fresh and 100 times over a stale lock, never both win", { timeout: 120_000 }, async () => {
  const base = tempDir("lock-race-");
  const [a, b] = [racer(), racer()];
  try {
    for (let round = 0; round < 2 * ROUNDS; round++) {
      const dir = join(base, String(round));
      mkdirSync(dir);
      if (round >= ROUNDS) writeFileSync(join(dir, "LOCK"), `${deadPid()}\n`); // Left by a killed agent.
      const answers = await Promise.all([a.ask(dir), b.ask(dir)]);
      assert.deepEqual(answers.filter((answer) => answer === "ok").length, 1, `round ${round}: ${answers.join(", ")}`);
      assert.ok(answers.every((answer) => answer === "ok" || answer === "locked"), `round ${round}: ${answers.join(", ")}`);
    }
  } finally {
    for (const { child } of [a, b]) child.kill("SIGKILL");
  }
});

test("acquireLock() refuses a lock held in this process, takes over a dead holder's, and leaves no pid files behind", async () => {
  const dir = tempDir("lock-");
  const lock = await acquireLock(dir);
  await assert.rejects(acquireLock(dir), { code: "LOCKED" });
  await lock.release();
  await lock.release();
  writeFileSync(join(dir, "LOCK"), `${deadPid()}\n`);
  const taken = await acquireLock(dir);
  const { readdirSync } = await import("node:fs");
  assert.deepEqual(readdirSync(dir), ["LOCK"]);
  await taken.release();
});
