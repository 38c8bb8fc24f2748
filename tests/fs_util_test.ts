import assert from "node:assert/strict";
import { test } from "node:test";
import { join } from "node:path";
import type { FileHandle } from "node:fs/promises";
import { syncDirectory, writeAll } from "../lib/fs_util.ts";
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
