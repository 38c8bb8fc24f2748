/**
 * Chaos run: a bounded, self-stopping proof, on 127.0.0.1 only, that push notifications survive a
 * hostile world. It starts the demo agent and the demo receiver as child processes and, in this
 * process, a "chaos front" on the webhook URL that misbehaves at random: 500, 503 with
 * `Retry-After`, 429, a hang past the agent's timeout (sometimes forwarded late), a reset
 * connection, a slow answer, a lost answer (forwarded, then reset), a tampered copy (which the
 * receiver must refuse), or the genuine request forwarded to the real receiver, whose 2xx is the
 * only 2xx the agent ever gets. It submits N tasks of random length with push configs, SIGKILLs
 * and restarts the agent K times and the receiver a few times at random moments, lets the system
 * settle, and checks from the receiver's record and the agent's `GetTask`:
 *
 * - every task is terminal and its terminal notification was accepted (`missing`; dead letters and
 *   deliveries still pending count too);
 * - each event was processed once: redeliveries were answered as duplicates (`reprocessed`);
 * - each task's accepted events came in the order the agent produced them (`out_of_order`);
 * - nothing the agent did not sign was accepted (`forged_accepted`);
 * - both journals load without repair and agree with what was checked.
 *
 *   npx tsx scripts/chaos.ts [--tasks 200] [--kills 5] [--receiver-kills 2] [--seed N]
 *       [--max-steps 12] [--max-step-ms 300] [--duration 30s] [--time-limit 5m] [--keep]
 *       [--replicas 3 --database-url postgres://... [--lease 2s]]
 *
 * With `--replicas N --database-url URL` the agent is N replicas on a fresh schema of that database
 * (dropped at the end unless kept) sharing one data directory; tasks go to each in turn, every kill
 * hits a random replica, and one replica stays down until the chaos is over, so the others must take
 * its runs over (`chaos_replicas.ts`). The database's log is checked instead of the agent's journal,
 * every replica must answer GetTask alike, and the summary adds the takeover times: per kill, from
 * the kill until every unfinished run the replica held was moved on by another replica.
 *
 * A seed repeats the random choices (task lengths and moments, kill moments, the front's
 * behaviour sequence); timing still varies. Tasks the agent never acknowledged (a kill cut the
 * answer off) are not counted in `tasks`, but if it journaled them their notifications are checked
 * too. It prints one summary line last and exits 1 if anything failed; the data directories are
 * kept then (or with `--keep`). It leaves out network faults between agent and client.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "../lib/backoff.ts";
import { A2AClient } from "../lib/client.ts";
import { A2AError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import type { Storage } from "../lib/journal.ts";
import { Outbox } from "../lib/outbox.ts";
import { PgStorage } from "../lib/pg_storage.ts";
import type { Delivery } from "../lib/plan.ts";
import type { ReceivedEvent } from "../lib/receiver.ts";
import { generateWebhookSecret } from "../lib/signing.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { TaskRecord } from "../lib/task_store.ts";
import type { Task, TaskState } from "../lib/types.ts";
import { TERMINAL_STATES } from "../lib/types.ts";
import { disagreements, dropSchema, killReplicasAt, openDatabase, planReplicaKills, restartDown, schemaName, startReplica, takeoverTimes } from "./chaos_replicas.ts";
import type { KillPlan, Proc, Replica, ReplicaKill } from "./chaos_replicas.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOST = "127.0.0.1";
/** The agent gives up on an attempt after this, so a hang costs it no more. */
const WEBHOOK_TIMEOUT_MS = 500;
/** Short steps first, then 1 s steps, enough of them to outlast the time limit: no dead letters. */
const RETRY_SCHEDULE_HEAD = ["0", "100ms", "250ms", "500ms"];
const RETRY_STEP_MS = 1000;
const RETRY_AFTER_SECONDS = 1;
const SLOW_ANSWER_MS = [50, 400] as const;
const LATE_FORWARD_MS = [WEBHOOK_TIMEOUT_MS + 100, 2000] as const;
const HANG_DROP_MS = 10_000;
const FORWARD_TIMEOUT_MS = 5000;
const MAX_DOWNTIME_MS = 1000;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5000;
const SUBMIT_GIVE_UP_MS = 30_000;
const SUBMIT_RETRY_MS = 200;
const POLL_MS = 250;
/** Kept back from the time limit for stopping, loading journals and checking. */
const CHECK_RESERVE_MS = 20_000;
const TAIL_CHARS = 8000;

