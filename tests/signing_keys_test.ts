import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwksDocument } from "../lib/signing.ts";
import { loadSigningKeys, rotateSigningKey } from "../lib/signing_keys.ts";

let root = "";
before(async () => {
  root = await mkdtemp(join(tmpdir(), "a2a-signing-keys-test-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirCount = 0;
function freshDir(): string {
  dirCount += 1;
  return join(root, `data-${dirCount}`);
}

describe("signing_keys.json", () => {
  it("loadSigningKeys() creates a 0o600 key file and reloads the same kid", async () => {
    const dir = freshDir();
    const first = await loadSigningKeys(dir, { now: () => 1_000 });
    assert.equal(first.previous, undefined);
    assert.equal(first.current.createdAt, 1_000);
    if (process.platform !== "win32") {
      assert.equal((await stat(join(dir, "signing_keys.json"))).mode & 0o777, 0o600);
    }
    const again = await loadSigningKeys(dir, { now: () => 2_000 });
    assert.equal(again.current.kid, first.current.kid);
    assert.equal(again.current.createdAt, 1_000);
    assert.deepEqual(again.current.publicJwk, first.current.publicJwk);
  });

  it("loadSigningKeys() gives concurrent first starts one and the same key", async () => {
    const dir = freshDir();
    const results = await Promise.all([loadSigningKeys(dir), loadSigningKeys(dir), loadSigningKeys(dir)]);
    assert.equal(new Set(results.map((keys) => keys.current.kid)).size, 1);
  });

  it("loadSigningKeys() names the file when it is corrupt", async () => {
    const dir = freshDir();
    await loadSigningKeys(dir);
    await writeFile(join(dir, "signing_keys.json"), "{not json");
    await assert.rejects(loadSigningKeys(dir), /signing_keys\.json/);
  });

  it("rotateSigningKey() keeps the old key as previous in the JWKS and drops older ones", async () => {
    const dir = freshDir();
    const first = await loadSigningKeys(dir);
    const second = await rotateSigningKey(dir, { now: () => 5_000 });
    assert.equal(second.previous.kid, first.current.kid);
    assert.equal(second.current.createdAt, 5_000);
    assert.deepEqual(jwksDocument(second).keys.map((key) => key.kid), [second.current.kid, first.current.kid]);
    const third = await rotateSigningKey(dir);
    const reloaded = await loadSigningKeys(dir);
    assert.equal(reloaded.current.kid, third.current.kid);
    assert.equal(reloaded.previous?.kid, second.current.kid);
    assert.deepEqual(jwksDocument(reloaded).keys.map((key) => key.kid), [third.current.kid, second.current.kid]);
  });

  it("the key file keeps the private keys as PKCS#8 PEM, 0o600, never as a JWK", async () => {
    const dir = freshDir();
    await loadSigningKeys(dir);
    await rotateSigningKey(dir);
    const text = await readFile(join(dir, "signing_keys.json"), "utf8");
    assert.equal((text.match(/BEGIN PRIVATE KEY/g) ?? []).length, 2);
    assert.doesNotMatch(text, /"d"/);
    if (process.platform !== "win32") assert.equal((await stat(join(dir, "signing_keys.json"))).mode & 0o777, 0o600);
  });
});
