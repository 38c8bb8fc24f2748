/**
 * A2AClient against scripted loopback servers and an injected fetch: which interface of a card it
 * picks, the requests it sends on each binding, the agent's errors as A2AError, and streams that
 * end with the answer or when the caller aborts. The round trip with a real agent is in
 * `bindings_test.ts`.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";
import { A2AError } from "../lib/errors.ts";
import type { AgentCard } from "../lib/types.ts";
import { waitFor } from "./helpers.ts";

/** One request a scripted server saw. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Set once the client's connection for this request has closed. */
  closed: boolean;
}

/** A loopback server that records each request and lets `answer` write the response. */
async function startScripted(answer: (seen: Seen, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), closed: false };
      seen.push(request);
      res.on("close", () => (request.closed = true));
      answer(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

/** A fetch that answers every request with `card` (or `status`) and records what it was asked. */
function cardFetch(card: unknown, status = 200) {
  const asked: Array<{ url: string; headers: Record<string, string> }> = [];
  const fetchFn = (async (url: URL | string, init?: RequestInit) => {
    asked.push({ url: String(url), headers: init?.headers as Record<string, string> });
    return new Response(JSON.stringify(card), { status, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  return { fetchFn, asked };
}

function cardWith(interfaces: AgentCard["supportedInterfaces"]): AgentCard {
  return { name: "a", description: "d", version: "1", supportedInterfaces: interfaces } as AgentCard;
}

const INTERFACES: AgentCard["supportedInterfaces"] = [
  { url: "http://agent.example/grpc", protocolBinding: "GRPC", protocolVersion: "1.0" },
  { url: "http://agent.example/v03", protocolBinding: "JSONRPC", protocolVersion: "0.3" },
  { url: "http://agent.example/rest", protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
  { url: "http://agent.example/rpc", protocolBinding: "JSONRPC", protocolVersion: "1.0" },
];

test("A2AClient takes an empty 2xx answer (a 204 to an HTTP+JSON DELETE, as the SDK's server sends) as success", async () => {
  const server = createServer((req, res) => {
    if (req.method === "DELETE") return void res.writeHead(204).end();
    res.writeHead(200, { "content-type": "application/json" }).end("");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const client = new A2AClient(`http://127.0.0.1:${(server.address() as { port: number }).port}`, { binding: "HTTP+JSON" });
    assert.equal(await client.deletePushConfig({ taskId: "t1", id: "c1" }), undefined);
    // An empty answer where JSON-RPC needs a body is still an error.
    const rpc = new A2AClient(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    await assert.rejects(rpc.getTask({ id: "t1" }), { code: -32603 });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});


test("A2AClient.fromCardUrl() asks for the v1.0 card at the well-known path and takes the card's first 1.0 interface it speaks", async () => {
  const { fetchFn, asked } = cardFetch(cardWith(INTERFACES));
  const client = await A2AClient.fromCardUrl("http://agent.example/some/path", { fetch: fetchFn, headers: { authorization: "Bearer t" } });
  assert.deepEqual([client.binding, client.url], ["HTTP+JSON", "http://agent.example/rest"]);
  assert.equal(client.card.supportedInterfaces?.length, 4, "the card comes along");
  assert.equal(asked[0]!.url, "http://agent.example/.well-known/agent-card.json");
  assert.deepEqual(asked[0]!.headers, { "A2A-Version": "1.0", authorization: "Bearer t" });
});

test("A2AClient.fromCardUrl() takes the binding the options name, and an interface without a protocolVersion", async () => {
  const named = await A2AClient.fromCardUrl("http://agent.example", { fetch: cardFetch(cardWith(INTERFACES)).fetchFn, binding: "JSONRPC" });
  assert.deepEqual([named.binding, named.url], ["JSONRPC", "http://agent.example/rpc"]);
  const unversioned = await A2AClient.fromCardUrl("http://agent.example", { fetch: cardFetch(cardWith([{ url: "http://agent.example/x", protocolBinding: "JSONRPC" }] as AgentCard["supportedInterfaces"])).fetchFn });
  assert.deepEqual([unversioned.binding, unversioned.url], ["JSONRPC", "http://agent.example/x"]);
});

test("A2AClient.fromCardUrl() refuses a card without a 1.0 interface it speaks, or without the one named, and a card it cannot read", async () => {
  const old = cardWith(INTERFACES.slice(0, 2));
  await assert.rejects(A2AClient.fromCardUrl("http://agent.example", { fetch: cardFetch(old).fetchFn }), /lists no JSONRPC or HTTP\+JSON interface for A2A 1\.0/);
  await assert.rejects(A2AClient.fromCardUrl("http://agent.example", { fetch: cardFetch({ name: "no interfaces" }).fetchFn }), /lists no JSONRPC or HTTP\+JSON interface/);
  const rpcOnly = cardWith(INTERFACES.slice(3));
  await assert.rejects(A2AClient.fromCardUrl("http://agent.example", { fetch: cardFetch(rpcOnly).fetchFn, binding: "HTTP+JSON" }), /lists no HTTP\+JSON interface for A2A 1\.0/);
  await assert.rejects(A2AClient.fromCardUrl("http://agent.example", { fetch: cardFetch({}, 404).fetchFn }), /Cannot read agent card at http:\/\/agent\.example\/\.well-known\/agent-card\.json: HTTP 404/);
});

test("A2AClient.call() posts a JSON-RPC request with a new id each time and the client's headers, and returns the result", async () => {
  const server = await startScripted((seen, res) => json(res, 200, { jsonrpc: "2.0", id: JSON.parse(seen.body).id, result: { echo: JSON.parse(seen.body).params } }));
  try {
    const client = new A2AClient(`${server.url}/rpc`, { headers: { authorization: "Bearer t" } });
    assert.deepEqual(await client.call("GetTask", { id: "t1" }), { echo: { id: "t1" } });
    await client.listTasks();
    const [first, second] = server.seen.map((s) => ({ ...s, body: JSON.parse(s.body) }));
    assert.deepEqual([first!.method, first!.url], ["POST", "/rpc"]);
    assert.deepEqual(first!.body, { jsonrpc: "2.0", id: 1, method: "GetTask", params: { id: "t1" } });
    assert.deepEqual([second!.body.id, second!.body.method, second!.body.params], [2, "ListTasks", {}]);
    assert.equal(first!.headers["content-type"], "application/json");
    assert.equal(first!.headers["a2a-version"], "1.0");
    assert.equal(first!.headers.authorization, "Bearer t");
  } finally {
    await server.close();
  }
});

test("A2AClient.call() throws the agent's error as an A2AError with its code, message and ErrorInfo metadata, on both bindings", async () => {
  const info = { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "TASK_NOT_FOUND", domain: "a2a-protocol.org", metadata: { taskId: "t9" } };
  const server = await startScripted((seen, res) => {
    if (seen.url === "/rpc") return json(res, 200, { jsonrpc: "2.0", id: 1, error: { code: -32001, message: "Task t9 was not found", data: [info] } });
    json(res, 404, { error: { code: 404, status: "NOT_FOUND", message: "Task t9 was not found", details: [info] } });
  });
  try {
    for (const client of [new A2AClient(`${server.url}/rpc`), new A2AClient(server.url, { binding: "HTTP+JSON" })]) {
      await assert.rejects(client.getTask({ id: "t9" }), (error: unknown) => {
        assert.ok(error instanceof A2AError, String(error));
        assert.deepEqual([error.code, error.message, error.details], [-32001, "Task t9 was not found", { taskId: "t9" }], client.binding);
        return true;
      });
    }
    assert.deepEqual([server.seen[1]!.method, server.seen[1]!.url], ["GET", "/tasks/t9"]);
  } finally {
    await server.close();
  }
});

test("A2AClient.call() throws -32603 for an answer with neither result nor error, or with no JSON", async () => {
  const server = await startScripted((seen, res) => {
    if (seen.url === "/empty") return json(res, 200, { jsonrpc: "2.0", id: 1 });
    res.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad gateway</h1>");
  });
  try {
    await assert.rejects(new A2AClient(`${server.url}/empty`).getTask({ id: "t" }), (error: A2AError) => error.code === -32603 && /without result or error/.test(error.message));
    await assert.rejects(new A2AClient(`${server.url}/html`).getTask({ id: "t" }), (error: A2AError) => error.code === -32603 && /HTTP 502 with no JSON body: <h1>Bad gateway/.test(error.message));
    await assert.rejects(new A2AClient(server.url, { binding: "HTTP+JSON" }).getTask({ id: "t" }), (error: A2AError) => error.code === -32603 && /HTTP 502/.test(error.message));
  } finally {
    await server.close();
  }
});

test("A2AClient.call() gives up after timeoutMs on an agent that never answers", { timeout: 5_000 }, async () => {
  const server = await startScripted(() => {});
  try {
    await assert.rejects(new A2AClient(server.url, { timeoutMs: 50 }).getTask({ id: "t" }), { name: "TimeoutError" });
  } finally {
    await server.close();
  }
});

test("A2AClient.stream() yields each event's result until the stream ends: JSON-RPC responses unwrapped, HTTP+JSON events as they are", async () => {
  const events = [{ task: { id: "t1" } }, { statusUpdate: { taskId: "t1", status: { state: "TASK_STATE_COMPLETED" } } }];
  const server = await startScripted((seen, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const rest = seen.url !== "/rpc";
    for (const event of events) res.write(`: heartbeat\n\ndata: ${JSON.stringify(rest ? event : { jsonrpc: "2.0", id: 1, result: event })}\n\n`);
    res.end();
  });
  try {
    for (const client of [new A2AClient(`${server.url}/rpc`), new A2AClient(server.url, { binding: "HTTP+JSON" })]) {
      const got = [];
      for await (const event of client.subscribeToTask({ id: "t1" })) got.push(event);
      assert.deepEqual(got, events, client.binding);
    }
    assert.deepEqual([server.seen[1]!.method, server.seen[1]!.url], ["GET", "/tasks/t1:subscribe"]);
  } finally {
    await server.close();
  }
});

test("A2AClient.stream() throws the agent's error, or -32603 for an answer that is not a stream", async () => {
  const server = await startScripted((seen, res) => {
    if (seen.url === "/rpc-error") return json(res, 200, { jsonrpc: "2.0", id: 1, error: { code: -32004, message: "Task t1 has ended" } });
    if (seen.url === "/rpc-result") return json(res, 200, { jsonrpc: "2.0", id: 1, result: {} });
    if (seen.url.endsWith(":subscribe")) return json(res, 400, { error: { code: 400, status: "FAILED_PRECONDITION", message: "ended", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "UNSUPPORTED_OPERATION" }] } });
  });
  const drain = async (client: A2AClient) => {
    for await (const _ of client.subscribeToTask({ id: "t1" })) { /* none */ }
  };
  try {
    await assert.rejects(drain(new A2AClient(`${server.url}/rpc-error`)), (error: A2AError) => error instanceof A2AError && error.code === -32004);
    await assert.rejects(drain(new A2AClient(`${server.url}/rpc-result`)), (error: A2AError) => error.code === -32603 && /SubscribeToTask answered without a stream/.test(error.message));
    await assert.rejects(drain(new A2AClient(server.url, { binding: "HTTP+JSON" })), (error: A2AError) => error.code === -32004);
  } finally {
    await server.close();
  }
});

test("A2AClient.stream() stops when its signal is aborted or the caller breaks off, and closes the connection either way", { timeout: 5_000 }, async () => {
  const server = await startScripted((_seen, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: 1, result: { task: { id: "t1" } } })}\n\n`); // Then nothing: the task goes on.
  });
  try {
    const client = new A2AClient(server.url);
    const controller = new AbortController();
    const got: unknown[] = [];
    await assert.rejects(async () => {
      for await (const event of client.subscribeToTask({ id: "t1" }, { signal: controller.signal })) {
        got.push(event);
        controller.abort();
      }
    }, { name: "AbortError" });
    assert.deepEqual(got, [{ task: { id: "t1" } }]);
    await waitFor(() => server.seen[0]!.closed, { timeoutMs: 2_000, what: "the aborted stream's connection to close" });

    for await (const _ of client.subscribeToTask({ id: "t1" })) break;
    await waitFor(() => server.seen[1]!.closed, { timeoutMs: 2_000, what: "the connection of a stream left early to close" });
  } finally {
    await server.close();
  }
});

test("A2AClient.stream() with a signal already aborted rejects at once instead of reading the stream", { timeout: 3_000 }, async () => {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id: 1, result: { task: { id: "t1" } } })}\n\n`); // then stays open
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const controller = new AbortController();
    controller.abort();
    const got: unknown[] = [];
    const reading = (async () => {
      for await (const event of new A2AClient(`http://127.0.0.1:${(server.address() as { port: number }).port}/`).subscribeToTask({ id: "t1" }, { signal: controller.signal })) got.push(event);
    })();
    const outcome = await Promise.race([reading.then(() => "ended", (e: Error) => `rejected ${e.name}`), new Promise((r) => setTimeout(r, 1000, "still reading after 1 s"))]);
        assert.match(String(outcome), /rejected AbortError/);
    assert.equal(requests, 0);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("A2AClient with a token sends Authorization: Bearer <token> on every binding, streams and the card fetch included", async () => {
  const server = await startScripted((seen, res) => {
    if (seen.url.endsWith(":subscribe") || JSON.parse(seen.body || "{}").method === "SubscribeToTask") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const event = { task: { id: "t1" } };
      return void res.end(`data: ${JSON.stringify(seen.url === "/rpc" ? { jsonrpc: "2.0", id: 1, result: event } : event)}\n\n`);
    }
    if (seen.url === "/rpc") return json(res, 200, { jsonrpc: "2.0", id: JSON.parse(seen.body).id, result: { id: "t1" } });
    json(res, 200, { id: "t1" });
  });
  try {
    for (const client of [new A2AClient(`${server.url}/rpc`, { token: "caller-token" }), new A2AClient(server.url, { binding: "HTTP+JSON", token: "caller-token" })]) {
      await client.getTask({ id: "t1" });
      for await (const _ of client.subscribeToTask({ id: "t1" })) { /* one event */ }
    }
    assert.equal(server.seen.length, 4);
    for (const seen of server.seen) assert.equal(seen.headers.authorization, "Bearer caller-token", `${seen.method} ${seen.url}`);
  } finally {
    await server.close();
  }
  const { fetchFn, asked } = cardFetch(cardWith(INTERFACES));
  await A2AClient.fromCardUrl("http://agent.example", { fetch: fetchFn, token: "caller-token" });
  assert.deepEqual(asked[0]!.headers, { "A2A-Version": "1.0", Authorization: "Bearer caller-token" });
});

test("A2AClient calls a headers function for each request, so an expiring token is fresh on every call", async () => {
  const server = await startScripted((seen, res) => json(res, 200, { jsonrpc: "2.0", id: JSON.parse(seen.body).id, result: {} }));
  let minted = 0;
  try {
    const client = new A2AClient(`${server.url}/rpc`, { headers: async () => ({ authorization: `Bearer short-lived-${++minted}` }) });
    await client.getTask({ id: "t1" });
    await client.listTasks();
    assert.deepEqual(server.seen.map((s) => s.headers.authorization), ["Bearer short-lived-1", "Bearer short-lived-2"]);
  } finally {
    await server.close();
  }
});

test("A2AClient headers replace the token's Authorization whatever their case: one value is sent, never two joined", async () => {
  const server = await startScripted((seen, res) => json(res, 200, { jsonrpc: "2.0", id: JSON.parse(seen.body).id, result: {} }));
  try {
    await new A2AClient(`${server.url}/rpc`, { token: "static", headers: () => ({ authorization: "Bearer from-headers" }) }).getTask({ id: "t1" });
    assert.equal(server.seen[0]!.headers.authorization, "Bearer from-headers");
  } finally {
    await server.close();
  }
  assert.throws(() => new A2AClient("http://agent.example/", { token: "" }), RangeError);
});
