/**
 * Who may read a receiver's pages (`GET /`, `GET /events/stream`, `GET /events`, `GET /tasks/<id>`):
 * they show every event that arrived and the tasks fetched from the agent, which are the owner's
 * business. With a read token, a request must carry it (compared in constant time) as
 * `Authorization: Bearer <token>`, or as the password of HTTP Basic (any user name): that is how a
 * browser sends it, asked once and then with every request of the page, its event stream included,
 * never in a URL. Without one, only requests from this machine (a loopback peer address) are
 * answered. It wraps rows of a route table, so a read page added later gets the check by being in
 * the list, not by remembering an `if`. It leaves out who may post webhooks (`verify.ts`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import { isIPv4 } from "node:net";
import { HttpError } from "./http_util.ts";
import type { Route, RouteHandler } from "./http_util.ts";
import { timingSafeEqualText } from "./timing_safe_equal.ts";

/** Options of {@linkcode readersOnly}. */
export interface ReadAccessOptions {
  /** The bearer token a reader must send; none: only loopback peers are answered. @default undefined */
  readToken?: string;
}

/**
 * Whether a peer address is this machine: 127.0.0.0/8, `::1`, or an IPv4-mapped `::ffff:127.x.x.x`
 * (what a dual-stack socket reports for an IPv4 loopback peer).
 *
 * @param address The socket's `remoteAddress`; undefined (a closed socket) is not loopback.
 * @returns True for a loopback address.
 *
 * @example
 * ```ts
 * import { isLoopbackAddress } from "./read_access.ts";
 * console.log(isLoopbackAddress("::ffff:127.0.0.1"), isLoopbackAddress("192.0.2.7")); // true false
 * ```
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const text = address.toLowerCase();
  if (text === "::1") return true;
  const v4 = text.startsWith("::ffff:") ? text.slice("::ffff:".length) : text;
  return isIPv4(v4) && v4.startsWith("127.");
}

/** The challenges a refused reader gets: Bearer for programs, Basic so a browser asks for the token. */
const CHALLENGES = ['Bearer realm="a2a-push receiver"', 'Basic realm="a2a-push receiver", charset="UTF-8"'];

/**
 * Wraps every handler of `routes` so it answers only a reader: 401 (with `WWW-Authenticate`, Bearer
 * and Basic) when a read token is set and the request does not carry it, 403 when none is set and
 * the peer is not loopback. The refusal is an {@linkcode HttpError}, answered by `routeRequest` with its reason.
 *
 * @param routes The read pages' rows.
 * @param options See {@linkcode ReadAccessOptions}.
 * @returns The same rows, guarded.
 * @throws {RangeError} If `readToken` is empty.
 *
 * @example Guard a page
 * ```ts
 * import { readersOnly } from "./read_access.ts";
 * import { sendJson } from "./http_util.ts";
 * const rows = readersOnly([{ path: "/events", methods: { GET: (_req, res) => sendJson(res, 200, []) } }], { readToken: "r3ad" });
 * console.log(rows[0]!.path); // "/events"
 * ```
 */
export function readersOnly(routes: readonly Route[], options: ReadAccessOptions = {}): Route[] {
  const { readToken } = options;
  if (readToken === "") throw new RangeError("Cannot guard read pages: readToken is empty");
  const guard = (handler: RouteHandler): RouteHandler => (req, res, context) => {
    const refusal = refuseReader(req, readToken);
    if (refusal?.status === 401) res.setHeader("WWW-Authenticate", CHALLENGES);
    if (refusal) throw refusal;
    return handler(req, res, context);
  };
  return routes.map((route) => ({
    ...route,
    methods: Object.fromEntries(Object.entries(route.methods).map(([method, handler]) => [method, guard(handler)])),
  }));
}

/** Why `req` may not read, or undefined when it may. */
function refuseReader(req: IncomingMessage, readToken: string | undefined): HttpError | undefined {
  if (readToken !== undefined) {
    const authorization = req.headers.authorization ?? "";
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] ?? basicPassword(authorization);
    if (timingSafeEqualText(given, readToken)) return undefined;
    return new HttpError(401, "Reading this receiver needs its read token: Authorization: Bearer <read token>, or as the password of HTTP Basic (a browser asks for it)");
  }
  if (isLoopbackAddress(req.socket.remoteAddress)) return undefined;
  return new HttpError(403, "Without a read token this receiver answers reads only from its own machine (loopback); configure a read token to read it from elsewhere");
}

/** The password of `Authorization: Basic base64(user:password)`, or undefined for anything else. */
function basicPassword(authorization: string): string | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(authorization)?.[1];
  if (encoded === undefined) return undefined;
  const pair = Buffer.from(encoded, "base64").toString("utf8");
  const colon = pair.indexOf(":");
  return colon === -1 ? undefined : pair.slice(colon + 1);
}
