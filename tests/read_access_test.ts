/**
 * Who may read a receiver's pages: the loopback check on peer addresses (fake sockets stand in for
 * remote peers, since tests only use loopback), and the read token. The receiver's own routes are
 * tried end to end in `receiver_test.ts`.
 */

import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { test } from "node:test";
import { HttpError } from "../lib/http_util.ts";
import type { RouteContext } from "../lib/http_util.ts";
import { isLoopbackAddress, readersOnly } from "../lib/read_access.ts";

/** A request from `remoteAddress` with `headers`, as the guard reads it. */
function request(remoteAddress: string | undefined, headers: Record<string, string> = {}): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

/** A response that keeps the headers set on it. */
function response(): ServerResponse & { set: Record<string, string> } {
  const set: Record<string, string> = {};
  return { set, setHeader: (name: string, value: string) => (set[name.toLowerCase()] = value) } as unknown as ServerResponse & { set: Record<string, string> };
}

/** One guarded page that records whether it ran; its GET handler. */
function guardedPage(readToken?: string) {
  const ran: string[] = [];
  const [route] = readersOnly([{ path: "/events", methods: { GET: (req) => void ran.push(req.socket.remoteAddress ?? "") } }], { readToken });
  return { ran, get: (req: IncomingMessage, res = response()) => route!.methods.GET!(req, res, {} as RouteContext) };
}

test("isLoopbackAddress() takes 127.0.0.0/8, ::1 and IPv4-mapped loopback, and nothing else", () => {
  for (const address of ["127.0.0.1", "127.200.3.4", "::1", "::ffff:127.0.0.1", "::FFFF:127.0.0.9"]) assert.equal(isLoopbackAddress(address), true, address);
  for (const address of [undefined, "", "10.0.0.1", "192.0.2.7", "::ffff:10.0.0.1", "::2", "fe80::1", "128.0.0.1", "127.0.0.1.evil", "localhost"]) {
    assert.equal(isLoopbackAddress(address), false, String(address));
  }
});

test("readersOnly() without a read token answers loopback peers and refuses any other with 403", async () => {
  const page = guardedPage();
  await page.get(request("127.0.0.1"));
  await page.get(request("::ffff:127.0.0.1"));
  assert.deepEqual(page.ran, ["127.0.0.1", "::ffff:127.0.0.1"]);
  for (const peer of ["192.0.2.7", "::ffff:203.0.113.5", undefined]) {
    assert.throws(() => page.get(request(peer, { authorization: "Bearer anything" })), (error: HttpError) => error instanceof HttpError && error.status === 403 && /loopback/.test(error.message), String(peer));
  }
  assert.equal(page.ran.length, 2, "a refused read never reaches the page");
});

test("readersOnly() with a read token answers only requests that carry it, from anywhere, and says how to authenticate", async () => {
  const page = guardedPage("r3ad-token");
  const refused: Array<Record<string, string>> = [{}, { authorization: "Bearer wrong" }, { authorization: "r3ad-token" }, { authorization: "Basic r3ad-token" }];
  for (const headers of refused) {
    const res = response();
    assert.throws(() => page.get(request("127.0.0.1", headers), res), (error: HttpError) => error.status === 401 && !error.message.includes("r3ad-token"), JSON.stringify(headers));
    assert.deepEqual(res.set["www-authenticate"], ['Bearer realm="a2a-push receiver"', 'Basic realm="a2a-push receiver", charset="UTF-8"'], "Basic too: a browser then asks for the token");
  }
  await page.get(request("192.0.2.7", { authorization: "Bearer r3ad-token" }));
  await page.get(request("127.0.0.1", { authorization: "bearer r3ad-token" }));
  await page.get(request("192.0.2.8", { authorization: `Basic ${Buffer.from("anyone:r3ad-token").toString("base64")}` }));
  assert.deepEqual(page.ran, ["192.0.2.7", "127.0.0.1", "192.0.2.8"], "Bearer, or the password of HTTP Basic (what a browser sends)");
  assert.throws(() => page.get(request("127.0.0.1", { authorization: `Basic ${Buffer.from("r3ad-token:anyone").toString("base64")}` })), (error: HttpError) => error.status === 401, "the token is the password, not the user");
  assert.throws(() => readersOnly([], { readToken: "" }), RangeError);
});
