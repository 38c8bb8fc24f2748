/**
 * The webhook sender over `node:http`: what an attempt's outcome says (2xx, 3xx not followed,
 * Retry-After), keep-alive reuse, answers read away or cut, timeouts, 1xx answers, the one retry
 * on a kept connection the receiver had closed, header injection, the SSRF lookup, and TLS with
 * SNI. Most receivers here are raw `node:net` servers on 127.0.0.1 that write exactly the bytes a
 * case needs; every wait is on an event, bounded.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { WebhookSender } from "../lib/webhook_sender.ts";
import type { WebhookAttempt, WebhookSenderOptions } from "../lib/webhook_sender.ts";
import { createPrng, fuzzSeeds } from "./prng.ts";
import { waitFor } from "./helpers.ts";

const BODY = '{"statusUpdate":{}}';
const TLS = { key: readFileSync(new URL("fixtures/tls_key.pem", import.meta.url)), cert: readFileSync(new URL("fixtures/tls_cert.pem", import.meta.url)) };
const OK = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/** A raw receiver: `answer(socket, n, request)` is called for the n-th whole request (0-based) on each connection. */
interface RawServer {
  url: URL;
  /** Connections accepted, and still open. */
  connections(): number;
  open(): number;
  /** Every whole request, as text. */
  requests: string[];
  close(): Promise<void>;
}

async function rawServer(answer: (socket: Socket, n: number, request: string) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const requests: string[] = [];
  const server = createNetServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffered = "";
    let n = 0;
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      for (;;) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered.slice(0, end + 4 + length);
        buffered = buffered.slice(end + 4 + length);
        requests.push(request);
        answer(socket, n++, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: new URL(`http://127.0.0.1:${port}/hook?x=1`),
    connections: () => connections,
    open: () => sockets.size,
    requests,
    close: () => closeServer(server, sockets),
  };
}

function closeServer(server: Server, sockets?: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets ?? []) socket.destroy();
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

function newSender(options: WebhookSenderOptions = {}): WebhookSender {
  return new WebhookSender({ ssrf: { allowPrivate: true }, timeoutMs: 2000, ...options });
}

function attempt(url: URL | string, extra: Partial<WebhookAttempt> = {}): WebhookAttempt {
  return { id: "msg_1", taskId: "t1", url: String(url), body: BODY, ...extra };
}

const headerOf = (request: string, name: string) => new RegExp(`^${name}: (.*)$`, "mi").exec(request)?.[1];

test("send() posts the body and its headers to the URL's path and query, and a 2xx is ok", async () => {
  const raw = await rawServer((socket) => socket.write("HTTP/1.1 204 No Content\r\n\r\n"));
  const sender = newSender();
  try {
    assert.deepEqual(await sender.send(attempt(raw.url, { token: "tok" })), { ok: true, status: 204 });
    const [request] = raw.requests;
    assert.match(request!, /^POST \/hook\?x=1 HTTP\/1\.1\r\n/);
    assert.equal(headerOf(request!, "webhook-id"), "msg_1");
    assert.equal(headerOf(request!, "x-a2a-notification-token"), "tok");
    assert.equal(headerOf(request!, "content-type"), "application/a2a+json");
    assert.equal(headerOf(request!, "content-length"), String(BODY.length));
    assert.ok(request!.endsWith(`\r\n\r\n${BODY}`));
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() keeps connections alive: 200 attempts at concurrency 8 over maxSocketsPerOrigin 4 use at most 4 connections", async () => {
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
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  const sender = newSender({ maxSocketsPerOrigin: 4 });
  try {
    let sent = 0;
    const statuses = new Set<number | undefined>();
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (sent < 200) {
        sent++;
        statuses.add((await sender.send(attempt(url, { id: `msg_${sent}` }))).status);
      }
    }));
    assert.deepEqual([...statuses].sort(), [200, 202]);
    assert.equal(seen, 200);
    assert.ok(connections <= 4, `${connections} connections`);
  } finally {
    sender.close();
    await closeServer(server as unknown as Server);
  }
});

