import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.ts";

const LIB = join(ROOT, "lib");

/** The agent's own files: a receiver or a client that reaches one of them drags the agent along. */
const AGENT_FILES = ["agent.ts", "server.ts", "outbox.ts", "runner.ts", "task_store.ts"];

/**
 * The `lib/` files a file's `import`, `import type`, `export ... from` and `import()` statements
 * name (JSDoc examples, whose lines start with `*`, are not statements).
 */
function importsOf(file: string): string[] {
  const source = readFileSync(join(LIB, file), "utf8");
  const names = new Set<string>();
  for (const [, name] of source.matchAll(/^\s*(?:import|export)\s[^"';]*?["']\.\/([^"']+)["']/gm)) names.add(name!);
  for (const [, name] of source.matchAll(/\bimport\(\s*["']\.\/([^"']+)["']\s*\)/g)) names.add(name!);
  return [...names];
}

/** Every file `entry` reaches through its imports, each with the chain that reaches it. */
function importClosure(entry: string): Map<string, string[]> {
  const chains = new Map([[entry, [entry]]]);
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const name of importsOf(file)) {
      assert.ok(existsSync(join(LIB, name)), `${file} imports ./${name}, which does not exist`);
      if (chains.has(name)) continue;
      chains.set(name, [...chains.get(file)!, name]);
      queue.push(name);
    }
  }
  return chains;
}

function assertLeavesOut(entry: string, files: string[]): Map<string, string[]> {
  const closure = importClosure(entry);
  for (const file of files) {
    assert.ok(!closure.has(file), `${entry} reaches ${file}: ${closure.get(file)?.join(" -> ")}`);
  }
  return closure;
}

test("importClosure() follows import type and value imports (the server reaches the agent)", () => {
  const closure = importClosure("server.ts");
  for (const file of [...AGENT_FILES, "http_util.ts", "admin.ts"]) assert.ok(closure.has(file), file);
});

test("the receiver copies without the agent: its closure has verify.ts and none of the agent's files", () => {
  const closure = assertLeavesOut("receiver.ts", AGENT_FILES);
  for (const file of ["verify.ts", "http_util.ts", "client.ts", "journal.ts", "read_access.ts"]) assert.ok(closure.has(file), file);
});

test("the client reaches no agent file, and verify.ts copies with two files", () => {
  assertLeavesOut("client.ts", AGENT_FILES);
  assert.deepEqual([...importClosure("verify.ts").keys()].sort(), ["errors.ts", "timing_safe_equal.ts", "verify.ts"]);
});

test("jwks_cache.ts copies with remote_cache.ts and verify.ts's files, as the README says", () => {
  const files = [...importClosure("jwks_cache.ts").keys()].sort();
  assert.deepEqual(files, ["errors.ts", "jwks_cache.ts", "remote_cache.ts", "timing_safe_equal.ts", "verify.ts"]);
});
