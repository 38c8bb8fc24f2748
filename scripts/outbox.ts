/**
 * The operator's tool for the push outbox of a running agent: list pending deliveries or dead
 * letters, replay dead letters, or purge them, see each endpoint's health and enable a disabled
 * one, through the agent's authenticated admin interface (the console at /admin/ calls the same).
 *
 *   npx tsx scripts/outbox.ts list [--state dead|pending]
 *   npx tsx scripts/outbox.ts replay (--all | ID...)
 *   npx tsx scripts/outbox.ts purge (--all | ID...)
 *   npx tsx scripts/outbox.ts endpoints       (health, deliveries owed and dead, per endpoint)
 *   npx tsx scripts/outbox.ts enable ENDPOINT (a disabled endpoint; then replay its dead letters)
 *   npx tsx scripts/outbox.ts rotate-key      (new JWT signing key; the old one stays in the JWKS)
 *
 * Options: --agent-url (A2A_AGENT_URL, default http://127.0.0.1:8001); the admin token from
 * --admin-token (A2A_ADMIN_TOKEN) or else from <--data-dir>/admin_token (default .data/agent).
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";

const USAGE = "usage: outbox.ts list [--state dead|pending] | replay (--all | ID...) | purge (--all | ID...) | endpoints | enable ENDPOINT | rotate-key";

async function main(): Promise<number> {
  // 1. Read the command and options.
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      "agent-url": { type: "string", default: process.env.A2A_AGENT_URL ?? "http://127.0.0.1:8001" },
      "admin-token": { type: "string", default: process.env.A2A_ADMIN_TOKEN },
      "data-dir": { type: "string", default: process.env.A2A_DATA_DIR ?? ".data/agent" },
      state: { type: "string", default: "dead" },
      all: { type: "boolean", default: false },
    },
  });
  const [command, ...ids] = positionals;
  const token = values["admin-token"] ?? readToken(values["data-dir"]!);
  const call = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, values["agent-url"]), { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, signal: AbortSignal.timeout(10_000) });

  // 2. Run it.
  if (command === "list") {
    const response = await call(`/admin/outbox?state=${encodeURIComponent(values.state!)}`);
    const body = await readReply(response);
    const deliveries = body.deliveries as Array<{ id: string; taskId: string; kind: string; attempts: number; nextAt: number; url?: string; lastError?: string }>;
    console.log(`${deliveries.length} ${values.state} deliveries`);
    for (const d of deliveries) {
      const when = values.state === "pending" ? ` next ${new Date(d.nextAt).toISOString()}` : "";
      console.log(`${d.id}  task ${d.taskId}  ${d.kind}  attempts ${d.attempts}${when}  ${d.url ?? "(config deleted)"}  ${d.lastError ?? ""}`);
    }
    return 0;
  }
  if (command === "replay" || command === "purge") {
    if (!values.all && ids.length === 0) throw new Error(`${command} needs --all or delivery ids\n${USAGE}`);
    const response = await call(`/admin/outbox/${command}`, { method: "POST", body: values.all ? "" : JSON.stringify({ ids }) });
    const body = await readReply(response);
    const done = (body.replayed ?? body.purged) as string[];
    console.log(`${command === "replay" ? "replayed" : "purged"} ${done.length}: ${done.join(" ")}`);
    return 0;
  }
  if (command === "endpoints") {
    const body = await readReply(await call("/admin/endpoints"));
    const endpoints = body.endpoints as Array<{ endpoint: string; pending: number; dead: number; disabledAt?: number; reason?: string; failingSince?: number; lastError?: string }>;
    console.log(`${endpoints.length} endpoints`);
    for (const e of endpoints) {
      const health = e.disabledAt !== undefined ? `DISABLED ${new Date(e.disabledAt).toISOString()}: ${e.reason}` : e.failingSince !== undefined ? `failing since ${new Date(e.failingSince).toISOString()}` : "ok";
      console.log(`${e.endpoint}  ${health}  owed ${e.pending}  dead ${e.dead}  ${e.lastError ?? ""}`);
    }
    return 0;
  }
  if (command === "enable") {
    if (ids.length !== 1) throw new Error(`enable needs one endpoint, e.g. https://hooks.example/a2a\n${USAGE}`);
    const body = await readReply(await call("/admin/endpoints/enable", { method: "POST", body: JSON.stringify({ endpoint: ids[0] }) }));
    console.log(body.wasDisabled ? `enabled ${body.endpoint}; replay its dead letters to send them (replay --all)` : `${body.endpoint} was not disabled`);
    return 0;
  }
  if (command === "rotate-key") {
    const body = await readReply(await call("/admin/keys/rotate", { method: "POST" }));
    console.log(`signing key rotated: new kid ${body.kid}`);
    return 0;
  }
  throw new Error(USAGE);
}

function readToken(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, "admin_token"), "utf8").trim();
  } catch (error) {
    throw new Error(`No admin token: pass --admin-token or --data-dir of the agent (${(error as Error).message})`, { cause: error });
  }
}

async function readReply(response: Response): Promise<Record<string, unknown>> {
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new Error(`agent answered HTTP ${response.status}: ${body.error ?? ""}`);
  return body;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
