/**
 * The demo agent: a "report" skill that works in steps, journaled so that it survives restarts.
 *
 *   npx tsx scripts/long_running_agent.ts [--port 8001] [--host 127.0.0.1] [--data-dir .data/agent]
 *       [--retry-schedule 0,1s,5s,30s] [--allow-private-webhooks] [--webhook-secret whsec_...]
 *       [--auth-tokens FILE] [--oidc-issuer URL --oidc-audience AUD] [--no-auth]
 *       [--max-configs-per-task 10] [--max-open-tasks 1000] [--rate-limit 100]
 *       [--database-url postgres://... [--database-schema a2a_push] [--lease 10s]]
 *       [--disable-after 5d|never] [--public-metrics]
 *
 * Send it a message with a data part `{"steps": N, "stepMs": M}` (defaults 10 and 1000; `steps: 0`
 * completes at once). Each step reports "step i/N" and saves a checkpoint; the end emits the report
 * as a text artifact. Kill it mid-task and start it again: the task continues from the last step.
 * Every task event is also a signed webhook to each push config of the task, retried until the
 * receiver acknowledges it, across restarts. Callers authenticate with a bearer token from the
 * `--auth-tokens` file (re-read when it changes, or on SIGHUP) or an OIDC JWT; each sees only its
 * own tasks. On an address other than loopback the agent refuses to start without authentication,
 * unless told `--no-auth`. With `--database-url` the tasks live in PostgreSQL, and several agents
 * on one database are replicas of one agent. The outbox console is at /admin/ (it asks for the admin
 * token), Prometheus metrics at /metrics; a webhook endpoint whose every attempt failed for
 * --disable-after is disabled until enabled again there. Every flag has an environment variable
 * (see README).
 */

import { randomUUID } from "node:crypto";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Agent } from "../lib/agent.ts";
import { isLoopbackHost, openAuthenticator } from "../lib/auth.ts";
import { parseDuration, parseRetrySchedule } from "../lib/backoff.ts";
import type { TaskContext } from "../lib/runner.ts";
import { createAgentServer } from "../lib/server.ts";
import type { Task } from "../lib/types.ts";

const DEFAULT_STEPS = 10;
const DEFAULT_STEP_MS = 1000;
const MAX_STEPS = 10_000;
const MAX_STEP_MS = 3_600_000;