/** Answers whose body is read away so that the connection is kept: each is sent twice over one connection. */
const REUSABLE: Array<[string, string, number]> = [
  ["a Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200],
  ["a 64 KiB body", `HTTP/1.1 500 Oops\r\nContent-Length: 65536\r\n\r\n${"x".repeat(65_536)}`, 500],
  ["a chunked body with extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n", 200],
  ["100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201],
  ["103 Early Hints first", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK, 200],
];

for (const [name, answer, status] of REUSABLE) {
  for (const split of ["whole", "byte by byte"] as const) {
    if (split === "byte by byte" && answer.length > 1000) continue;
    test(`send() reads away an answer with ${name} (${split}) and reuses its connection`, async () => {
      const raw = await rawServer(async (socket) => {
        if (split === "whole") return socket.write(answer);
        for (const byte of Buffer.from(answer, "latin1")) {
          socket.write(Buffer.from([byte]));
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      const sender = newSender();
      try {
        for (let i = 0; i < 2; i++) assert.equal((await sender.send(attempt(raw.url))).status, status);
        assert.equal(raw.requests.length, 2);
        assert.equal(raw.connections(), 1);
      } finally {
        sender.close();
        await raw.close();
      }
    });
  }
}

test("send() does not follow a 3xx: the attempt fails and says redirects are not followed", async () => {
  const raw = await rawServer((socket) => socket.write("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"));
  const sender = newSender();
  try {
    const outcome = await sender.send(attempt(raw.url));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.status, 302);
    assert.match(outcome.error!, /HTTP 302 \(redirects are not followed\)/);
    assert.equal(raw.requests.length, 1);
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() reads Retry-After on a 429 or 503 (seconds or an HTTP date), clamped to 1 s .. 6 h, and ignores it elsewhere", async () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  const cases: Array<[status: number, retryAfter: string, expected: number | undefined]> = [
    [429, "7", 7000],
    [503, "Wed, 01 Jan 2025 00:02:00 GMT", 120_000],
    [429, "0", 1000],
    [503, "999999999", 6 * 3600 * 1000],
    [429, "soon", undefined],
    [500, "7", undefined],
  ];
  let current = "";
  const raw = await rawServer((socket) => socket.write(current));
  const sender = newSender({ now: () => now });
  try {
    for (const [status, retryAfter, expected] of cases) {
      current = `HTTP/1.1 ${status} Busy\r\nRetry-After: ${retryAfter}\r\nContent-Length: 0\r\n\r\n`;
      const outcome = await sender.send(attempt(raw.url));
      assert.deepEqual([outcome.ok, outcome.status, outcome.retryAfterMs, outcome.error], [false, status, expected, `HTTP ${status}`], `${status} ${retryAfter}`);
    }
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() closes the connection instead of reading a body over 64 KiB, or one that never ends; the status still decides", async () => {
  const big = await rawServer((socket) => socket.write(`HTTP/1.1 500 Oops\r\nContent-Length: 70000\r\n\r\n${"x".repeat(70_000)}`));
  const endless = await rawServer((socket) => {
    socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const chunk = `4000\r\n${"y".repeat(0x4000)}\r\n`;
    const more = () => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once("drain", more);
    };
    more();
  });
  const sender = newSender({ timeoutMs: 5000 });
  try {
    const started = Date.now();
    assert.deepEqual(await sender.send(attempt(big.url)), { ok: false, status: 500, error: "HTTP 500" });
    assert.deepEqual(await sender.send(attempt(endless.url)), { ok: true, status: 200 });
    assert.ok(Date.now() - started < 4000, "cut long before the timeout");
    await waitFor(() => big.open() === 0 && endless.open() === 0, { timeoutMs: 2000, what: "both connections to close" });
    assert.equal((await sender.send(attempt(big.url))).status, 500);
    assert.equal(big.connections(), 2);
  } finally {
    sender.close();
    await big.close();
    await endless.close();
  }
});

test("send() fails an attempt whose receiver never answers after timeoutMs, and closes its connection", async () => {
  const raw = await rawServer(() => {});
  const sender = newSender({ timeoutMs: 150 });
  try {
    const started = Date.now();
    assert.deepEqual(await sender.send(attempt(raw.url)), { ok: false, error: "no answer within 150 ms", timedOut: true });
    assert.ok(Date.now() - started < 2000);
    await waitFor(() => raw.open() === 0, { timeoutMs: 2000, what: "the timed-out connection to close" });
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() gives up sooner when the attempt's own timeoutMs is shorter than the sender's, never later", async () => {
  const raw = await rawServer(() => {});
  const patient = newSender({ timeoutMs: 60_000 });
  const hasty = newSender({ timeoutMs: 150 });
  try {
    const started = Date.now();
    assert.deepEqual(await patient.send(attempt(raw.url, { timeoutMs: 100 })), { ok: false, error: "no answer within 100 ms", timedOut: true });
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(await hasty.send(attempt(raw.url, { timeoutMs: 60_000 })), { ok: false, error: "no answer within 150 ms", timedOut: true });
  } finally {
    patient.close();
    hasty.close();
    await raw.close();
  }
});

test("send() cuts a body that stalls after the headers at timeoutMs; the status still decides", async () => {
  const raw = await rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  const sender = newSender({ timeoutMs: 150 });
  try {
    assert.deepEqual(await sender.send(attempt(raw.url)), { ok: true, status: 200 });
    await waitFor(() => raw.open() === 0, { timeoutMs: 2000, what: "the stalled connection to close" });
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() bounds 1xx answers: an endless stream fails the attempt at once, a slow one at timeoutMs", async () => {
  const stream = (gapMs: number) => rawServer((socket) => {
    const timer = setInterval(() => socket.write("HTTP/1.1 102 Processing\r\n\r\n"), gapMs);
    socket.on("close", () => clearInterval(timer));
  });
  const fast = await stream(1);
  const slow = await stream(40);
  const sender = newSender({ timeoutMs: 300 });
  try {
    const outcome = await sender.send(attempt(fast.url));
    assert.match(outcome.error!, /more than 8 informational \(1xx\) answers/);
    assert.deepEqual(await sender.send(attempt(slow.url)), { ok: false, error: "no answer within 300 ms", timedOut: true });
    await waitFor(() => fast.open() === 0 && slow.open() === 0, { timeoutMs: 2000, what: "both connections to close" });
  } finally {
    sender.close();
    await fast.close();
    await slow.close();
  }
});

test("send() retries once, on a fresh connection and with the same webhook-id, when a kept connection closes under the request", async () => {
  const raw = await rawServer((socket, n) => {
    if (n === 0) socket.write(OK);
    else socket.destroy(); // The second request on a connection: closed unanswered, as by an idle timeout.
  });
  const sender = newSender();
  try {
    // Two kept connections, both stale by the next attempt: the retry must not take the other one.
    const first = await Promise.all(["msg_1", "msg_2"].map((id) => sender.send(attempt(raw.url, { id }))));
    assert.ok(first.every((outcome) => outcome.ok));
    assert.equal(raw.connections(), 2);
    assert.deepEqual(await sender.send(attempt(raw.url, { id: "msg_3" })), { ok: true, status: 200 });
    // Deno's node:http first sends it once more itself, over the other stale connection.
    const sent = "Deno" in globalThis ? ["msg_3", "msg_3", "msg_3"] : ["msg_3", "msg_3"];
    assert.deepEqual(raw.requests.slice(2).map((r) => headerOf(r, "webhook-id")), sent);
    assert.equal(raw.connections(), 3);
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() retries a closed kept connection only once, and never a new connection closed before an answer", async () => {
  let requests = 0;
  const raw = await rawServer((socket) => {
    if (++requests === 1) socket.write(OK);
    else socket.destroy();
  });
  const fresh = await rawServer((socket) => socket.destroy());
  const sender = newSender();
  try {
    assert.equal((await sender.send(attempt(raw.url))).ok, true);
    const outcome = await sender.send(attempt(raw.url));
    assert.equal(outcome.ok, false);
    assert.match(outcome.error!, /socket hang up|ECONNRESET|EPIPE/);
    assert.equal(raw.requests.length, 3);
    assert.equal((await sender.send(attempt(fresh.url))).ok, false);
    assert.equal(fresh.requests.length, 1);
  } finally {
    sender.close();
    await raw.close();
    await fresh.close();
  }
});

test("send() is not held up by a failed request its runtime sends again on its own (Deno, after a parse error on a kept connection)", async () => {
  const seen = new Set<string>();
  const raw = await rawServer((socket, _n, request) => {
    const id = headerOf(request, "webhook-id")!;
    if (seen.has(id)) return; // The copy sent again is never answered.
    seen.add(id);
    socket.write(id === "msg_b" ? "SMTP 220 hello\r\n\r\n" : OK);
  });
  const sender = newSender({ maxSocketsPerOrigin: 1, timeoutMs: 1000 });
  try {
    const outcomes = [];
    for (const id of ["msg_a", "msg_b", "msg_c", "msg_d", "msg_e"]) outcomes.push(await sender.send(attempt(raw.url, { id })));
    assert.deepEqual(outcomes.map((outcome) => outcome.ok), [true, false, true, true, true]);
    assert.match(outcomes[1]!.error!, /Parse Error/);
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() honours Keep-Alive: timeout: under 2 s the connection is not kept, else closed 1 s before it", async () => {
  let hint = "timeout=1";
  let closed = 0;
  const raw = await rawServer((socket) => {
    socket.once("close", () => closed++);
    socket.write(`HTTP/1.1 200 OK\r\nKeep-Alive: ${hint}\r\nContent-Length: 0\r\n\r\n`);
  });
  const sender = newSender();
  try {
    assert.equal((await sender.send(attempt(raw.url))).ok, true);
    await waitFor(() => closed === 1, { timeoutMs: 2000, what: "the unkept connection to close" });
    hint = "timeout=2";
    const sent = Date.now();
    assert.equal((await sender.send(attempt(raw.url))).ok, true);
    await waitFor(() => closed === 2, { timeoutMs: 3000, what: "the idle connection to close" });
    assert.ok(Date.now() - sent < 2000, "closed before the receiver's 2 s");
    assert.equal(raw.connections(), 2);
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() refuses header values with CR, LF or other control characters before connecting", async () => {
  const raw = await rawServer((socket) => socket.write(OK));
  const sender = newSender();
  try {
    const injected = await sender.send(attempt(raw.url, { token: "a\r\nx-evil: 1" }));
    assert.deepEqual(injected, { ok: false, error: "Cannot send header x-a2a-notification-token: its value holds a CR, LF or other control or non-Latin-1 character" });
    const credentials = await sender.send(attempt(raw.url, { authentication: { scheme: "Bearer", credentials: "a\nb" } }));
    assert.match(credentials.error!, /Cannot send header authorization/);
    assert.match((await sender.send(attempt(raw.url, { id: "msg_\u0000" }))).error!, /Cannot send header webhook-id/);
    assert.equal(raw.connections(), 0);
  } finally {
    sender.close();
    await raw.close();
  }
});

test("send() refuses a host name resolving to loopback, and an IP literal, unless private targets are allowed", async () => {
  const raw = await rawServer((socket) => socket.write(OK));
  const asked: string[] = [];
  const resolver = async (hostname: string) => {
    asked.push(hostname);
    return [{ address: "127.0.0.1", family: 4 }];
  };
  const named = `http://hook.test:${raw.url.port}/hook`;
  const guarded = new WebhookSender({ resolver, timeoutMs: 2000 });
  const open = new WebhookSender({ resolver, timeoutMs: 2000, ssrf: { allowPrivate: true } });
  try {
    assert.match((await guarded.send(attempt(named))).error!, /hook\.test resolves to 127\.0\.0\.1, which is a loopback address/);
    assert.match((await guarded.send(attempt(raw.url))).error!, /127\.0\.0\.1 is a loopback address/);
    assert.equal(raw.connections(), 0);
    assert.deepEqual(await open.send(attempt(named)), { ok: true, status: 200 });
    assert.deepEqual(asked, ["hook.test", "hook.test"]);
    assert.equal(headerOf(raw.requests[0]!, "host"), `hook.test:${raw.url.port}`);
  } finally {
    guarded.close();
    open.close();
    await raw.close();
  }
});

test("send() over https: verifies the certificate, sends SNI for a host name only, and keeps the connection", async () => {
  const servernames: Array<string | false> = [];
  const server = createHttpsServer(TLS, (req, res) => req.resume().on("end", () => res.writeHead(200).end("ok")));
  server.on("secureConnection", (socket: TLSSocket) => servernames.push(socket.servername ?? false));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const asked: string[] = [];
  const resolver = async (hostname: string) => {
    asked.push(hostname);
    return [{ address: "127.0.0.1", family: 4 }];
  };
  const untrusting = newSender({ resolver });
  const trusting = newSender({ resolver, ca: TLS.cert });
  try {
    const refused = await untrusting.send(attempt(`https://localhost:${port}/hook`));
    assert.equal(refused.ok, false);
    assert.match(refused.error!, /self[- ]signed/i);
    for (const host of ["localhost", "127.0.0.1"]) {
      for (let i = 0; i < 2; i++) assert.deepEqual(await trusting.send(attempt(`https://${host}:${port}/hook`)), { ok: true, status: 200 });
    }
    assert.deepEqual(servernames, ["localhost", false]); // One kept connection per origin; the refused handshake never completed.
    assert.deepEqual(asked, ["localhost", "localhost"]); // The guard's lookup, once per new TLS connection to a name.
  } finally {
    untrusting.close();
    trusting.close();
    await closeServer(server as unknown as Server);
  }
});

test("close() fails attempts in flight", async () => {
  const raw = await rawServer(() => {});
  const sender = newSender({ timeoutMs: 10_000 });
  const pending = sender.send(attempt(raw.url));
  await waitFor(() => raw.requests.length === 1, { timeoutMs: 2000, what: "the request to arrive" });
  const started = Date.now();
  sender.close();
  assert.equal((await pending).ok, false);
  assert.ok(Date.now() - started < 1000);
  await raw.close();
});

test("new WebhookSender() refuses a timeout or a connection limit that is not positive", () => {
  assert.throws(() => new WebhookSender({ timeoutMs: 0 }), RangeError);
  assert.throws(() => new WebhookSender({ maxSocketsPerOrigin: 0 }), RangeError);
  assert.throws(() => new WebhookSender({ maxSocketsPerOrigin: 1.5 }), RangeError);
});

/** Answers that break HTTP/1.1 or close at odd moments, for the fuzz below. */
const BROKEN = [
  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
  "HTTP/1.1 200 OK\r\n\r\nsome body until close",
  "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
  "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  "SMTP 220 hello\r\n\r\n",
  "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
  `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(17_000)}\r\n\r\n`,
  "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
  "HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n",
];

for (const seed of fuzzSeeds()) test(`send() fuzz (seed ${seed}): answers cut at random points and random bytes always settle, and no connection leaks`, async () => {
  const rng = createPrng(seed);
  const answers = [...REUSABLE.map(([, a]) => a), ...BROKEN];
  let current = Buffer.alloc(0);
  const raw = await rawServer(async (socket) => {
    let at = 0;
    while (at < current.length && !socket.destroyed) {
      const take = rng.int(1, 4000);
      socket.write(current.subarray(at, at + take));
      at += take;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (rng.chance(0.7)) socket.end(); // Else the sender's timeout ends a cut answer.
  });
  const sender = newSender({ maxSocketsPerOrigin: 1, timeoutMs: 100 });
  try {
    for (let i = 0; i < 100; i++) {
      const base = Buffer.from(rng.pick(answers), "latin1");
      current = rng.chance(0.3)
        ? Buffer.from(rng.bytes(rng.int(0, 200)))
        : rng.chance(0.5) ? base.subarray(0, rng.int(0, base.length - 1)) : base;
      const outcome = await sender.send(attempt(raw.url, { id: `msg_${i}` }));
      const what = `seed ${seed} case ${i}: ${JSON.stringify(outcome)}`;
      assert.equal(typeof outcome.ok, "boolean", what);
      assert.ok(outcome.ok || typeof outcome.error === "string", what);
      // One kept connection at most; a retry's one-off connection and closing ones settle quickly.
      await waitFor(() => raw.open() <= 1, { timeoutMs: 2000, what: `connections to close (${what})` });
    }
    sender.close();
    await waitFor(() => raw.open() === 0, { timeoutMs: 2000, what: "every connection to close after close()" });
  } finally {
    sender.close();
    await raw.close();
  }
});
