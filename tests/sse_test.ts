/**
 * Server-Sent Events, both ends: the line formatSseData() writes, and what readSseData() yields
 * from a byte stream (multi-line data, comments, line ends, the size limit, a stream cut short).
 * Pure: bodies are in-memory ReadableStreams split where each test says.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatSseData, readSseData } from "../lib/sse.ts";

/** A body that delivers `chunks` as separate reads (strings as UTF-8, or raw bytes), then ends. */
function body(chunks: Array<string | Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
      controller.close();
    },
  });
}

/** A body that delivers `chunks` and stays open, like an agent's stream; `onCancel` sees the reader leave. */
function openBody(chunks: string[], onCancel: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
    },
    cancel: onCancel,
  });
}

async function read(chunks: Array<string | Uint8Array>, options: { maxEventBytes?: number } = {}): Promise<string[]> {
  const events: string[] = [];
  for await (const data of readSseData(body(chunks), options)) events.push(data);
  return events;
}

test("formatSseData() writes one data line of JSON and a blank line, even for text with newlines", () => {
  assert.equal(formatSseData({ a: 1 }), 'data: {"a":1}\n\n');
  const text = formatSseData({ text: "two\nlines\r\n" });
  assert.equal(text, 'data: {"text":"two\\nlines\\r\\n"}\n\n');
  assert.equal(text.split("\n").length, 3, "one line, then the blank line");
});

test("formatSseData() events read back with readSseData() as the same values", async () => {
  const values = [{ task: { id: "t1" } }, "plain", 42, null, { text: "é ✓ 🎉\nsecond line" }];
  const events = await read(values.map(formatSseData));
  assert.deepEqual(events.map((data) => JSON.parse(data)), values);
});

test("readSseData() joins an event's data lines with newlines and takes off one space after the colon", async () => {
  assert.deepEqual(await read(["data: first\ndata: second\ndata:\n\n"]), ["first\nsecond\n"]);
  assert.deepEqual(await read(["data:tight\n\ndata:  two spaces\n\n"]), ["tight", " two spaces"]);
});

test("readSseData() skips heartbeat comments, event, id and retry fields, and blank lines with no data", async () => {
  const stream = [": heartbeat\n\n", "\n\n", "event: update\nid: 7\nretry: 1000\n: note\ndata: 1\n\n", "id: 8\n\n", "data: 2\n\n"];
  assert.deepEqual(await read(stream), ["1", "2"]);
});

test("readSseData() drops a final event without its blank line", async () => {
  assert.deepEqual(await read(["data: 1\n\ndata: 2\n"]), ["1"]);
  assert.deepEqual(await read(["data: 1\n\ndata: 2"]), ["1"]);
  assert.deepEqual(await read([]), []);
});

test("readSseData() reads CRLF and lone CR line ends as LF", async () => {
  assert.deepEqual(await read(["data: a\r\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n"]), ["a\nb", "c", "d"]);
});

test("readSseData() reads an LF stream split at any byte, multi-byte characters included", async () => {
  const text = ": hi\n\ndata: é✓\ndata: 🎉\n\ndata: end\n\n";
  const bytes = new TextEncoder().encode(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(await read([bytes.subarray(0, cut), bytes.subarray(cut)]), ["é✓\n🎉", "end"], `cut at ${cut}`);
  }
  assert.deepEqual(await read([...bytes].map((byte) => new Uint8Array([byte]))), ["é✓\n🎉", "end"], "one byte per read");
});

test("readSseData() refuses an event over maxEventBytes with a RangeError, also one whose line grows over several reads", async () => {
  await assert.rejects(read([`data: ${"x".repeat(200)}\n\n`], { maxEventBytes: 100 }), { name: "RangeError", message: "SSE event larger than 100 characters" });
  const growing = Array.from({ length: 30 }, () => "xxxxxxxxxx");
  await assert.rejects(read(["data: ", ...growing, "\n\n"], { maxEventBytes: 100 }), RangeError);
  assert.deepEqual(await read([`data: ${"x".repeat(90)}\n\n`], { maxEventBytes: 100 }), ["x".repeat(90)], "within the limit");
});

test("readSseData() cancels the body when the reader stops early or the limit is passed", async () => {
  let canceled = 0;
  for await (const _ of readSseData(openBody(["data: 1\n\ndata: 2\n\n"], () => void canceled++))) break;
  assert.equal(canceled, 1, "a reader that breaks off");
  await assert.rejects(async () => {
    for await (const _ of readSseData(openBody([`data: ${"x".repeat(200)}`], () => void canceled++), { maxEventBytes: 100 }));
  }, RangeError);
  assert.equal(canceled, 2, "an event over the limit");
});

function chunked(chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start(c) { for (const x of chunks) c.enqueue(new TextEncoder().encode(x)); c.close(); } });
}
async function readChunks(chunks: string[], options: { maxEventBytes?: number } = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const d of readSseData(chunked(chunks), options)) out.push(d);
  return out;
}

test("readSseData() reads a CRLF split between two reads as one line end", async () => {
  assert.deepEqual(await readChunks(["data: 1\r", "\ndata: 2\r\n\r\n"]), ["1\n2"]);
});

test("readSseData() refuses an event over maxEventBytes whose data lines arrive in separate reads", async () => {
  const lines = Array.from({ length: 50 }, () => "data: xxxxxxxxxx\n");
  await assert.rejects(readChunks([...lines, "\n"], { maxEventBytes: 100 }), RangeError);
});

test("readSseData() takes many small events that arrive in one read, each under maxEventBytes", async () => {
  assert.deepEqual(await readChunks(["data: 1\n\n".repeat(20)], { maxEventBytes: 100 }), Array(20).fill("1"));
});
