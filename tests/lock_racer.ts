/**
 * A child process for `lock_race_test.ts`: on each line `<dir>` from stdin it tries to take the
 * lock on that directory, and answers `<dir>\tok` or `<dir>\tlocked`. It keeps every lock it took
 * until it is killed, as a serving agent would.
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { acquireLock } from "../lib/lock.ts";

const held: unknown[] = [];
for await (const dir of createInterface({ input: process.stdin })) {
  try {
    held.push(await acquireLock(dir));
    process.stdout.write(`${dir}\tok\n`);
  } catch (error) {
    process.stdout.write(`${dir}\t${(error as { code?: string }).code === "LOCKED" ? "locked" : `error ${(error as Error).message}`}\n`);
  }
}
