/**
 * The agent's rows of the route table for operators: the JWKS that receivers verify webhook JWTs
 * with, a small admin interface for the outbox (list pending and dead deliveries, replay or purge
 * dead letters, see and enable endpoints) and the signing keys, behind a bearer token compared in
 * constant time, the console page that calls it, and the metrics. `scripts/outbox.ts` is the
 * interface's other client. Without push, there are no push rows (those paths are 404).
 *
 *   GET  /.well-known/jwks.json
 *   GET  /admin/                                  the outbox console (a page; it asks for the token; /admin redirects)
 *   GET  /admin/outbox?state=pending|dead[&limit=N] -> {deliveries: [...], total}
 *   POST /admin/outbox/replay  {"ids"?: [...]}    -> {replayed: [...]}
 *   POST /admin/outbox/purge   {"ids"?: [...]}    -> {purged: [...]}
 *   GET  /admin/endpoints                         -> {endpoints: [...]}  (health, owed, dead)
 *   POST /admin/endpoints/enable {"endpoint"}     -> {endpoint, wasDisabled}
 *   POST /admin/keys/rotate                       -> {kid}   (the old key stays in the JWKS)
 *   GET  /metrics                                 Prometheus text (admin token, unless public)
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Agent } from "./agent.ts";
import { endpointOf } from "./endpoint_health.ts";
import { loadPage, sendPage } from "./html_page.ts";
import { HttpError, sendJson, sendStatus } from "./http_util.ts";
import type { Route, RouteHandler } from "./http_util.ts";
import { agentMetrics, formatMetrics } from "./metrics.ts";
import { jwksDocument } from "./signing.ts";
import { timingSafeEqualText } from "./timing_safe_equal.ts";

/**
 * Wraps a handler so it answers only requests carrying the agent's admin token (`Authorization:
 * Bearer <admin token>`, compared in constant time): others get 401 with `WWW-Authenticate`, and
 * so does every request while the agent has no admin token (push off).
 *
 * @param agent The agent, whose `adminToken` is read at each request.
 * @param handler The guarded handler.
 * @returns The guard.
 *
 * @example Guard a row
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { adminOnly } from "./admin.ts";
 * import { Agent } from "./agent.ts";
 * import { sendJson } from "./http_util.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "a-")), handler: () => {} });
 * const row = { path: "/admin/hello", methods: { GET: adminOnly(agent, (_req, res) => sendJson(res, 200, {})) } };
 * console.log(row.path); // "/admin/hello"
 * await agent.close();
 * ```
 */
export function adminOnly(agent: Agent, handler: RouteHandler): RouteHandler {
  return (req, res, context) => {
    const token = agent.adminToken;
    if (!token || !timingSafeEqualText(req.headers.authorization, `Bearer ${token}`)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="a2a-push admin"');
      return sendStatus(res, 401, "Admin requests need Authorization: Bearer <admin token> (see <data-dir>/admin_token)");
    }
    return handler(req, res, context);
  };
}

/**
 * The push rows of an agent's route table (none if push is off).
 *
 * @param agent The agent.
 * @returns The rows, for `routeRequest` (`createAgentServer` includes them).
 *
 * @example List an agent's push rows
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { pushRoutes } from "./admin.ts";
 * import { Agent } from "./agent.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "a-")), handler: () => {} });
 * console.log(pushRoutes(agent).map((route) => route.path)); // ["/.well-known/jwks.json", "/admin/", "/admin", "/admin/outbox", ...]
 * await agent.close();
 * ```
 */
