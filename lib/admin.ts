/**
 * The agent's rows of the route table for push: the JWKS that receivers verify webhook JWTs with,
 * and a small admin interface for the outbox (list pending and dead deliveries, replay or purge
 * dead letters) and the signing keys, behind a bearer token compared in constant time.
 * `scripts/outbox.ts` is its client. Without push, there are no rows (those paths are 404).
 *
 *   GET  /.well-known/jwks.json
 *   GET  /admin/outbox?state=pending|dead      -> {deliveries: [...]}
 *   POST /admin/outbox/replay  {"ids"?: [...]} -> {replayed: [...]}
 *   POST /admin/outbox/purge   {"ids"?: [...]} -> {purged: [...]}
 *   POST /admin/keys/rotate                    -> {kid}   (the old key stays in the JWKS)
 *
 * @module
 */

import type { Agent } from "./agent.ts";
import { HttpError, sendJson, sendStatus } from "./http_util.ts";
import type { Route, RouteHandler } from "./http_util.ts";
import { jwksDocument } from "./signing.ts";
import { timingSafeEqualText } from "./timing_safe_equal.ts";

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
 * console.log(pushRoutes(agent).map((route) => route.path)); // ["/.well-known/jwks.json", "/admin/outbox", ...]
 * await agent.close();
 * ```
 */
export function pushRoutes(agent: Agent): Route[] {
  const outbox = agent.outbox;
  if (!outbox) return [];
  const adminOnly = (handler: RouteHandler): RouteHandler => (req, res, context) => {
    const token = agent.adminToken;
    if (!token || !timingSafeEqualText(req.headers.authorization, `Bearer ${token}`)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="a2a-push admin"');
      return sendStatus(res, 401, "Admin requests need Authorization: Bearer <admin token> (see <data-dir>/admin_token)");
    }
    return handler(req, res, context);
  };
  return [
    { path: "/.well-known/jwks.json", methods: { GET: (_req, res) => sendJson(res, 200, agent.signingKeys ? jwksDocument(agent.signingKeys) : { keys: [] }) } },
    {
      path: "/admin/outbox",
      methods: {
        GET: adminOnly((_req, res, { url }) => {
          const state = url.searchParams.get("state") ?? "dead";
          if (state !== "dead" && state !== "pending") throw new HttpError(400, "state must be pending or dead");
          sendJson(res, 200, { deliveries: outbox.deliveries(state) });
        }),
      },
    },
    { path: "/admin/outbox/replay", methods: { POST: adminOnly(async (_req, res, { body }) => sendJson(res, 200, { replayed: await outbox.replayDead(readIds(await body())) })) } },
    { path: "/admin/outbox/purge", methods: { POST: adminOnly(async (_req, res, { body }) => sendJson(res, 200, { purged: await outbox.purgeDead(readIds(await body())) })) } },
    { path: "/admin/keys/rotate", methods: { POST: adminOnly(async (_req, res) => sendJson(res, 200, { kid: await agent.rotateSigningKey() })) } },
  ];
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