async function main(): Promise<void> {
  // 1. Read the flags, falling back to the environment, then to the defaults.
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.PORT ?? "8001" },
      host: { type: "string", default: process.env.HOST ?? "127.0.0.1" },
      "data-dir": { type: "string", default: process.env.A2A_DATA_DIR ?? ".data/agent" },
      "public-url": { type: "string", default: process.env.A2A_PUBLIC_URL },
      "retry-schedule": { type: "string", default: process.env.A2A_RETRY_SCHEDULE },
      "webhook-timeout": { type: "string", default: process.env.A2A_WEBHOOK_TIMEOUT ?? "10s" },
      "webhook-secret": { type: "string", default: process.env.A2A_WEBHOOK_SECRET },
      "allow-private-webhooks": { type: "boolean", default: process.env.A2A_ALLOW_PRIVATE_WEBHOOKS === "1" },
      "webhook-allowlist": { type: "string", default: process.env.A2A_WEBHOOK_ALLOWLIST },
      "admin-token": { type: "string", default: process.env.A2A_ADMIN_TOKEN },
      concurrency: { type: "string", default: process.env.A2A_CONCURRENCY ?? "32" },
      "no-fsync": { type: "boolean", default: process.env.A2A_NO_FSYNC === "1" },
      quiet: { type: "boolean", default: process.env.A2A_QUIET === "1" },
      repair: { type: "boolean", default: process.env.A2A_REPAIR === "1" },
      retention: { type: "string", default: process.env.A2A_RETENTION ?? "7d" },
      "max-finished-tasks": { type: "string", default: process.env.A2A_MAX_FINISHED_TASKS ?? "100000" },
      "auth-tokens": { type: "string", default: process.env.A2A_AUTH_TOKENS || undefined },
      "oidc-issuer": { type: "string", default: process.env.A2A_OIDC_ISSUER || undefined },
      "oidc-audience": { type: "string", default: process.env.A2A_OIDC_AUDIENCE || undefined },
      "no-auth": { type: "boolean", default: process.env.A2A_NO_AUTH === "1" },
      "max-configs-per-task": { type: "string", default: process.env.A2A_MAX_CONFIGS_PER_TASK ?? "10" },
      "max-open-tasks": { type: "string", default: process.env.A2A_MAX_OPEN_TASKS ?? "1000" },
      "rate-limit": { type: "string", default: process.env.A2A_RATE_LIMIT ?? "100" },
      "database-url": { type: "string", default: process.env.A2A_DATABASE_URL || undefined },
      "database-schema": { type: "string", default: process.env.A2A_DATABASE_SCHEMA ?? "a2a_push" },
      lease: { type: "string", default: process.env.A2A_LEASE ?? "10s" },
      "disable-after": { type: "string", default: process.env.A2A_DISABLE_AFTER ?? "5d" },
      "public-metrics": { type: "boolean", default: process.env.A2A_PUBLIC_METRICS === "1" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be 0-65535, got ${values.port}`);
  const maxFinishedTasks = Number(values["max-finished-tasks"]);
  if (!Number.isSafeInteger(maxFinishedTasks) || maxFinishedTasks < 0) throw new RangeError(`--max-finished-tasks must be a whole number, got ${values["max-finished-tasks"]}`);
  if (values["allow-private-webhooks"]) {
    console.warn("WARNING: --allow-private-webhooks: webhooks may target loopback and private networks (SSRF guard opened). Use it for local development only.");
  }
  if (values["no-fsync"]) console.warn("WARNING: --no-fsync: the journal is not fsynced; a power loss can lose acknowledged changes.");
  const [maxConfigsPerTask, maxOpenTasks, rateLimit] = ["max-configs-per-task", "max-open-tasks", "rate-limit"].map((name) => {
    const value = Number(values[name as keyof typeof values]);
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`--${name} must be a whole number, got ${values[name as keyof typeof values]}`);
    return value;
  });
  const disableAfterMs = values["disable-after"] === "never" ? Infinity : parseDuration(values["disable-after"]!);

  // 2. Open the agent: read the journal, resume every task that was running. A replica names itself,
  // so its rows in the database (leases, claims, records) can be told apart from the others'.
  const database = values["database-url"] ? { url: values["database-url"], schema: values["database-schema"], leaseMs: parseDuration(values.lease!), replicaId: randomUUID() } : undefined;
  const agent = await Agent.open({
    dataDir: values["data-dir"]!,
    handler: reportSkill,
    concurrency: Number(values.concurrency),
    sync: !values["no-fsync"],
    repair: values.repair,
    retentionMs: parseDuration(values.retention!),
    maxFinishedTasks,
    quotas: { maxConfigsPerTask, maxOpenTasks },
    database,
    publicUrl: values["public-url"],
    push: {
      secrets: values["webhook-secret"],
      schedule: values["retry-schedule"] ? parseRetrySchedule(values["retry-schedule"]) : undefined,
      timeoutMs: parseDuration(values["webhook-timeout"]!),
      ssrf: {
        allowPrivate: values["allow-private-webhooks"],
        allowlist: values["webhook-allowlist"]?.split(",").map((entry) => entry.trim()).filter(Boolean),
      },
      adminToken: values["admin-token"],
      disableAfterMs,
      log: values.quiet ? undefined : (line) => console.log(line),
    },
    card: {
      name: "a2a-push report agent",
      description: "Writes a report in steps; tasks survive disconnects and restarts.",
      skills: [{ id: "report", name: "Report", description: 'Works in steps; send a data part {"steps": N, "stepMs": M}.', tags: ["demo", "long-running"] }],
    },
  });

  if (database) console.log(`replica ${database.replicaId} of the agent in database schema ${database.schema}`);

  // 3. Know who calls: tokens, OIDC, or nobody (only on loopback, unless told --no-auth).
  const auth = await openAuthenticator({ tokensFile: values["auth-tokens"], oidcIssuer: values["oidc-issuer"], oidcAudience: values["oidc-audience"], adminToken: agent.adminToken });
  if (!auth.enabled && !isLoopbackHost(values.host!)) {
    if (!values["no-auth"]) {
      console.error(`Refusing to listen on ${values.host} without authentication: anyone who reaches it could read and cancel every task. Give --auth-tokens FILE or --oidc-issuer URL --oidc-audience AUD, or --no-auth if a proxy in front authenticates.`);
      await agent.close();
      process.exit(2);
    }
    console.warn(`WARNING: --no-auth: listening on ${values.host} with no authentication; every caller sees every task.`);
  }
  process.on("SIGHUP", () => void auth.reload().then(() => console.log("SIGHUP: token file read again"), (error: Error) => console.error(`SIGHUP: ${error.message}`)));

  // 4. Serve A2A over HTTP.
  const server = createAgentServer(agent, { auth, rateLimit: rateLimit > 0 ? { perSecond: rateLimit } : false, publicMetrics: values["public-metrics"] });
  await new Promise<void>((resolve) => server.listen(port, values.host, resolve));
  const address = server.address() as { port: number };
  const shownHost = values.host!.includes(":") ? `[${values.host}]` : values.host;
  console.log(`listening on http://${shownHost}:${address.port}`);
  // Where the token is, never the token: logs are read by more people than the data directory.
  console.log(`outbox console: http://${shownHost}:${address.port}/admin/ (admin token in ${values["admin-token"] ? "--admin-token" : `${values["data-dir"]}/admin_token`}); metrics: /metrics${values["public-metrics"] ? " (public)" : " (admin token)"}`);

  // 5. Start delivering webhooks: now the agent's URL, the JWT's issuer, is known.
  agent.startDelivery(values["public-url"] ?? `http://${shownHost}:${address.port}`);

  // 6. Stop cleanly: running tasks stay journaled as they are and resume at the next start.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    server.close();
    server.closeAllConnections();
    await agent.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/** The "report" skill: one journaled step at a time, continuing from the checkpoint. */
async function reportSkill(_task: Task, ctx: TaskContext): Promise<void> {
  const work = readWork(ctx);
  if (typeof work === "string") return ctx.setStatus("TASK_STATE_REJECTED", work);
  const saved = (ctx.checkpoint ?? { done: 0, lines: [] }) as { done: number; lines: string[] };
  const lines = [...saved.lines];
  for (let step = saved.done + 1; step <= work.steps; step++) {
    await delay(work.stepMs, undefined, { signal: ctx.signal });
    lines.push(`step ${step}/${work.steps} done at ${new Date().toISOString()}`);
    await ctx.working(`step ${step}/${work.steps}`, { checkpoint: { done: step, lines } });
  }
  const report = [`Report for task ${ctx.taskId}`, ...lines, `${work.steps} steps completed.`].join("\n");
  await ctx.addArtifact({ artifactId: "report", name: "report.txt", parts: [{ text: report, mediaType: "text/plain" }] }, { lastChunk: true });
}

/** The `{steps, stepMs}` of the user's data part, or a sentence saying what is wrong with it. */
function readWork(ctx: TaskContext): { steps: number; stepMs: number } | string {
  const data = ctx.message?.parts.find((part) => part.data !== undefined)?.data as Record<string, unknown> | undefined;
  const steps = data?.steps ?? DEFAULT_STEPS;
  const stepMs = data?.stepMs ?? DEFAULT_STEP_MS;
  if (!Number.isInteger(steps) || (steps as number) < 0 || (steps as number) > MAX_STEPS) return `steps must be an integer from 0 to ${MAX_STEPS}`;
  if (!Number.isInteger(stepMs) || (stepMs as number) < 0 || (stepMs as number) > MAX_STEP_MS) return `stepMs must be an integer from 0 to ${MAX_STEP_MS}`;
  return { steps: steps as number, stepMs: stepMs as number };
}

await main();
