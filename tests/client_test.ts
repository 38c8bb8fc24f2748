/**
 * A2AClient against scripted loopback servers. The round trip with a real agent is in
 * `bindings_test.ts`.
 */

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { A2AClient } from "../lib/client.ts";

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