/** What the front does with one webhook, and how often (weights). */
type Behaviour = "accept" | "slow" | "error_500" | "unavailable_503" | "too_many_429" | "hang" | "late_forward" | "reset" | "lost_answer" | "forge";
const BEHAVIOURS: ReadonlyArray<readonly [Behaviour, number]> = [
  ["accept", 40], ["slow", 10], ["error_500", 8], ["unavailable_503", 5], ["too_many_429", 5],
  ["hang", 4], ["late_forward", 3], ["reset", 8], ["lost_answer", 7], ["forge", 3],
];

interface Options {
  tasks: number; kills: number; receiverKills: number; seed: number; maxSteps: number; maxStepMs: number; durationMs: number; timeLimitMs: number; keep: boolean;
  /** 0: one agent on the file journal; else replicas on `databaseUrl`. */
  replicas: number; databaseUrl: string | undefined; leaseMs: number;
}
interface TaskPlan { atMs: number; steps: number; stepMs: number }
interface FrontStats {
  requests: number;
  behaviours: Map<Behaviour, number>;
  /** Per webhook-id, how many times the receiver answered `accepted` (more than once: reprocessed). */
  accepted: Map<string, number>;
  duplicates: number;
  /** Genuine webhooks the receiver refused, by reason. */
  refused: Map<string, number>;
  unreachable: number;
  forged: number;
  forgedAccepted: number;
}

const children = new Set<ChildProcess>();

