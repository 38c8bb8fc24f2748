import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, RequestListener } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { A2AError } from "../lib/errors.ts";
import { checkA2AVersion, checkContentType, HttpError, readBody, routeRequest, sendStatus, writeSse } from "../lib/http_util.ts";
import type { EventStream, Route } from "../lib/http_util.ts";

/** A request body under the test's control, with the headers `readBody` looks at. */
function fakeRequest(headers: Record<string, string> = {}): PassThrough & IncomingMessage {
  return Object.assign(new PassThrough(), { headers }) as unknown as PassThrough & IncomingMessage;
}

/** Serves `listener` on a free loopback port. */
async function serve(listener: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Sends `GET <target>` as written (fetch would normalise it) and returns the answer's text. */
async function rawGet(url: string, target: string): Promise<string> {
  const socket = connect(Number(new URL(url).port), "127.0.0.1");
  socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  let text = "";
  for await (const chunk of socket) text += chunk;
  return text;
}

test("readBody() refuses a declared Content-Length over the limit with 413 before reading a byte", async () => {
  const req = fakeRequest({ "content-length": "2000" });
  await assert.rejects(readBody(req, 1000), (error: HttpError) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 413);
    assert.match(error.message, /2000 bytes exceeds the limit of 1000 bytes/);
    return true;
  });
  assert.equal(req.listenerCount("data"), 0, "nothing listens for the body");
});

test("readBody() refuses a streamed body with 413 once it passes the limit, and returns one within it", async () => {
  const big = fakeRequest({ "transfer-encoding": "chunked" });
  const refused = readBody(big, 1000);
  big.write(Buffer.alloc(600));
  big.write(Buffer.alloc(600));
  await assert.rejects(refused, (error: HttpError) => error.status === 413 && /exceeds the limit of 1000 bytes/.test(error.message));

  const small = fakeRequest();
  const read = readBody(small, 1000);
  small.end("{}");
  assert.equal((await read).toString(), "{}");
});

test("readBody() answers 400 when the body cannot be read", async () => {
  const req = fakeRequest();
  const read = readBody(req, 1000);
  req.destroy(new Error("socket hang up"));
  await assert.rejects(read, (error: HttpError) => error.status === 400 && /socket hang up/.test(error.message));
});

test("sendStatus() sends {error}, sets Allow when given, closes the connection on 413, and takes a binding's shape", async () => {
  const server = await serve((req, res) => {
    if (req.url === "/405") sendStatus(res, 405, "Use POST", { allow: "POST" });
    else if (req.url === "/413") sendStatus(res, 413, "Too large");
    else sendStatus(res, 400, "Bad", { errorBody: (status, reason) => ({ error: { code: status, message: reason } }) });
  });
  try {
    const refused = await fetch(`${server.url}/405`);
    assert.equal(refused.status, 405);
    assert.equal(refused.headers.get("allow"), "POST");
    assert.deepEqual(await refused.json(), { error: "Use POST" });
    const tooLarge = await fetch(`${server.url}/413`);
    assert.equal(tooLarge.headers.get("connection"), "close");
    assert.equal(tooLarge.headers.get("allow"), null);
    assert.deepEqual(await (await fetch(`${server.url}/400`)).json(), { error: { code: 400, message: "Bad" } });
  } finally {
    await server.close();
  }
});

test("routeRequest() takes the first matching row, answers 404, 405 with Allow, 400 and a handler's HttpError", async () => {
  const table: Route[] = [
    { path: "/a", methods: { GET: (_req, res) => void res.end("first") } },
    { path: /^\/a|^\/items\/([^/]+)$/, methods: { GET: (_req, res, { params }) => void res.end(`item ${params[0]}`), DELETE: () => {} } },
    { path: "/limited", methods: { POST: async (_req, res, { body }) => void res.end(String((await body()).length)) } },
    { path: "/shaped", methods: { GET: () => { throw new HttpError(418, "No coffee"); } }, errorBody: (status, reason) => ({ status, reason }) },
  ];
  const server = await serve((req, res) => void routeRequest(table, req, res, { maxBodyBytes: 10 }));
  try {
    assert.equal(await (await fetch(`${server.url}/a`)).text(), "first");
    assert.equal(await (await fetch(`${server.url}/items/x%20y`)).text(), "item x%20y");
    const wrongVerb = await fetch(`${server.url}/items/1`, { method: "POST" });
    assert.equal(wrongVerb.status, 405);
    assert.equal(wrongVerb.headers.get("allow"), "GET, DELETE");
    const missing = await fetch(`${server.url}/nowhere`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "No route for /nowhere" });
    assert.equal((await fetch(`${server.url}/limited`, { method: "POST", body: "12345" })).status, 200);
    assert.equal((await fetch(`${server.url}/limited`, { method: "POST", body: "x".repeat(11) })).status, 413);
    assert.match(await rawGet(server.url, "//"), /^HTTP\/1\.1 400 /);
    const shaped = await fetch(`${server.url}/shaped`);
    assert.equal(shaped.status, 418);
    assert.deepEqual(await shaped.json(), { status: 418, reason: "No coffee" });
  } finally {
    await server.close();
  }
});

