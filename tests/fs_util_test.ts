import assert from "node:assert/strict";
import { test } from "node:test";
import { join } from "node:path";
import type { FileHandle } from "node:fs/promises";
import { chmodSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { loadOrMakeToken, syncDirectory, writeAll } from "../lib/fs_util.ts";
import { tempDir } from "./helpers.ts";

test("syncDirectory() flushes a directory, and rejects one that does not exist", async () => {
  const dir = tempDir();
  await syncDirectory(dir);
  if (process.platform !== "win32") await assert.rejects(syncDirectory(join(dir, "missing")), { code: "ENOENT" });
});

test("writeAll() writes on after a short write, at the given position, and refuses a write that takes nothing", async () => {
  const file = Buffer.alloc(8, ".");
  const calls: number[] = [];
  const short = {
    async write(bytes: Uint8Array, offset: number, length: number, position: number) {
      const taken = Math.min(length, 2); // At most two bytes a write, as a full pipe or disk may.
      file.set(bytes.subarray(offset, offset + taken), position);
      calls.push(taken);
      return { bytesWritten: taken, buffer: bytes };
    },
  } as unknown as FileHandle;
  await writeAll(short, new TextEncoder().encode("hello"), 2);
  assert.equal(file.toString(), "..hello.");
  assert.deepEqual(calls, [2, 2, 1]);
  const full = { write: async (bytes: Uint8Array) => ({ bytesWritten: 0, buffer: bytes }) } as unknown as FileHandle;
  await assert.rejects(writeAll(full, new Uint8Array(1), 0), /wrote 0 bytes/);
});

test("loadOrMakeToken() makes a private token once, and concurrent first starts agree on it", async () => {
  const path = join(tempDir(), "notification_token");
  const first = await Promise.all([loadOrMakeToken(path), loadOrMakeToken(path), loadOrMakeToken(path)]);
  assert.equal(new Set(first).size, 1, "one token for all three starts");
  assert.match(first[0]!, /^[0-9a-f]{48}$/);
  if (process.platform !== "win32") assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(await loadOrMakeToken(path), first[0], "kept, not made again");
});

test("loadOrMakeToken() makes a loose token file private, and refuses a symbolic link or an empty file", { skip: process.platform === "win32" }, async () => {
  const dir = tempDir();
  const loose = join(dir, "loose");
  writeFileSync(loose, "given-token\n");
  chmodSync(loose, 0o644);
  assert.equal(await loadOrMakeToken(loose), "given-token");
  assert.equal(statSync(loose).mode & 0o777, 0o600);
  const link = join(dir, "link");
  symlinkSync(loose, link);
  await assert.rejects(loadOrMakeToken(link), { name: "JournalError", code: "UNSAFE" });
  const empty = join(dir, "empty");
  writeFileSync(empty, "\n", { mode: 0o600 });
  await assert.rejects(loadOrMakeToken(empty), /is empty/);
});