export function pushRoutes(agent: Agent): Route[] {
  const outbox = agent.outbox;
  if (!outbox) return [];
  const admin = (handler: RouteHandler) => adminOnly(agent, handler);
  // The page holds no data and no token (it asks for the token, and keeps it in the tab's
  // sessionStorage): what it shows comes from the guarded rows below.
  const consolePage = loadPage("outbox_console.html");
  return [
    { path: "/.well-known/jwks.json", methods: { GET: (_req, res) => sendJson(res, 200, agent.signingKeys ? jwksDocument(agent.signingKeys) : { keys: [] }) } },
    { path: "/admin/", methods: { GET: (_req, res) => sendPage(res, consolePage) } },
    // Relative, so it holds behind a proxy's path prefix; the page's own requests are relative to /admin/.
    { path: "/admin", methods: { GET: (_req, res) => void res.writeHead(308, { Location: "admin/" }).end() } },
    {
      path: "/admin/outbox",
      methods: {
        GET: admin((_req, res, { url }) => {
          const state = url.searchParams.get("state") ?? "dead";
          if (state !== "dead" && state !== "pending") throw new HttpError(400, "state must be pending or dead");
          const limitText = url.searchParams.get("limit");
          if (limitText !== null && !/^\d{1,9}$/.test(limitText)) throw new HttpError(400, "limit must be a whole number");
          const limit = limitText === null ? Infinity : Number(limitText);
          const deliveries = outbox.deliveries(state);
          sendJson(res, 200, { deliveries: deliveries.slice(0, limit), total: deliveries.length });
        }),
      },
    },
    { path: "/admin/outbox/replay", methods: { POST: admin(async (_req, res, { body }) => sendJson(res, 200, { replayed: await outbox.replayDead(readIds(await body())) })) } },
    { path: "/admin/outbox/purge", methods: { POST: admin(async (_req, res, { body }) => sendJson(res, 200, { purged: await outbox.purgeDead(readIds(await body())) })) } },
    { path: "/admin/endpoints", methods: { GET: admin((_req, res) => sendJson(res, 200, { endpoints: outbox.endpoints() })) } },
    {
      path: "/admin/endpoints/enable",
      methods: {
        POST: admin(async (_req, res, { body }) => {
          const endpoint = readEndpoint(await body());
          sendJson(res, 200, { endpoint, wasDisabled: await outbox.enableEndpoint(endpoint) });
        }),
      },
    },
    { path: "/admin/keys/rotate", methods: { POST: admin(async (_req, res) => sendJson(res, 200, { kid: await agent.rotateSigningKey() })) } },
  ];
}

/** Options of {@linkcode metricsRoutes}. */
export interface MetricsRouteOptions {
  /** Answer `/metrics` without the admin token (for a scraper on a network you trust). @default false */
  public?: boolean;
}

/**
 * The `/metrics` row: the agent's metrics in the Prometheus text format (`metrics.ts`), behind the
 * admin token unless `public`.
 *
 * @param agent The agent.
 * @param options See {@linkcode MetricsRouteOptions}.
 * @returns The row, for `routeRequest` (`createAgentServer` includes it).
 *
 * @example A public /metrics row
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { metricsRoutes } from "./admin.ts";
 * import { Agent } from "./agent.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "a-")), handler: () => {} });
 * console.log(metricsRoutes(agent, { public: true })[0]!.path); // "/metrics"
 * await agent.close();
 * ```
 */
export function metricsRoutes(agent: Agent, options: MetricsRouteOptions = {}): Route[] {
  const { public: open = false } = options;
  const send: RouteHandler = (_req, res) => {
    const text = formatMetrics(agentMetrics(agent));
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
  };
  return [{ path: "/metrics", methods: { GET: open ? send : adminOnly(agent, send) } }];
}

/** The endpoint an enable body names, as scheme, host, port and path. */
function readEndpoint(body: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError(400, 'Body must be JSON: {"endpoint": "https://host/path"}', { cause: error });
  }
  const endpoint = (parsed as { endpoint?: unknown } | null)?.endpoint;
  if (typeof endpoint !== "string" || !URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
    throw new HttpError(400, 'endpoint must be an http(s) URL: {"endpoint": "https://host/path"}');
  }
  return endpointOf(endpoint);
}

/** The ids a replay or purge names; none (an empty body, or no `ids`) means all. */
function readIds(body: Buffer): string[] | undefined {
  if (body.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpError(400, 'Body must be JSON: {"ids": [...]} or empty for all', { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'Body must be a JSON object: {"ids": [...]}, or empty for all');
  if (!("ids" in parsed) || parsed.ids === undefined) return undefined;
  if (!Array.isArray(parsed.ids) || parsed.ids.some((id) => typeof id !== "string")) throw new HttpError(400, "ids must be an array of strings");
  return parsed.ids as string[];
}