test("checkContentType() takes JSON and A2A JSON (and no header), and refuses anything else with 415", () => {
  const withType = (type?: string) => ({ headers: type === undefined ? {} : { "content-type": type } }) as IncomingMessage;
  for (const type of [undefined, "application/json", "Application/A2A+JSON; charset=utf-8"]) checkContentType(withType(type));
  assert.throws(() => checkContentType(withType("text/plain")), (error: HttpError) => error.status === 415 && /text\/plain/.test(error.message));
});

test("checkA2AVersion() accepts the versions given, with a patch or as a .0's major, and refuses others with -32009", () => {
  for (const version of [undefined, "", "1", "1.0", " 1.0.3 ", "0.3", "0.3.1", ["1.0", "0.3"]]) checkA2AVersion(version, ["1.0", "0.3"]);
  for (const version of ["0.3", "0", "1.1", "1.0.x", "10", "2.0"]) {
    assert.throws(() => checkA2AVersion(version, ["1.0"]), (error: A2AError) => {
      assert.ok(error instanceof A2AError);
      assert.equal(error.code, -32009);
      assert.equal(error.details?.version, version);
      return true;
    }, version);
  }
});

/** A stream whose values the test pushes; `closed` settles when the writer closes it. */
function channel<T>(): EventStream<T> & { push(value: T): void; end(): void; closed: Promise<void> } {
  const queue: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const nudge = () => wake?.();
  return {
    closed,
    push(value) {
      queue.push(value);
      nudge();
    },
    end() {
      ended = true;
      nudge();
    },
    close() {
      ended = true;
      markClosed();
      nudge();
    },
    async *[Symbol.asyncIterator]() {
      while (true) {
        if (queue.length > 0) yield queue.shift()!;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

/** Reads a response body until its text so far contains `wanted`. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, seen: { text: string }, wanted: string): Promise<void> {
  const decoder = new TextDecoder();
  while (!seen.text.includes(wanted)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Stream ended before ${JSON.stringify(wanted)}; got ${JSON.stringify(seen.text)}`);
    seen.text += decoder.decode(value, { stream: true });
  }
}

test("writeSse() sends each value as formatted, a heartbeat comment while quiet, and ends with the stream", { timeout: 10_000 }, async () => {
  const stream = channel<number>();
  const server = await serve((_req, res) => void writeSse(res, stream, { format: (n) => ({ n }), heartbeatMs: 5 }));
  try {
    const response = await fetch(server.url);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.getReader();
    const seen = { text: "" };
    await readUntil(reader, seen, ": keep-alive\n\n");
    stream.push(1);
    await readUntil(reader, seen, 'data: {"n":1}\n\n');
    stream.push(2);
    stream.end();
    await readUntil(reader, seen, 'data: {"n":2}\n\n');
    assert.equal((await reader.read()).done, true, "the response ends with the stream");
  } finally {
    await server.close();
  }
});

test("writeSse() closes the stream when the client leaves", { timeout: 10_000 }, async () => {
  const stream = channel<string>();
  const server = await serve((_req, res) => void writeSse(res, stream));
  try {
    const controller = new AbortController();
    const response = await fetch(server.url, { signal: controller.signal });
    const reader = response.body!.getReader();
    stream.push("hello");
    await readUntil(reader, { text: "" }, 'data: "hello"\n\n');
    controller.abort();
    await stream.closed;
  } finally {
    await server.close();
  }
});