async function main(): Promise<number> {
  const startedAt = performance.now();
  // 1. Options, and one seeded random stream per kind of choice, so a seed repeats the choices.
  const options = readOptions();
  const deadline = Date.now() + options.timeLimitMs;
  const schema = options.databaseUrl ? schemaName(options.seed) : undefined;
  const onDatabase = schema ? `; ${options.replicas} replicas on PostgreSQL (schema ${schema}, lease ${options.leaseMs / 1000} s)` : "";
  console.log(`chaos seed=${options.seed}: ${options.tasks} tasks over ${options.durationMs / 1000} s, ${options.kills} agent kills, ${options.receiverKills} receiver kills, time limit ${options.timeLimitMs / 1000} s${onDatabase}`);
  const tasks = planTasks(options, seededRandom(options.seed, 1));
  const agentKills = planKills(options.kills, options, seededRandom(options.seed, 2));
  const receiverKills = planKills(options.receiverKills, options, seededRandom(options.seed, 3));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  const watchdog = setTimeout(() => {
    console.error("chaos: still running 60 s past the time limit; killing everything");
    killAll();
    process.exit(2);
  }, options.timeLimitMs + 60_000).unref();

  // 2. Ports, data directories, a shared secret; the chaos front, then the receiver behind it, then the
  // agent (or its replicas: one data directory, so one signing key, and one schema).
  const dir = mkdtempSync(join(tmpdir(), "a2a-push-chaos-"));
  const agentPorts: number[] = [];
  for (let i = 0; i < Math.max(1, options.replicas); i++) agentPorts.push(await freePort());
  const receiverPort = await freePort();
  const agentUrls = agentPorts.map((port) => `http://${HOST}:${port}`);
  const agentUrl = agentUrls[0]!;
  const receiverUrl = `http://${HOST}:${receiverPort}`;
  const secret = generateWebhookSecret();
  const adminToken = randomBytes(24).toString("hex"); // Not base64url: a leading "-" reads as a flag.
  const notificationToken = randomBytes(24).toString("hex"); // What shows the receiver its owner made the push configs.
  const front = await startChaosFront(receiverPort, seededRandom(options.seed, 4));
  const schedule = [...RETRY_SCHEDULE_HEAD, ...Array<string>(Math.ceil(options.timeLimitMs / (RETRY_STEP_MS / 2))).fill(`${RETRY_STEP_MS}ms`)].join(",");
  const receiver = makeProc("scripts/webhook_receiver.ts", ["--port", String(receiverPort), "--data-dir", join(dir, "receiver"), "--agent-url", agentUrl, "--secret", secret, "--token", notificationToken, "--audience", front.url]);
  const database = schema ? ["--database-url", options.databaseUrl!, "--database-schema", schema, "--lease", `${options.leaseMs}ms`] : [];
  const agents = agentPorts.map((port) => makeProc("scripts/long_running_agent.ts", [
    "--port", String(port), "--data-dir", join(dir, "agent"), "--allow-private-webhooks", "--quiet", "--retry-schedule", schedule,
    "--webhook-timeout", `${WEBHOOK_TIMEOUT_MS}ms`, "--webhook-secret", secret, "--admin-token", adminToken, ...database,
  ]));
  const agent = agents[0]!;
  const clients = agentUrls.map((url) => new A2AClient(`${url}/`, { timeoutMs: 5000 }));
  const client = clients[0]!;
  const replicas: Replica[] | undefined = schema ? agents.map((proc, i) => ({ proc, url: agentUrls[i]!, client: clients[i]!, id: undefined, down: true })) : undefined;
  const sql = schema ? await openDatabase(options.databaseUrl!, schema) : undefined;
  const abort = new AbortController();
  let failed = true;
  try {
    await receiver.start();
    if (replicas) await Promise.all(replicas.map(startReplica));
    else await agent.start();
    if (!/checks: Standard Webhooks signature \+ JWT/.test(receiver.output())) throw new Error(`the receiver does not check both signatures:\n${receiver.output()}`);

    // 3. Chaos: submit tasks at their moments while the agent and the receiver die at theirs.
    const chaosStart = Date.now();
    const acknowledged: string[] = [];
    const [agentDone, receiverDone] = [{ kills: 0 }, { kills: 0 }];
    const killed: ReplicaKill[] = [];
    const chaos = [
      submitTasks(clients, tasks, { url: front.url, token: notificationToken }, chaosStart, acknowledged, abort.signal),
      replicas
        ? killReplicasAt(replicas, planReplicaKills(agentKills, replicas.length, seededRandom(options.seed, 5)), chaosStart, sql!, killed, abort.signal)
        : killAt(agent, agentKills, chaosStart, abort.signal, agentDone),
      killAt(receiver, receiverKills, chaosStart, abort.signal, receiverDone),
    ];
    // The first failure stops the other two; it, not their AbortErrors, is the one to report.
    let firstError: unknown;
    await Promise.all(chaos.map((p) => p.catch((error: unknown) => {
      firstError ??= error;
      abort.abort();
    })));
    if (firstError) throw firstError;
    if (replicas) await restartDown(replicas);
    const unsubmitted = tasks.length - acknowledged.length;
    console.log(`chaos: ${acknowledged.length} tasks acknowledged${unsubmitted ? `, ${unsubmitted} never (agent unreachable for ${SUBMIT_GIVE_UP_MS / 1000} s)` : ""}; settling`);

    // 4. Settle: every task terminal, nothing pending in the outbox, every terminal event accepted.
    const settled = await settle(client, agentUrls, adminToken, receiverUrl, deadline - CHECK_RESERVE_MS);
    if (!settled) console.error("chaos: did not settle before the time limit");

    // 5. What the agent says (GetTask) and what the receiver recorded (GET /events).
    const answers = new Map<string, Task>();
    for (const id of acknowledged) answers.set(id, await client.getTask({ id, historyLength: 0 }));
    const served = await receiverEvents(receiverUrl);
    // Replicas: every one must answer as the first did.
    const disagreeing = replicas ? await disagreements(replicas, acknowledged) : [];

    // 6. Stop the agent (every replica) and the receiver; their journals (or the replicas' log in the
    // database) must load without repair and agree with what they served.
    await Promise.all([...agents.map((proc) => proc.stop("SIGTERM")), receiver.stop("SIGTERM")]);
    await front.close();
    const journalErrors: string[] = [];
    const logName = schema ? "database log" : "agent journal";
    const agentLog = schema ? PgStorage.open({ url: options.databaseUrl!, schema }) : openJournal(join(dir, "agent"), { warn: (line) => console.error(`chaos: ${line}`) });
    const agentJournal = await agentLog.then(loadAgentLog).catch((error: Error) => (journalErrors.push(`${logName}: ${error.message}`), undefined));
    const receiverJournal = await loadReceiverJournal(join(dir, "receiver")).catch((error: Error) => (journalErrors.push(`receiver journal: ${error.message}`), undefined));
    if (receiverJournal && served.map((e) => e.webhookId).join() !== receiverJournal.events.map((e) => e.webhookId).join()) {
      journalErrors.push("receiver journal: its events differ from what GET /events served");
    }
    for (const [id, task] of answers) {
      const journaled = agentJournal?.tasks.get(id)?.state;
      if (agentJournal && journaled !== task.status.state) journalErrors.push(`${logName}: task ${id} is ${journaled}, GetTask said ${task.status.state}`);
    }
    const takeover = sql ? await takeoverTimes(sql, killed) : undefined;

    // 7. Check every task, then print the details and the one summary line.
    const result = checkRun(acknowledged, answers, served, agentJournal, receiverJournal, front.stats);
    const problems = [...result.problems, ...journalErrors, ...disagreeing, ...(takeover?.problems ?? [])];
    for (const problem of problems.slice(0, 20)) console.error(`  problem: ${problem}`);
    if (problems.length > 20) console.error(`  ... and ${problems.length - 20} more`);
    const behaviours = [...front.stats.behaviours].map(([name, n]) => `${name}=${n}`).join(" ");
    const refused = [...front.stats.refused].map(([reason, n]) => `${reason}=${n}`).join(" ") || "none";
    console.log(`chaos details: accepted_events=${served.length} unacknowledged_tasks=${result.unacknowledged} unsubmitted=${unsubmitted} receiver_unreachable=${front.stats.unreachable} forged=${front.stats.forged} genuine_refused: ${refused}; front: ${behaviours}`);
    const onReplicas = takeover ? ` replicas=${options.replicas} disagreements=${disagreeing.length} ${describeTakeovers(killed, takeover.times, chaosStart)}` : "";
    const wall = ((performance.now() - startedAt) / 1000).toFixed(1);
    console.log(
      `chaos seed=${options.seed} tasks=${acknowledged.length} kills=${replicas ? killed.length : agentDone.kills} receiver_kills=${receiverDone.kills} deliveries=${front.stats.requests} ` +
        `duplicates=${result.duplicates} missing=${result.missing} out_of_order=${result.outOfOrder} reprocessed=${result.reprocessed} forged_accepted=${result.forgedAccepted}${onReplicas} wall=${wall}s`,
    );
    const replicaFailures = disagreeing.length + (takeover?.problems.length ?? 0);
    failed = result.missing + result.outOfOrder + result.reprocessed + result.forgedAccepted + journalErrors.length + unsubmitted + replicaFailures > 0;
    return failed ? 1 : 0;
  } catch (error) {
    const outputs = agents.map((proc, i) => `--- ${agents.length > 1 ? `replica ${i}` : "agent"} output (tail) ---\n${proc.output()}`).join("\n");
    console.error(`chaos: ${(error as Error).stack ?? error}\n${outputs}\n--- receiver output (tail) ---\n${receiver.output()}`);
    return 1;
  } finally {
    abort.abort();
    await Promise.all([...agents.map((proc) => proc.stop("SIGKILL")), receiver.stop("SIGKILL")]);
    await front.close();
    clearTimeout(watchdog);
    if (failed || options.keep) console.error(`chaos: data kept in ${dir}${schema ? ` and schema ${schema}` : ""}`);
    else rmSync(dir, { recursive: true, force: true });
    if (sql && schema && !failed && !options.keep) await dropSchema(sql, schema).catch((error: Error) => console.error(`chaos: cannot drop schema ${schema}: ${error.message}`));
    await sql?.end({ timeout: 5 });
  }
}

