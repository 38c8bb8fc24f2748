/**
 * The agent's extra HTTP routes for push: the JWKS that receivers verify webhook JWTs with, and a
 * small admin interface for the outbox (list pending and dead deliveries, replay or purge dead
 * letters), behind a bearer token compared in constant time. `scripts/outbox.ts` is its client.
 *
 *   GET  /.well-known/jwks.json
 *   GET  /admin/outbox?state=pending|dead      -> {deliveries: [...]}
 *   POST /admin/outbox/replay  {"ids"?: [...]} -> {replayed: [...]}
 *   POST /admin/outbox/purge   {"ids"?: [...]} -> {purged: [...]}
 *   POST /admin/keys/rotate                    -> {kid}   (the old key stays in the JWKS)
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Agent } from "./agent.ts";
import { jwksDocument } from "./signing.ts";
import { timingSafeEqualText } from "./timing_safe_equal.ts";

/** A route: returns true when it handled the request. */
export type Route = (req: IncomingMessage, res: ServerResponse, body: () => Promise<Buffer>) => Promise<boolean> | boolean;

type Reply = (res: ServerResponse, status: number, value: unknown) => void;

/**
 * The push routes of an agent (none if push is off).
 *
 * @param agent The agent.
 * @param reply Sends a JSON response.
 * @returns The routes.
 */
export function pushRoutes(agent: Agent, reply: Reply): Route[] {
  const outbox = agent.outbox;
  if (!outbox) return [];
  return [
    (req, res) => {
      if (pathOf(req) !== "/.well-known/jwks.json" || req.method !== "GET") return false;
      reply(res, 200, agent.signingKeys ? jwksDocument(agent.signingKeys) : { keys: [] });
      return true;
    },
    async (req, res, body) => {
      const path = pathOf(req);
      if (!path.startsWith("/admin/")) return false;
      const token = agent.adminToken;
      if (!token || !timingSafeEqualText(req.headers.authorization, `Bearer ${token}`)) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="a2a-push admin"');
        reply(res, 401, { error: "Admin requests need Authorization: Bearer <admin token> (see <data-dir>/admin_token)" });
        return true;
      }
      if (path === "/admin/outbox" && req.method === "GET") {
        const state = new URL(req.url ?? "/", "http://x").searchParams.get("state") ?? "dead";
        if (state !== "dead" && state !== "pending") {
          reply(res, 400, { error: "state must be pending or dead" });
          return true;
        }
        reply(res, 200, { deliveries: outbox.deliveries(state) });
        return true;
      }
      if ((path === "/admin/outbox/replay" || path === "/admin/outbox/purge") && req.method === "POST") {
        const ids = readIds(await body());
        if (ids instanceof Error) {
          reply(res, 400, { error: ids.message });
          return true;
        }
        if (path.endsWith("/replay")) reply(res, 200, { replayed: await outbox.replayDead(ids) });
        else reply(res, 200, { purged: await outbox.purgeDead(ids) });
        return true;
      }
      if (path === "/admin/keys/rotate" && req.method === "POST") {
        reply(res, 200, { kid: await agent.rotateSigningKey() });
        return true;
      }
      reply(res, 404, { error: `No admin route ${req.method} ${path}` });
      return true;
    },
  ];
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? "/", "http://x").pathname;
}

function readIds(body: Buffer): string[] | undefined | Error {
  if (body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { ids?: unknown };
    if (parsed.ids === undefined) return undefined;
    if (!Array.isArray(parsed.ids) || parsed.ids.some((id) => typeof id !== "string")) return new Error("ids must be an array of strings");
    return parsed.ids as string[];
  } catch {
    return new Error("Body must be JSON: {\"ids\": [...]} or empty for all");
  }
}
