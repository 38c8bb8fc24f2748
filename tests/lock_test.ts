/**
 * acquireLock(): what `tests/journal_test.ts` does not already cover through openJournal (a second
 * open in this process, a killed holder's lock taken over, a live holder named): releasing, and a
 * lock file left without a pid.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { acquireLock } from "../lib/lock.ts";
import { tempDir } from "./helpers.ts";

test("acquireLock() writes this process's pid, and release() removes the lock so it can be taken again", async () => {
  const dir = tempDir();
  const lock = await acquireLock(dir);
  assert.equal(lock.path, join(dir, "LOCK"));
  assert.equal(readFileSync(lock.path, "utf8"), `${process.pid}\n`);
  await lock.release();
  assert.equal(existsSync(lock.path), false);
  const again = await acquireLock(dir);
  await again.release();
});

test("acquireLock() release() twice is safe and never removes a lock taken since", async () => {
  const dir = tempDir();
  const first = await acquireLock(dir);
  await first.release();
  await first.release();
  const second = await acquireLock(dir);
  await first.release(); // A stale handle released again must leave the new holder's lock alone.
  assert.equal(existsSync(second.path), true);
  await assert.rejects(acquireLock(dir), { code: "LOCKED" });
  await second.release();
});

test("acquireLock() takes over a lock file a crashed process left without a pid", async () => {
  for (const content of ["", "not a pid\n", "0\n", "-5\n"]) {
    const dir = tempDir();
    writeFileSync(join(dir, "LOCK"), content);
    const lock = await acquireLock(dir);
    assert.equal(readFileSync(lock.path, "utf8"), `${process.pid}\n`, JSON.stringify(content));
    await lock.release();
  }
});
