/**
 * TokenFile: parsing `<principal> <token>` lines (comments, blank lines, refusals that name the
 * line but never the token), lookups, and reading the file again when it changes.
 */

import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { TokenFile } from "../lib/auth_tokens.ts";
import { tempDir } from "./helpers.ts";

const A = "aaaaaaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbbbbbb";

function file(text: string, mode = 0o600): string {
  const path = join(tempDir(), "tokens");
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}

test("TokenFile.principalOf() finds each line's principal, skipping comments and blank lines; an unknown token finds none", async () => {
  const tokens = await TokenFile.load(file(`# callers\n\nalice ${A}\r\n  bob\t${B}  \nalice ${A}x\n`));
  assert.equal(await tokens.principalOf(A), "alice");
  assert.equal(await tokens.principalOf(`${A}x`), "alice");
  assert.equal(await tokens.principalOf(B), "bob");
  assert.equal(await tokens.principalOf("cccccccccccccccccccc"), undefined);
  assert.equal(await tokens.principalOf(""), undefined);
  assert.deepEqual(tokens.principals, ["alice", "bob"]);
});

test("TokenFile.load() refuses a malformed line by its number, never quoting the token", async () => {
  const cases: Array<[string, RegExp]> = [
    [`alice\n`, /line 1: expected "<principal> <token>"/],
    [`alice ${A} extra\n`, /line 1: expected/],
    [`\n-alice ${A}\n`, /line 2: the principal must be/],
    [`alice tinytok\n`, /line 1: the token of alice is shorter than 16 characters/],
    [`alice ${A}\nbob ${A}\n`, /line 2: this token is already given/],
  ];
  for (const [text, message] of cases) {
    await assert.rejects(TokenFile.load(file(text)), (error: Error) => {
      assert.match(error.message, message);
      assert.ok(!error.message.includes(A) && !error.message.includes("tinytok"), error.message);
      return true;
    });
  }
});

test("TokenFile warns about a file others can read", async () => {
  const warnings: string[] = [];
  await TokenFile.load(file(`alice ${A}\n`, 0o644), { warn: (line) => warnings.push(line) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /can be read by others \(mode 644\)/);
});

test("TokenFile reads a changed file again at the next lookup after the interval, and keeps the old tokens when the new file is bad", async () => {
  let now = 0;
  const warnings: string[] = [];
  const path = file(`alice ${A}\n`);
  const tokens = await TokenFile.load(path, { now: () => now, checkIntervalMs: 1000, warn: (line) => warnings.push(line) });
  writeFileSync(path, `bob ${B}\n`);
  now = 500;
  assert.equal(await tokens.principalOf(A), "alice", "not checked again within the interval");
  now = 1500;
  assert.equal(await tokens.principalOf(A), undefined);
  assert.equal(await tokens.principalOf(B), "bob");
  writeFileSync(path, `carol x\n`);
  now = 3000;
  assert.equal(await tokens.principalOf(B), "bob");
  assert.match(warnings.join("\n"), /keeping the tokens read before: .*line 1/);
  await assert.rejects(tokens.reload(), /line 1/);
});