// ---- helpers, in the order main() uses them ----

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      tasks: { type: "string", default: "200" },
      kills: { type: "string", default: "5" },
      "receiver-kills": { type: "string", default: "2" },
      seed: { type: "string", default: String(randomBytes(4).readUInt32BE() % 1_000_000) },
      "max-steps": { type: "string", default: "12" },
      "max-step-ms": { type: "string", default: "300" },
      duration: { type: "string", default: "30s" },
      "time-limit": { type: "string", default: "5m" },
      keep: { type: "boolean", default: false },
      replicas: { type: "string", default: "0" },
      "database-url": { type: "string" },
      lease: { type: "string", default: "2s" },
    },
  });
  const count = (name: string, text: string | undefined) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`--${name} must be a whole number, got ${text}`);
    return n;
  };
  const options: Options = {
    tasks: count("tasks", values.tasks), kills: count("kills", values.kills), receiverKills: count("receiver-kills", values["receiver-kills"]),
    seed: count("seed", values.seed), maxSteps: count("max-steps", values["max-steps"]), maxStepMs: count("max-step-ms", values["max-step-ms"]),
    durationMs: parseDuration(values.duration!), timeLimitMs: parseDuration(values["time-limit"]!), keep: values.keep!,
    replicas: count("replicas", values.replicas), databaseUrl: values["database-url"] || undefined, leaseMs: parseDuration(values.lease!),
  };
  if (options.replicas > 0 && !options.databaseUrl) throw new RangeError("--replicas needs --database-url: replicas share a database");
  if (options.databaseUrl && options.replicas === 0) options.replicas = 1;
  if (options.timeLimitMs < options.durationMs + CHECK_RESERVE_MS) throw new RangeError(`--time-limit must be at least --duration + ${CHECK_RESERVE_MS / 1000} s`);
  return options;
}

