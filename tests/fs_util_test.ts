import assert from "node:assert/strict";
import { test } from "node:test";
import { join } from "node:path";
import { syncDirectory } from "../lib/fs_util.ts";
import { tempDir } from "./helpers.ts";

test("syncDirectory() flushes a directory, and rejects one that does not exist", async () => {
  const dir = tempDir();
  await syncDirectory(dir);
  if (process.platform !== "win32") await assert.rejects(syncDirectory(join(dir, "missing")), { code: "ENOENT" });
});
