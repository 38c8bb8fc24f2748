/**
 * The journal line format, pure: what `tests/journal_test.ts`, `journal_faults_test.ts` and the
 * fuzz test do not already pin down (the round trip, a failed checksum at the tail, cuts at every
 * byte are covered there): the exact line layout, damage told from a torn tail by decodeJournal()
 * itself, a line its decoder refuses, and the locations the decoder is given.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32 } from "../lib/crc32.ts";
import { checkLine, decodeJournal, encodeRecord } from "../lib/journal_format.ts";
import type { LineLocation } from "../lib/journal_format.ts";

const text = new TextDecoder();

function concat(...lines: Uint8Array[]) {
  return new Uint8Array(Buffer.concat(lines));
}

test("encodeRecord() writes `<crc32 of the JSON as 8 lower-case hex digits> <JSON>\\n`", () => {
  for (const record of [{ n: 1 }, { text: "é ✓ \u2028" }, [], "s", 0]) {
    const line = text.decode(encodeRecord(record));
    const json = JSON.stringify(record);
    const crc = crc32(new TextEncoder().encode(json)).toString(16).padStart(8, "0");
    assert.equal(line, `${crc} ${json}\n`);
    assert.match(line, /^[0-9a-f]{8} /);
  }
});

test("checkLine() refuses a line whose checksum is spelled in upper case or is not hex", () => {
  const line = encodeRecord({ checksum: "has letters" });
  const upper = concat(new TextEncoder().encode(text.decode(line.subarray(0, 8)).toUpperCase()), line.subarray(8));
  assert.equal(checkLine(line, 0, line.length - 1), true);
  assert.ok(/[a-f]/.test(text.decode(line.subarray(0, 8))), "this record's checksum has a letter");
  assert.equal(checkLine(upper, 0, upper.length - 1), false);
  const notHex = concat(new TextEncoder().encode("zzzzzzzz"), line.subarray(8));
  assert.equal(checkLine(notHex, 0, notHex.length - 1), false);
});

test("decodeJournal() calls a bad line followed by a complete line damage, and stops there", () => {
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: 2 }), encodeRecord({ n: 3 })];
  lines[1]![12] ^= 1;
  const decoded = decodeJournal(concat(...lines));
  assert.deepEqual(decoded.records, [{ n: 1 }]);
  assert.equal(decoded.badLine, 2);
  assert.equal(decoded.goodBytes, lines[0]!.length);
  assert.equal(decoded.damaged, true);
});

test("decodeJournal() calls a last line without its newline a torn tail, and a whole bad line damage even when it is the last", () => {
  const good = encodeRecord({ n: 1 });
  const cut = encodeRecord({ n: 2 }).subarray(0, 12);
  const decoded = decodeJournal(concat(good, cut));
  assert.deepEqual(decoded, { records: [{ n: 1 }], goodBytes: good.length, badLine: 2, damaged: false });
  // A flipped bit in a whole line is no write a crash cut short: a bad disk or a lost page.
  const bad = encodeRecord({ n: 2 });
  bad[12] ^= 1;
  assert.equal(decodeJournal(concat(good, bad)).damaged, true);
  assert.equal(decodeJournal(concat(good, bad, cut)).damaged, true);
});

test("decodeJournal() treats a line its decoder refuses as a bad line", () => {
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: "refused" }), encodeRecord({ n: 3 })];
  const decode = (json: Uint8Array) => {
    const record = JSON.parse(text.decode(json)) as { n: unknown };
    if (record.n === "refused") throw new SyntaxError("not a record this decoder knows");
    return record;
  };
  const decoded = decodeJournal(concat(...lines), decode);
  assert.deepEqual(decoded.records, [{ n: 1 }]);
  assert.equal(decoded.badLine, 2);
  assert.equal(decoded.damaged, true);
});

test("decodeJournal() gives the decoder each record's JSON and its line's place in the file, offset by base", () => {
  const lines = [encodeRecord({ n: 1 }), encodeRecord({ n: "two" }), encodeRecord({ n: 3 })];
  const seen: Array<{ json: string; line: LineLocation }> = [];
  const decoded = decodeJournal(concat(...lines), (json, line) => {
    seen.push({ json: text.decode(json), line });
    return seen.length;
  }, 1000);
  assert.deepEqual(decoded.records, [1, 2, 3]);
  assert.deepEqual(seen, [
    { json: '{"n":1}', line: { position: 1000, length: lines[0]!.length } },
    { json: '{"n":"two"}', line: { position: 1000 + lines[0]!.length, length: lines[1]!.length } },
    { json: '{"n":3}', line: { position: 1000 + lines[0]!.length + lines[1]!.length, length: lines[2]!.length } },
  ]);
  assert.equal(decoded.goodBytes, lines[0]!.length + lines[1]!.length + lines[2]!.length, "goodBytes counts from the start of the bytes given");
});

test("decodeJournal() refuses a line that is not UTF-8 even when its checksum matches", () => {
  const json = new Uint8Array([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]); // {"s":"\xff"}
  const line = concat(new TextEncoder().encode(`${crc32(json).toString(16).padStart(8, "0")} `), json, new Uint8Array([0x0a]));
  const decoded = decodeJournal(concat(encodeRecord({ n: 1 }), line));
  assert.deepEqual(decoded.records, [{ n: 1 }]);
  assert.equal(decoded.badLine, 2);
});