/** mulberry32: a small seeded generator in [0, 1), one independent stream per `stream` number. */
function seededRandom(seed: number, stream: number): () => number {
  let state = (seed ^ Math.imul(stream, 0x9e3779b9)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function between(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

/** Tasks at random moments in the first 80% of the chaos, each with its own length. */
function planTasks(options: Options, random: () => number): TaskPlan[] {
  return Array.from({ length: options.tasks }, () => ({
    atMs: Math.floor(random() * options.durationMs * 0.8),
    steps: between(random, 0, options.maxSteps),
    stepMs: between(random, 0, options.maxStepMs),
  })).sort((a, b) => a.atMs - b.atMs);
}

/** Kill moments spread over the chaos, each followed by a random downtime. */
function planKills(count: number, options: Options, random: () => number): KillPlan[] {
  return Array.from({ length: count }, () => ({ atMs: Math.floor((0.05 + 0.9 * random()) * options.durationMs), downMs: between(random, 0, MAX_DOWNTIME_MS) }))
    .sort((a, b) => a.atMs - b.atMs);
}

function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The misbehaving front on the webhook URL. Only a genuine request forwarded to the real receiver
 * can earn the agent a 2xx, so whatever the agent believes delivered is in the receiver's journal.
 */
async function startChaosFront(receiverPort: number, random: () => number) {
  const stats: FrontStats = { requests: 0, behaviours: new Map(), accepted: new Map(), duplicates: 0, refused: new Map(), unreachable: 0, forged: 0, forgedAccepted: 0 };
  const total = BEHAVIOURS.reduce((sum, [, weight]) => sum + weight, 0);
  const relay = async (headers: IncomingHttpHeaders, body: Buffer, res?: ServerResponse) => {
    const result = await forward(receiverPort, headers, body);
    const id = String(headers["webhook-id"]);
    if (!result) stats.unreachable++;
    else if (result.answer.accepted) stats.accepted.set(id, (stats.accepted.get(id) ?? 0) + 1);
    else if (result.answer.duplicate) stats.duplicates++;
    else if (result.status >= 400) {
      const reason = String(result.answer.reason ?? `HTTP ${result.status}`);
      stats.refused.set(reason, (stats.refused.get(reason) ?? 0) + 1);
    }
    if (res) answer(res, result?.status ?? 502);
  };
  const misbehave = async (headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse) => {
    // Draw everything at once, in arrival order, so a seed gives the same sequence of behaviours.
    let roll = random() * total;
    const behaviour = BEHAVIOURS.find(([, weight]) => (roll -= weight) < 0)?.[0] ?? "accept";
    const slowMs = between(random, ...SLOW_ANSWER_MS);
    const lateMs = between(random, ...LATE_FORWARD_MS);
    stats.requests++;
    stats.behaviours.set(behaviour, (stats.behaviours.get(behaviour) ?? 0) + 1);
    switch (behaviour) {
      case "accept":
        return relay(headers, body, res);
      case "slow":
        await delay(slowMs);
        return relay(headers, body, res);
      case "error_500":
        return answer(res, 500);
      case "unavailable_503":
        return answer(res, 503, { "retry-after": String(RETRY_AFTER_SECONDS) });
      case "too_many_429":
        return answer(res, 429);
      case "hang":
        return hang(res);
      case "late_forward":
        hang(res);
        await delay(lateMs);
        return relay(headers, body);
      case "reset":
        return reset(res);
      case "lost_answer":
        await relay(headers, body);
        return reset(res);
      case "forge": {
        stats.forged++;
        const result = await forward(receiverPort, headers, tamper(body));
        if (result && result.status < 300) stats.forgedAccepted++;
        return answer(res, 500);
      }
    }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void misbehave(req.headers, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  let closed = false;
  return {
    url: `http://${HOST}:${(server.address() as { port: number }).port}/webhook`,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** POSTs a webhook to the real receiver; undefined when it is unreachable (killed, restarting). */
function forward(port: number, headers: IncomingHttpHeaders, body: Buffer): Promise<{ status: number; answer: Record<string, unknown> } | undefined> {
  const { host: _host, connection: _connection, "content-length": _length, "transfer-encoding": _encoding, ...rest } = headers;
  return new Promise((resolve) => {
    const req = httpRequest({ host: HOST, port, path: "/webhook", method: "POST", headers: { ...rest, "content-length": String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", () => resolve(undefined));
      res.on("end", () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          // Not JSON: only the status counts.
        }
        resolve({ status: res.statusCode ?? 0, answer: parsed });
      });
    });
    req.setTimeout(FORWARD_TIMEOUT_MS, () => req.destroy(new Error("the receiver did not answer")));
    req.on("error", () => resolve(undefined));
    req.end(body);
  });
}

function answer(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, headers).end();
}

/** Never answers; the agent times out first. The socket is dropped later in case it does not. */
function hang(res: ServerResponse): void {
  const timer = setTimeout(() => res.destroy(), HANG_DROP_MS).unref();
  res.once("close", () => clearTimeout(timer));
}

function reset(res: ServerResponse): void {
  const socket = res.socket;
  // A TCP RST where the runtime offers one (Node), a plain close otherwise. Not once the socket is
  // ending: Node 20 then fails the reset (a shutdown is under way) yet marks the handle closing, and
  // the process spins at exit waiting for it to close.
  if (socket?.writable && typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else socket?.destroy();
}

/** The same webhook with a changed body: its signature and JWT no longer match. */
function tamper(body: Buffer): Buffer {
  try {
    return Buffer.from(JSON.stringify({ ...JSON.parse(body.toString("utf8")), forged: true }));
  } catch {
    return Buffer.concat([body, Buffer.from(" ")]);
  }
}

/** A restartable child: the script under the runtime running this one (Node with tsx, or Deno). */
function makeProc(script: string, args: string[]): Proc {
  let child: ChildProcess | undefined;
  let tail = "";
  const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-TAIL_CHARS));
  return {
    start() {
      const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
      const command = deno ? [deno.execPath(), "run", "-A", join(ROOT, script)] : [process.execPath, "--import", "tsx", join(ROOT, script)];
      const started = spawn(command[0]!, [...command.slice(1), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      child = started;
      children.add(started);
      started.once("exit", () => children.delete(started));
      started.stderr!.on("data", keep);
      return new Promise<void>((resolve, reject) => {
        let seen = "";
        let listening = false;
        const timer = setTimeout(() => reject(new Error(`${script} did not listen within ${START_TIMEOUT_MS / 1000} s:\n${tail}`)), START_TIMEOUT_MS).unref();
        started.stdout!.on("data", (chunk: Buffer) => {
          keep(chunk);
          if (listening) return;
          seen += chunk.toString();
          if (seen.includes("listening on")) {
            listening = true;
            clearTimeout(timer);
            resolve();
          }
        });
        started.once("exit", (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${script} exited (${code ?? signal}) before listening:\n${tail}`));
        });
      });
    },
    async stop(signal) {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill(signal);
      await Promise.race([exited, delay(STOP_TIMEOUT_MS, undefined, { ref: false })]);
      if (running.exitCode === null && running.signalCode === null) {
        running.kill("SIGKILL");
        await exited;
      }
    },
    output: () => tail,
  };
}

/**
 * Submits each task at its moment, to each agent (replica) in turn; while that one is down, to the
 * next, and when every one is down, retries after a pause (bounded).
 */
async function submitTasks(clients: A2AClient[], tasks: TaskPlan[], pushConfig: { url: string; token: string }, start: number, acknowledged: string[], signal: AbortSignal): Promise<void> {
  for (const [index, plan] of tasks.entries()) {
    await delay(Math.max(0, start + plan.atMs - Date.now()), undefined, { signal });
    const giveUpAt = Date.now() + SUBMIT_GIVE_UP_MS;
    for (let attempt = 0; Date.now() < giveUpAt; attempt++) {
      const client = clients[(index + attempt) % clients.length]!;
      try {
        const { task } = await client.sendMessage({
          message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: { steps: plan.steps, stepMs: plan.stepMs } }] },
          configuration: { returnImmediately: true, taskPushNotificationConfig: pushConfig },
        });
        acknowledged.push(task.id);
        break;
      } catch (error) {
        if (error instanceof A2AError) throw error; // The agent answered and refused: not chaos, a bug.
        if ((attempt + 1) % clients.length === 0) await delay(SUBMIT_RETRY_MS, undefined, { signal });
      }
    }
  }
}

/** SIGKILLs the process at each moment, waits for it to die, and starts it again after a downtime. */
async function killAt(proc: Proc, kills: KillPlan[], start: number, signal: AbortSignal, done: { kills: number }): Promise<void> {
  for (const kill of kills) {
    await delay(Math.max(0, start + kill.atMs - Date.now()), undefined, { signal });
    await proc.stop("SIGKILL");
    done.kills++;
    await delay(kill.downMs, undefined, { signal });
    await proc.start();
  }
}

/** Waits until nothing is left to do, or the deadline. */
async function settle(client: A2AClient, agentUrls: string[], adminToken: string, receiverUrl: string, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (await isSettled(client, agentUrls, adminToken, receiverUrl).catch(() => false)) return true;
    await delay(POLL_MS);
  }
  return false;
}

/** Every task terminal and its terminal event received, and no agent (replica) owing a delivery. */
async function isSettled(client: A2AClient, agentUrls: string[], adminToken: string, receiverUrl: string): Promise<boolean> {
  for (const agentUrl of agentUrls) {
    const response = await fetch(`${agentUrl}/admin/outbox?state=pending`, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(5000) });
    if (!response.ok) return false;
    if (((await response.json()) as { deliveries: unknown[] }).deliveries.length > 0) return false;
  }
  const tasks: Task[] = [];
  let pageToken = "";
  do {
    const page = await client.listTasks({ pageSize: 100, pageToken: pageToken || undefined, historyLength: 0 });
    tasks.push(...page.tasks);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (tasks.some((task) => !TERMINAL_STATES.has(task.status.state))) return false;
  const done = new Set((await receiverEvents(receiverUrl)).filter(isTerminal).map((event) => event.taskId));
  return tasks.every((task) => done.has(task.id));
}

async function receiverEvents(receiverUrl: string): Promise<ReceivedEvent[]> {
  const response = await fetch(`${receiverUrl}/events`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET /events answered ${response.status}`);
  return ((await response.json()) as { events: ReceivedEvent[] }).events;
}

function isTerminal(event: ReceivedEvent): boolean {
  return event.kind === "statusUpdate" && event.state !== undefined && TERMINAL_STATES.has(event.state);
}

/** The agent's journal (or the replicas' log), read as the agent reads it: tasks, the delivery ids in the order produced, and the outbox left. */
async function loadAgentLog(journal: Storage) {
  try {
    // The agent's own store and outbox, replayed as at start-up, say what is still owed.
    const store = new TaskStore(journal);
    const outbox = new Outbox(store, { send: async () => ({ ok: false }) });
    const produced = new Map<string, string[]>();
    let compacted = false;
    for (const record of (await journal.load()) as TaskRecord[]) {
      store.replay(record);
      outbox.replay(record);
      const deliveries = [...(("deliveries" in record ? record.deliveries : undefined) ?? [])];
      if (record.type === "push.delivery") {
        compacted = true;
        deliveries.push(record.delivery as Delivery);
      }
      for (const delivery of deliveries) {
        let ids = produced.get(delivery.taskId);
        if (!ids) produced.set(delivery.taskId, (ids = []));
        if (!ids.includes(delivery.id)) ids.push(delivery.id);
      }
    }
    const tasks = new Map([...store.all()].map((stored) => [stored.id, stored]));
    return { tasks, produced, compacted, pending: outbox.deliveries("pending"), dead: outbox.deliveries("dead") };
  } finally {
    await journal.close();
  }
}

/** The receiver's journal: accepted events in order, and how many `event` records each id has. */
async function loadReceiverJournal(dir: string) {
  const journal = await openJournal(dir, { fileName: "receiver.jsonl", warn: (line) => console.error(`chaos: ${line}`) });
  try {
    const events = new Map<string, ReceivedEvent>();
    const eventRecords = new Map<string, number>();
    for (const record of (await journal.load()) as Array<{ type: string; event?: ReceivedEvent; webhookId?: string }>) {
      if (record.type === "event" && record.event) {
        eventRecords.set(record.event.webhookId, (eventRecords.get(record.event.webhookId) ?? 0) + 1);
        if (!events.has(record.event.webhookId)) events.set(record.event.webhookId, { ...record.event });
      } else if (record.type === "duplicate") {
        const event = events.get(record.webhookId!);
        if (event) event.duplicates++;
      }
    }
    return { events: [...events.values()], eventRecords };
  } finally {
    await journal.close();
  }
}

/** Every check, over every task the agent acknowledged or journaled. */
function checkRun(
  acknowledged: string[],
  answers: Map<string, Task>,
  served: ReceivedEvent[],
  agentJournal: Awaited<ReturnType<typeof loadAgentLog>> | undefined,
  receiverJournal: Awaited<ReturnType<typeof loadReceiverJournal>> | undefined,
  stats: FrontStats,
) {
  const problems: string[] = [];
  const byTask = new Map<string, ReceivedEvent[]>();
  for (const event of served) byTask.set(event.taskId, [...(byTask.get(event.taskId) ?? []), event]);
  const known = new Set(acknowledged);
  const all = [...acknowledged, ...[...(agentJournal?.tasks.keys() ?? [])].filter((id) => !known.has(id))];
  let missing = 0;
  let outOfOrder = 0;
  for (const id of all) {
    const state = answers.get(id)?.status.state ?? agentJournal?.tasks.get(id)?.state;
    const events = byTask.get(id) ?? [];
    const gap = missingIn(state, events);
    if (gap) (missing++, problems.push(`task ${id}: ${gap}`));
    const disorder = disorderIn(events, agentJournal?.produced.get(id));
    if (disorder) (outOfOrder++, problems.push(`task ${id} out of order: ${disorder}`));
  }
  // Notifications the agent still owes or gave up on are missing too.
  for (const delivery of [...(agentJournal?.pending ?? []), ...(agentJournal?.dead ?? [])]) {
    missing++;
    problems.push(`delivery ${delivery.id} of task ${delivery.taskId} never acknowledged (${delivery.attempts} attempts, ${delivery.lastError})`);
  }
  let reprocessed = 0;
  for (const [id, count] of stats.accepted) if (count > 1) (reprocessed++, problems.push(`webhook ${id} was accepted ${count} times`));
  for (const [id, count] of receiverJournal?.eventRecords ?? []) if (count > 1 && (stats.accepted.get(id) ?? 0) <= 1) (reprocessed++, problems.push(`webhook ${id} has ${count} event records`));
  let forgedAccepted = stats.forgedAccepted;
  if (agentJournal && !agentJournal.compacted) {
    // Without compaction the journal lists every delivery ever made: anything else is not the agent's.
    const made = new Set([...agentJournal.produced.values()].flat());
    for (const event of served) if (!made.has(event.webhookId)) (forgedAccepted++, problems.push(`webhook ${event.webhookId} accepted but never made by the agent`));
  }
  const duplicates = (receiverJournal?.events ?? served).reduce((sum, event) => sum + event.duplicates, 0);
  return { problems, missing, outOfOrder, reprocessed, forgedAccepted, duplicates, unacknowledged: all.length - acknowledged.length };
}

/** Each kill's takeover (printed), and their p50 and max for the summary line. */
function describeTakeovers(killed: ReplicaKill[], times: Array<number | undefined>, chaosStart: number): string {
  killed.forEach((kill, i) => {
    const time = times[i];
    const what = kill.runs.length === 0 ? "held no unfinished run" : time === undefined ? `none of its ${kill.runs.length} unfinished run(s) moved on elsewhere` : `its ${kill.runs.length} unfinished run(s) moved on elsewhere within ${(time / 1000).toFixed(2)} s`;
    console.log(`chaos takeover: replica ${kill.replica} killed at ${((kill.killedAt - chaosStart) / 1000).toFixed(1)} s${kill.held ? " (down until the end)" : ""}: ${what}`);
  });
  const sorted = times.filter((time) => time !== undefined).sort((a, b) => a - b);
  const seconds = (ms: number | undefined) => (ms === undefined ? "none" : `${(ms / 1000).toFixed(2)}s`);
  return `takeover_p50=${seconds(sorted[Math.floor((sorted.length - 1) / 2)])} takeover_max=${seconds(sorted.at(-1))}`;
}

/** Why a task's terminal notification is missing, if it is. */
function missingIn(state: TaskState | undefined, events: ReceivedEvent[]): string | undefined {
  if (!state) return "unknown to the agent";
  if (!TERMINAL_STATES.has(state)) return `not terminal (${state})`;
  if (!events.some(isTerminal)) return `${state}, but no terminal notification accepted`;
  return undefined;
}

/**
 * Why a task's accepted events are out of order, if they are: the Task first, status timestamps
 * never going back, steps only forward, the terminal update last, and (where the journal still
 * lists them) the order the agent made the deliveries in. Collapsed progress updates may be absent.
 */
function disorderIn(events: ReceivedEvent[], produced: string[] | undefined): string | undefined {
  if (events.length === 0) return undefined;
  if (events[0]!.kind !== "task") return `the first accepted event is a ${events[0]!.kind}, not the Task`;
  const terminalAt = events.findIndex(isTerminal);
  if (terminalAt !== -1 && terminalAt !== events.length - 1) return `${events.length - 1 - terminalAt} event(s) accepted after the terminal one`;
  let lastTime = -Infinity;
  let lastStep = 0;
  let lastIndex = -1;
  const index = new Map((produced ?? []).map((id, i) => [id, i]));
  for (const event of events) {
    const time = event.statusTimestamp ? Date.parse(event.statusTimestamp) : lastTime;
    if (time < lastTime) return `status timestamp ${event.statusTimestamp} after ${new Date(lastTime).toISOString()}`;
    lastTime = time;
    const step = Number(/^step (\d+)\//.exec(event.text ?? "")?.[1] ?? lastStep + 1);
    if (event.text?.startsWith("step ") && step <= lastStep) return `"${event.text}" after step ${lastStep}`;
    if (event.text?.startsWith("step ")) lastStep = step;
    const at = index.get(event.webhookId);
    if (at !== undefined && at <= lastIndex) return `webhook ${event.webhookId} was made before the one accepted ahead of it`;
    if (at !== undefined) lastIndex = at;
  }
  return undefined;
}

// process.exit, not exitCode: late forwards and dropped hangs need not finish once the verdict is in.
process.exit(await main());
