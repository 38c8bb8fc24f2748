/**
 * The webhook HTTP/1.1 client: keep-alive reuse, every framing of an answer, servers that break
 * the protocol or close at the wrong moment, timeouts, header injection, TLS and the SSRF lookup.
 * Most servers here are raw `node:net` servers that write exactly the bytes a case needs.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import type { LookupFunction, Server, Socket } from "node:net";
import { Http1Client } from "../lib/http1.ts";
import { HttpProtocolError } from "../lib/http1_answer.ts";
import { createPrng, fuzzSeeds } from "./prng.ts";
import { waitFor } from "./helpers.ts";

const BODY = Buffer.from('{"statusUpdate":{}}');
const TLS = { key: readFileSync(new URL("fixtures/tls_key.pem", import.meta.url)), cert: readFileSync(new URL("fixtures/tls_cert.pem", import.meta.url)) };

/** A raw server: `answer(socket, n)` is called for the n-th whole request (0-based) on each connection. */
async function rawServer(answer: (socket: Socket, n: number, request: string) => void): Promise<{ url: URL; server: Server; connections: () => number; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const server = createNetServer((socket) => {
    connections++;
    let buffered = "";
    let n = 0;
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered.slice(0, end + 4 + length);
        buffered = buffered.slice(end + 4 + length);
        requests++;
        answer(socket, n++, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: new URL(`http://127.0.0.1:${port}/hook?x=1`), server, connections: () => connections, requests: () => requests };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

test("keep-alive: 200 requests at concurrency 4 use at most 4 connections, with Content-Length and chunked answers", async () => {
  let connections = 0;
  let seen = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen++;
      if (seen % 2 === 0) res.writeHead(200).end(); // chunked: "0\r\n\r\n"
      else res.writeHead(202, { "content-type": "text/plain" }).end("accepted, thanks"); // Content-Length
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`);
  const client = new Http1Client({ maxSocketsPerOrigin: 4 });
  try {
    let sent = 0;
    const statuses = new Set<number>();
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (sent < 200) {
        sent++;
        statuses.add((await client.post(url, { "content-type": "application/json" }, BODY, 5000)).status);
      }
    }));
    assert.deepEqual([...statuses].sort(), [200, 202]);
    assert.equal(seen, 200);
    assert.ok(connections <= 4, `${connections} connections`);
    assert.ok(client.openConnections <= 4);
  } finally {
    client.close();
    await closeServer(server as unknown as Server);
  }
});

test("the request carries the path, query, host, headers and body exactly", async () => {
  let request = "";
  const raw = await rawServer((socket, _n, text) => {
    request = text;
    socket.write("HTTP/1.1 204 No Content\r\n\r\n");
  });
  const client = new Http1Client();
  try {
    const { status } = await client.post(raw.url, { "webhook-id": "msg_1", authorization: "Bearer a.b.c" }, BODY, 2000);
    assert.equal(status, 204);
    assert.equal(request, `POST /hook?x=1 HTTP/1.1\r\nhost: ${raw.url.host}\r\nwebhook-id: msg_1\r\nauthorization: Bearer a.b.c\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

/** Answers that keep the connection: each case is sent twice and must use one connection. */
const REUSABLE: Array<[string, string, number, Record<string, string>]> = [
  ["Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, {}],
  ["no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, {}],
  ["100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, {}],
  ["103 Early Hints first", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, {}],
  ["chunked with extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n", 200, {}],
  ["repeated fields joined, names lower-cased", "HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n", 429, { "retry-after": "7", "x-a": "1, 2" }],
  ["equal Content-Length repeats", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", 200, {}],
  ["204 ignores Content-Length", "HTTP/1.1 204 No Content\r\n\r\n", 204, {}],
  ["HTTP/1.0 with keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 200, {}],
];

for (const [name, answer, status, fields] of REUSABLE) {
  for (const split of ["whole", "byte by byte"] as const) {
    test(`an answer with ${name} (${split}) is read and its connection reused`, async () => {
      const raw = await rawServer(async (socket) => {
        if (split === "whole") return socket.write(answer);
        for (const byte of Buffer.from(answer, "latin1")) {
          socket.write(Buffer.from([byte]));
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      const client = new Http1Client();
      try {
        for (let i = 0; i < 2; i++) {
          const response = await client.post(raw.url, {}, BODY, 2000);
          assert.equal(response.status, status);
          for (const [key, value] of Object.entries(fields)) assert.equal(response.headers.get(key), value);
          // The answer settles at its headers; the connection is free once its body is read away.
          await waitFor(() => client.idleConnections === 1, { timeoutMs: 2000, what: "the body to be read away" });
        }
        assert.equal(raw.requests(), 2);
        assert.equal(raw.connections(), 1);
      } finally {
        client.close();
        await closeServer(raw.server);
      }
    });
  }
}

/** Answers that settle the request but cannot keep the connection. */
const CLOSING: Array<[string, string, number]> = [
  ["Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 200],
  ["a body until close", "HTTP/1.1 200 OK\r\n\r\nsome body", 200],
  ["HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200],
  ["bytes after the body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200],
  ["a body over the discard limit", `HTTP/1.1 500 Oops\r\nContent-Length: 70000\r\n\r\n${"x".repeat(70_000)}`, 500],
  ["conflicting Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok", 200],
  ["a coding other than chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 200],
  ["a malformed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200],
  ["Keep-Alive: timeout=1", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n", 200],
  ["204 over HTTP/1.0", "HTTP/1.0 204 No Content\r\n\r\n", 204],
];

for (const [name, answer, status] of CLOSING) {
  test(`an answer with ${name} settles the request and closes its connection`, async () => {
    const raw = await rawServer((socket) => socket.write(answer));
    const client = new Http1Client();
    try {
      assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, status);
      await waitFor(() => client.openConnections === 0, { timeoutMs: 2000, what: "the connection to close" });
      assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, status);
      assert.equal(raw.connections(), 2);
    } finally {
      client.close();
      await closeServer(raw.server);
    }
  });
}

const BROKEN: Array<[string, string, RegExp]> = [
  ["not an HTTP status line", "SMTP 220 hello\r\n\r\n", /status line/],
  ["a header line without a colon", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /not a header field/],
  ["a folded header line", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n", /not a header field/],
  ["a space before the colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", /not a header field/],
  ["101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", /switched protocols/],
  ["a status under 100", "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", /status line/],
  ["headers over 16 KiB", `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(17_000)}\r\n\r\n`, /exceed 16384 bytes/],
  ["endless headers", `HTTP/1.1 200 OK\r\n${"X-A: 1\r\n".repeat(3000)}`, /exceed 16384 bytes/],
];

for (const [name, answer, message] of BROKEN) {
  test(`an answer with ${name} rejects with HttpProtocolError and closes the connection`, async () => {
    const raw = await rawServer((socket) => socket.write(answer));
    const client = new Http1Client();
    try {
      await assert.rejects(client.post(raw.url, {}, BODY, 2000), (error: Error) => error instanceof HttpProtocolError && message.test(error.message));
      await waitFor(() => client.openConnections === 0, { timeoutMs: 2000, what: "the connection to close" });
    } finally {
      client.close();
      await closeServer(raw.server);
    }
  });
}

test("a server that answers nothing is timed out, and the slot is free again", async () => {
  const raw = await rawServer(() => {});
  const client = new Http1Client({ maxSocketsPerOrigin: 1 });
  try {
    const started = Date.now();
    await assert.rejects(client.post(raw.url, {}, BODY, 150), /no answer within 150 ms/);
    assert.ok(Date.now() - started < 2000);
    await waitFor(() => client.openConnections === 0, { timeoutMs: 2000, what: "the timed-out connection to close" });
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("requests beyond maxSocketsPerOrigin wait for a connection, and time out while waiting", async () => {
  let hold: Socket | undefined;
  const raw = await rawServer((socket, n) => {
    if (n === 0 && !hold) hold = socket; // The first request is never answered.
    else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  const client = new Http1Client({ maxSocketsPerOrigin: 1 });
  try {
    const first = client.post(raw.url, {}, BODY, 400);
    await assert.rejects(client.post(raw.url, {}, BODY, 100), /no answer within 100 ms/);
    await assert.rejects(first, /no answer within 400 ms/);
    assert.equal(raw.connections(), 1); // The waiting request never got a connection of its own.
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("a kept connection the server closed as the next request went out is retried once on a new one", async () => {
  const raw = await rawServer((socket, n) => {
    if (n === 0) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    else socket.destroy(); // The second request on the first connection: closed unanswered.
  });
  const client = new Http1Client();
  try {
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200);
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200);
    assert.equal(raw.connections(), 2);
    assert.equal(raw.requests(), 3);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("a new connection closed before an answer rejects without a retry", async () => {
  const raw = await rawServer((socket) => socket.destroy());
  const client = new Http1Client();
  try {
    await assert.rejects(client.post(raw.url, {}, BODY, 2000), /closed before an answer|ECONNRESET|EPIPE/);
    assert.equal(raw.requests(), 1);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("a refused connection rejects with the system's reason", async () => {
  const raw = await rawServer(() => {});
  await closeServer(raw.server);
  const client = new Http1Client();
  await assert.rejects(client.post(raw.url, {}, BODY, 2000), /ECONNREFUSED/);
  client.close();
});

test("bytes on an idle connection close it, and the next request opens another", async () => {
  const raw = await rawServer((socket, n) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    if (n === 0) setImmediate(() => socket.write("HTTP/1.1 200 OK\r\n\r\n")); // Unasked.
  });
  const client = new Http1Client();
  try {
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200);
    await waitFor(() => client.openConnections === 0, { timeoutMs: 2000, what: "the connection to close" });
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200);
    assert.equal(raw.connections(), 2);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("an idle connection closes after idleMs", async () => {
  let closed = false;
  const raw = await rawServer((socket) => {
    socket.on("close", () => (closed = true));
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  const client = new Http1Client({ idleMs: 50 });
  try {
    await client.post(raw.url, {}, BODY, 2000);
    assert.equal(client.openConnections, 1);
    await waitFor(() => closed && client.openConnections === 0, { timeoutMs: 2000, what: "the idle connection to close" });
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("header names and values that could inject a header or a request are refused before connecting", async () => {
  const raw = await rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  const client = new Http1Client();
  try {
    await assert.rejects(client.post(raw.url, { "x-token": "a\r\nx-evil: 1" }, BODY, 2000), /x-token: its value holds a control/);
    await assert.rejects(client.post(raw.url, { "x-token": "a\nb" }, BODY, 2000), TypeError);
    await assert.rejects(client.post(raw.url, { "x-token": "caf\u0117" }, BODY, 2000), TypeError);
    await assert.rejects(client.post(raw.url, { "bad name": "1" }, BODY, 2000), /not an HTTP token/);
    for (const own of ["Host", "content-length", "Transfer-Encoding", "connection"]) {
      await assert.rejects(client.post(raw.url, { [own]: "1" }, BODY, 2000), /the client sets it/);
    }
    assert.equal(raw.connections(), 0);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("a body that stalls after the headers frees its connection after idleMs", async () => {
  const raw = await rawServer((socket, n) => {
    if (n === 0) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"); // 7 bytes never come.
    else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  const client = new Http1Client({ maxSocketsPerOrigin: 1, idleMs: 100 });
  try {
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200);
    assert.equal((await client.post(raw.url, {}, BODY, 2000)).status, 200); // Waits for the slot, then a new connection.
    assert.equal(raw.connections(), 2);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("an origin in use is never evicted: its limit holds and close() still reaches it", async () => {
  const hanging = await rawServer(() => {});
  const other = await rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  const client = new Http1Client({ maxOrigins: 1, maxSocketsPerOrigin: 1 });
  try {
    const first = client.post(hanging.url, {}, BODY, 5000);
    const second = client.post(hanging.url, {}, BODY, 5000); // Waits for the only connection.
    assert.equal((await client.post(other.url, {}, BODY, 2000)).status, 200);
    const third = client.post(hanging.url, {}, BODY, 5000);
    await waitFor(() => hanging.requests() === 1, { timeoutMs: 2000, what: "the first request to arrive" });
    assert.equal(hanging.connections(), 1);
    const started = Date.now();
    client.close();
    for (const pending of [first, second, third]) await assert.rejects(pending, /the client was closed/);
    assert.ok(Date.now() - started < 1000);
  } finally {
    client.close();
    await closeServer(hanging.server);
    await closeServer(other.server);
  }
});

test("past maxOrigins the least recently used origin's idle connections close", async () => {
  const raws = await Promise.all([0, 1, 2].map(() => rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))));
  const client = new Http1Client({ maxOrigins: 2 });
  try {
    for (const raw of raws) await client.post(raw.url, {}, BODY, 2000);
    assert.equal(client.openConnections, 2);
    await client.post(raws[0]!.url, {}, BODY, 2000); // The evicted origin works again, on a new connection.
    assert.equal(raws[0]!.connections(), 2);
  } finally {
    client.close();
    await Promise.all(raws.map((raw) => closeServer(raw.server)));
  }
});

test("close() fails requests in flight", async () => {
  const raw = await rawServer(() => {});
  const client = new Http1Client();
  const pending = client.post(raw.url, {}, BODY, 5000);
  await waitFor(() => raw.requests() === 1, { timeoutMs: 2000, what: "the request to arrive" });
  client.close();
  await assert.rejects(pending, /the client was closed/);
  await closeServer(raw.server);
});

test("host names go through the lookup hook (the SSRF guard), and its refusal is the rejection", async () => {
  const raw = await rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  const asked: string[] = [];
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    asked.push(hostname);
    if (hostname === "blocked.test") return callback(new Error("blocked by the guard"), options.all ? [] : "");
    if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
    else callback(null, "127.0.0.1", 4);
  }) as unknown as LookupFunction;
  const client = new Http1Client({ lookup });
  try {
    const url = new URL(`http://hook.test:${raw.url.port}/hook`);
    assert.equal((await client.post(url, {}, BODY, 2000)).status, 200);
    await assert.rejects(client.post(new URL(`http://blocked.test:${raw.url.port}/`), {}, BODY, 2000), /blocked by the guard/);
    assert.deepEqual(asked, ["hook.test", "blocked.test"]);
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});

test("https: the certificate is verified; with its CA trusted the POST goes through a kept connection", async () => {
  let connections = 0;
  const server = createHttpsServer(TLS, (req, res) => req.resume().on("end", () => res.writeHead(200).end("ok")));
  server.on("secureConnection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const untrusting = new Http1Client();
  const trusting = new Http1Client({ ca: TLS.cert });
  try {
    await assert.rejects(untrusting.post(new URL(`https://127.0.0.1:${port}/`), {}, BODY, 2000), /self[- ]signed/i);
    for (const host of ["127.0.0.1", "localhost"]) {
      assert.equal((await trusting.post(new URL(`https://${host}:${port}/hook`), {}, BODY, 2000)).status, 200);
      assert.equal((await trusting.post(new URL(`https://${host}:${port}/hook`), {}, BODY, 2000)).status, 200);
    }
    assert.equal(connections, 2); // One kept connection per origin (the refused handshake never completed).
  } finally {
    untrusting.close();
    trusting.close();
    await closeServer(server as unknown as Server);
  }
});

for (const seed of fuzzSeeds()) test(`fuzz (seed ${seed}): answers cut at random points and random bytes always settle, never throw, never leak a connection`, async () => {
  const rng = createPrng(seed);
  const answers = [...REUSABLE.map(([, a]) => a), ...CLOSING.map(([, a]) => a), ...BROKEN.map(([, a]) => a)];
  let current = Buffer.alloc(0);
  const raw = await rawServer(async (socket) => {
    let at = 0;
    while (at < current.length && !socket.destroyed) {
      const take = rng.int(1, 40);
      socket.write(current.subarray(at, at + take));
      at += take;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (rng.chance(0.7)) socket.end(); // Else the client's timeout ends a cut answer.
  });
  const client = new Http1Client({ maxSocketsPerOrigin: 1 });
  try {
    for (let i = 0; i < 100; i++) {
      const base = Buffer.from(rng.pick(answers), "latin1");
      current = rng.chance(0.3)
        ? Buffer.from(rng.bytes(rng.int(0, 200)))
        : rng.chance(0.5) ? base.subarray(0, rng.int(0, base.length - 1)) : base;
      const outcome = await client.post(raw.url, {}, BODY, 100).then((r) => r.status, (error: Error) => error.message);
      assert.ok(typeof outcome === "number" || typeof outcome === "string", `seed ${seed} case ${i}`);
      assert.ok(client.openConnections <= 1, `seed ${seed} case ${i}: ${client.openConnections} connections`);
    }
  } finally {
    client.close();
    await closeServer(raw.server);
  }
});
