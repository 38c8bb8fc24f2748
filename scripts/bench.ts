/**
 * The benchmark: prints one JSON line and a short table.
 *
 *   npx tsx scripts/bench.ts [--tasks 2000] [--concurrency 32] [--warmup 0] [--runs 3]
 *       [--only e2e,pg,sdk,client,journal,recovery] [--database-url postgres://... [--replicas 1,2]]
 *   npx deno@2 run -A scripts/bench.ts ...      (the same, every process under Deno)
 *
 * - e2e: N tasks of `steps: 0` (submitted, working, one artifact, completed: four webhooks each)
 *   with a push config, sent with `returnImmediately` by this process (the driver) to the demo agent
 *   (a child process) that posts to a receiver (another child process) which acknowledges at once.
 *   Deliveries per second (first send to last acknowledged webhook), completion latency (task sent
 *   to its terminal webhook acknowledged) p50/p95/p99 (and p99 once warm: the tasks after the first
 *   quarter), missing, and each process's CPU per task; with the durable journal and with
 *   `--no-fsync`, so the cost of durability shows. `--warmup N` first sends N tasks through the same
 *   processes and waits for their webhooks, unmeasured, as a long-running agent is warm. With
 *   `--database-url`, e2e also runs pg and sdk.
 * - pg: the e2e workload on PostgreSQL (durable: commits as the server syncs them), with 1 and with 2
 *   replicas (`--replicas`) on a fresh schema that is dropped after, the driver sending to each
 *   replica in turn; the database server's CPU per task is counted too. Needs `--database-url`.
 * - sdk: the reference, the e2e workload on the official SDK's agent (`@a2a-js/sdk` 1.3.0,
 *   `tests/sdk_agent.ts`: in-memory stores, its own webhook sender, nothing durable), `steps: 1`,
 *   which makes the same four webhooks.
 * - client: the webhook sender's HTTP client alone (`WebhookSender.send()` over `node:http`, no
 *   signing), CPU per POST cold and warm; and the CPU of one ES256 signature (one per webhook, for
 *   its JWT).
 * - journal: appends per second with group commit (64 writers), and what one fsync costs here.
 * - recovery: process start to serving with a journal of 10k and 100k finished tasks (and with an
 *   empty one, the runtime's own start-up), and the resident memory with 100k retained tasks.
 * With `--runs`, each figure is the median of the runs, with min and max.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { A2AClient } from "../lib/client.ts";
import { openJournal } from "../lib/journal.ts";
import { signJwtAsync } from "../lib/signing.ts";
import { loadSigningKeys } from "../lib/signing_keys.ts";
import { FrozenTask } from "../lib/frozen_task.ts";
import { WebhookSender } from "../lib/webhook_sender.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TIME_LIMIT_MS = 120_000;
const now = () => performance.timeOrigin + performance.now(); // Comparable across processes.

type Figures = Record<string, number>;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "32" },
      warmup: { type: "string", default: "0" },
      runs: { type: "string", default: "1" },
      only: { type: "string", default: "e2e,client,journal,recovery" },
      role: { type: "string" },
      url: { type: "string" },
      "database-url": { type: "string" },
      replicas: { type: "string", default: "1,2" },
    },
  });
  if (values.role === "receiver") return runReceiver();
  if (values.role === "poster") return runPoster(values.url!);
  const tasks = Number(values.tasks);
  const concurrency = Number(values.concurrency);
  const warmup = Number(values.warmup);
  const only = new Set(values.only!.split(","));
  const databaseUrl = values["database-url"];
  const replicaCounts = values.replicas!.split(",").map(Number);
  if (!replicaCounts.every((n) => Number.isInteger(n) && n >= 1)) throw new RangeError(`--replicas must list whole numbers from 1, got ${values.replicas}`);
  const runs: Figures[] = [];

  // 1. Run each part `runs` times.
  for (let run = 0; run < Number(values.runs); run++) {
    const figures: Figures = {};
    if (only.has("e2e")) {
      Object.assign(figures, prefix("durable", await endToEnd(tasks, concurrency, { kind: "file", durable: true }, warmup)));
      Object.assign(figures, prefix("nosync", await endToEnd(tasks, concurrency, { kind: "file", durable: false }, warmup)));
      figures.durable_cost_pct = Math.round(100 * (1 - figures.durable_deliveries_per_s! / figures.nosync_deliveries_per_s!));
    }
    // With a database: its replicas, and the SDK's agent as the reference, in the same run.
    for (const replicas of databaseUrl && (only.has("e2e") || only.has("pg")) ? replicaCounts : []) {
      Object.assign(figures, prefix(`pg${replicas}`, await endToEnd(tasks, concurrency, { kind: "pg", url: databaseUrl!, replicas }, warmup)));
    }
    if (only.has("sdk") || (databaseUrl && only.has("e2e"))) Object.assign(figures, prefix("sdk", await endToEnd(tasks, concurrency, { kind: "sdk" }, warmup)));
    if (only.has("client")) Object.assign(figures, await httpClients());
    if (only.has("journal")) Object.assign(figures, await journalAlone());
    if (only.has("recovery")) Object.assign(figures, await recovery());
    runs.push(figures);
    console.error(`run ${run + 1}: ${JSON.stringify(figures)}`);
  }

  // 2. Report medians (and spread) as one JSON line and a table.
  const summary: Record<string, { median: number; min: number; max: number }> = {};
  for (const key of Object.keys(runs[0]!)) {
    const values = runs.map((r) => r[key]!).sort((a, b) => a - b);
    summary[key] = { median: values[Math.floor(values.length / 2)]!, min: values[0]!, max: values.at(-1)! };
  }
  const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}` : `node ${process.version}`;
  console.log(JSON.stringify({ bench: "a2a-push", runs: runs.length, tasks, concurrency, runtime, figures: summary }));
  for (const [key, { median, min, max }] of Object.entries(summary)) {
    console.log(`${key.padEnd(36)}${String(median).padStart(10)}   (${min} .. ${max})`);
  }
}

function prefix(name: string, figures: Figures): Figures {
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [`${name}_${k}`, v]));
}

/** What serves the e2e workload: the demo agent on its journal, its replicas on PostgreSQL, or the SDK's agent. */
type Target = { kind: "file"; durable: boolean } | { kind: "pg"; url: string; replicas: number } | { kind: "sdk" };

/** e2e: driver here, agent (or replicas) and receiver in child processes. */
async function endToEnd(tasks: number, concurrency: number, target: Target, warmup: number): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "bench-e2e-"));
  const children: ChildProcess[] = [];
  const schema = target.kind === "pg" ? `bench_${randomBytes(6).toString("hex")}` : undefined;
  try {
    const receiver = spawnTs(["scripts/bench.ts", "--role", "receiver"], children);
    const receiverUrl = await listening(receiver);
    const agents = await startAgents(target, dir, schema, children);
    const senders = agents.map(({ url }) => jsonRpcSender(url));
    // The SDK's agent makes the Task, an update per step, the artifact and the final update: one step makes our four.
    const work = target.kind === "sdk" ? { steps: 1, stepMs: 0 } : { steps: 0 };
    // The receiver reports `done <taskId> <time>` per terminal webhook and `count <n> <time>` per 1000.
    const done = new Map<string, number>();
    let deliveries = 0;
    let lastAck = 0;
    const deadline = Date.now() + TIME_LIMIT_MS;
    const batch = async (count: number, sentAt: Map<string, number>) => {
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const send = senders[next++ % senders.length]!;
          const sent = now();
          const { task } = await send("SendMessage", {
            message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: work }] },
            configuration: { returnImmediately: true, taskPushNotificationConfig: { url: `${receiverUrl}/webhook` } },
          }) as { task: { id: string } };
          sentAt.set(task.id, sent);
        }
      }));
      const base = deliveries;
      const finished = () => [...sentAt.keys()].every((id) => done.has(id));
      while (!(deliveries - base >= count * 4 && finished()) && Date.now() < deadline) {
        receiver.stdin!.write("report\n");
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const line of takeLines(receiver)) {
          const [kind, a, b] = line.split(" ");
          if (kind === "done") done.set(a!, Number(b));
          if (kind === "count") [deliveries, lastAck] = [Number(a), Number(b)];
        }
      }
    };
    if (warmup > 0) await batch(warmup, new Map());
    const sentAt = new Map<string, number>();
    const agentsCpu = () => agents.reduce((sum, { child }) => sum + cpuMs(child.pid!), 0);
    const cpuBefore = [agentsCpu(), cpuMs(receiver.pid!), cpuMs(process.pid)];
    const dbBefore = schema ? postgresCpuMs() : undefined;
    const before = deliveries;
    const start = now();
    await batch(tasks, sentAt);
    deliveries -= before;
    const cpu = [agentsCpu(), cpuMs(receiver.pid!), cpuMs(process.pid)].map((ms, i) => (ms - cpuBefore[i]!) / tasks);
    const dbCpu = dbBefore ? [...postgresCpuMs()].reduce((sum, [pid, ms]) => sum + ms - (dbBefore.get(pid) ?? 0), 0) / tasks : undefined;
    const latencies = [...done].map(([id, at]) => at - sentAt.get(id)!).filter(Number.isFinite).sort((a, b) => a - b);
    const pct = (p: number, sorted = latencies) => Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN).toFixed(1));
    // The tail of a cold run is its first tasks, sent while V8 is still optimising all three
    // processes: the p99 of the tasks sent after the first quarter shows the warm tail apart.
    const bySend = [...sentAt].sort((a, b) => a[1] - b[1]);
    const warm = bySend.slice(Math.floor(bySend.length / 4)).map(([id, sent]) => done.get(id)! - sent).filter(Number.isFinite).sort((a, b) => a - b);
    return {
      deliveries_per_s: Math.round(deliveries / ((lastAck - start) / 1000)),
      latency_p50_ms: pct(50),
      latency_p95_ms: pct(95),
      latency_p99_ms: pct(99),
      latency_p99_warm_ms: pct(99, warm),
      missing: [...sentAt.keys()].filter((id) => !done.has(id)).length,
      // CPU milliseconds per task in each process (every replica together; the database server's
      // processes together): what a 2-core machine's budget is spent on.
      agent_cpu_ms_per_task: Number(cpu[0]!.toFixed(3)),
      receiver_cpu_ms_per_task: Number(cpu[1]!.toFixed(3)),
      driver_cpu_ms_per_task: Number(cpu[2]!.toFixed(3)),
      ...(dbCpu === undefined ? {} : { db_cpu_ms_per_task: Number(dbCpu.toFixed(3)) }),
    };
  } finally {
    await stopAll(children);
    rmSync(dir, { recursive: true, force: true });
    if (target.kind === "pg") await dropSchema(target.url, schema!);
  }
}

/** Starts the target's processes, listening: one agent, its replicas (one data directory, one schema), or the SDK's agent. */
async function startAgents(target: Target, dir: string, schema: string | undefined, children: ChildProcess[]): Promise<Array<{ child: ChildProcess; url: string }>> {
  const demo = ["scripts/long_running_agent.ts", "--port", "0", "--data-dir", dir, "--allow-private-webhooks", "--quiet"];
  const started = async (child: ChildProcess) => ({ child, url: await listening(child) });
  if (target.kind === "file") return [await started(spawnTs(target.durable ? demo : [...demo, "--no-fsync"], children))];
  if (target.kind === "sdk") return [await started(spawnTs(["tests/sdk_agent.ts", "--port", "0"], children, { quiet: true }))];
  const replicas: Array<{ child: ChildProcess; url: string }> = [];
  // Each replica counts the unfinished tasks of all: past the quota of 1,000 per caller it would refuse the
  // driver, which does not wait for completions before sending more.
  const args = [...demo, "--database-url", target.url, "--database-schema", schema!, "--max-open-tasks", "100000"];
  for (let i = 0; i < target.replicas; i++) replicas.push(await started(spawnTs(args, children)));
  return replicas;
}

/** CPU time (ms) of each of the database server's processes on this machine, by pid. */
function postgresCpuMs(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres") cpu.set(pid, cpuMs(pid));
    } catch {
      // The process ended while being read: its CPU is no longer counted anywhere.
    }
  }
  return cpu;
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const postgres = (await import("postgres")).default;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The driver's load generator: JSON-RPC POSTs over keep-alive `node:http`. `A2AClient` (over
 * `fetch`) costs this process ~0.4 ms of CPU per call, which on 2 cores is taken from the agent;
 * a load generator should cost as little as possible, as `wrk` would.
 */
function jsonRpcSender(baseUrl: string): (method: string, params: unknown) => Promise<unknown> {
  const { hostname, port } = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let id = 0;
  return (method, params) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params });
    // A2A-Version: the SDK refuses a request without it (as 0.3); ours takes either.
    const headers = { "content-type": "application/json", "a2a-version": "1.0", "content-length": Buffer.byteLength(body) };
    const req = request({ hostname, port, method: "POST", path: "/", agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const reply = JSON.parse(Buffer.concat(chunks).toString());
        if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
        else resolve(reply.result);
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The receiver child: acknowledges at once, counts, and reports when asked on stdin. */
async function runReceiver(): Promise<void> {
  const done: string[] = [];
  let count = 0;
  let last = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      res.writeHead(200).end();
      count++;
      last = now();
      const body = Buffer.concat(chunks).toString();
      if (body.includes("TASK_STATE_COMPLETED")) done.push(`done ${JSON.parse(body).statusUpdate.taskId} ${last}`);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
  process.stdin.on("data", () => {
    const lines = done.splice(0);
    lines.push(`count ${count} ${last}`);
    process.stdout.write(lines.join("\n") + "\n");
  });
  process.stdin.on("end", () => process.exit(0));
}

/**
 * The webhook HTTP client alone: CPU per POST of `WebhookSender.send()` (keep-alive `node:http`
 * agent, no signing) in a fresh process, over its first 2,000 POSTs (cold: code not yet
 * optimised, as in a 2,000-task e2e run) and the next 20,000 (warm), 64 at a time.
 */
async function httpClients(): Promise<Figures> {
  const children: ChildProcess[] = [];
  try {
    const receiver = spawnTs(["scripts/bench.ts", "--role", "receiver"], children);
    const url = `${await listening(receiver)}/webhook`;
    const figures: Figures = {};
    const poster = spawnTs(["scripts/bench.ts", "--role", "poster", "--url", url], children);
    const exited = new Promise((resolve) => poster.once("exit", resolve));
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, TIME_LIMIT_MS).unref())]);
    const line = takeLines(poster).find((l) => l.startsWith("{"));
    if (!line) throw new Error("the poster printed no figures");
    for (const [key, value] of Object.entries(JSON.parse(line) as Figures)) figures[`client_${key}`] = value;
    // Each webhook's JWT is one ES256 signature; this runtime's cost of one, in CPU.
    const { current } = await loadSigningKeys(mkdtempSync(join(tmpdir(), "bench-keys-")));
    const claims = { iss: "http://127.0.0.1:8001", aud: url, iat: 1, exp: 2, jti: "msg_bench", taskId: crypto.randomUUID(), body_sha256: "x".repeat(43) };
    await Promise.all(Array.from({ length: 200 }, () => signJwtAsync(claims, current))); // Warm up.
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: 2000 }, () => signJwtAsync(claims, current)));
    const used = process.cpuUsage(cpu);
    figures.es256_sign_cpu_us = Number(((used.user + used.system) / 2000).toFixed(1));
    return figures;
  } finally {
    await stopAll(children);
  }
}

/** The poster child: sends webhook-sized attempts and prints its CPU per POST, cold and warm. */
async function runPoster(url: string): Promise<void> {
  const sender = new WebhookSender({ ssrf: { allowPrivate: true }, maxSocketsPerOrigin: 64 });
  const body = JSON.stringify({ statusUpdate: { taskId: crypto.randomUUID(), contextId: crypto.randomUUID(), status: { state: "TASK_STATE_WORKING", timestamp: new Date().toISOString() } } });
  // A JWT-sized Authorization header, without the signing: that cost is measured apart.
  const attempt = { id: "msg_bench", taskId: "t1", url, body, authentication: { scheme: "Bearer", credentials: "x".repeat(400) } };
  const post = async () => {
    const outcome = await sender.send(attempt);
    if (!outcome.ok) throw new Error(`the receiver did not answer 200: ${outcome.error}`);
  };
  const phase = async (count: number) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    let sent = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (sent < count) {
        sent++;
        await post();
      }
    }));
    const used = process.cpuUsage(cpu);
    return { cpuUs: Number(((used.user + used.system) / count).toFixed(1)), perS: Math.round(count / ((performance.now() - start) / 1000)) };
  };
  const cold = await phase(2_000);
  const warm = await phase(20_000);
  console.log(JSON.stringify({ cold_cpu_us_per_post: cold.cpuUs, warm_cpu_us_per_post: warm.cpuUs, warm_posts_per_s: warm.perS }));
  sender.close();
}

/** The journal alone: group-committed appends per second, and one fsync's cost. */
async function journalAlone(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "bench-journal-"));
  try {
    const journal = await openJournal(dir, { warn: () => {} });
    const record = { type: "status", taskId: crypto.randomUUID(), status: { state: "TASK_STATE_WORKING", timestamp: new Date().toISOString() } };
    const single: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await journal.append(record);
      single.push(performance.now() - t);
    }
    single.sort((a, b) => a - b);
    const writers = 64;
    const perWriter = 500;
    const batchesBefore = journal.batchCount;
    const start = performance.now();
    await Promise.all(Array.from({ length: writers }, async () => {
      for (let i = 0; i < perWriter; i++) await journal.append(record);
    }));
    const seconds = (performance.now() - start) / 1000;
    const batches = journal.batchCount - batchesBefore;
    await journal.close();
    return {
      journal_fsync_append_ms: Number(single[single.length >> 1]!.toFixed(2)),
      journal_appends_per_s: Math.round((writers * perWriter) / seconds),
      journal_records_per_fsync: Math.round((writers * perWriter) / batches),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Start-up time with 0, 10k and 100k finished tasks in the journal, and memory at 100k. */
async function recovery(): Promise<Figures> {
  const figures: Figures = {};
  for (const count of [0, 10_000, 100_000]) {
    const dir = mkdtempSync(join(tmpdir(), "bench-recovery-"));
    const children: ChildProcess[] = [];
    try {
      await writeFinishedTasks(dir, count);
      const start = now();
      const agent = spawnTs(["scripts/long_running_agent.ts", "--port", "0", "--data-dir", dir, "--quiet"], children);
      const url = await listening(agent);
      const ms = now() - start;
      const client = new A2AClient(`${url}/`);
      if (count > 0) await client.listTasks({ pageSize: 1 }); // Serving, for real.
      figures[`recovery_${count / 1000}k_ms`] = Math.round(ms);
      figures[`rss_${count / 1000}k_mb`] = Math.round(rssKb(agent.pid!) / 1024);
    } finally {
      await stopAll(children);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  figures.recovery_100k_over_empty_ms = figures.recovery_100k_ms! - figures.recovery_0k_ms!;
  return figures;
}

/** A journal as compaction leaves it: one frozen record per finished task, history and report included. */
async function writeFinishedTasks(dir: string, count: number): Promise<void> {
  const journal = await openJournal(dir, { warn: () => {}, sync: false });
  const at = new Date().toISOString();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const id = crypto.randomUUID();
    const contextId = crypto.randomUUID();
    const agentMessage = (text: string) => ({ messageId: crypto.randomUUID(), role: "ROLE_AGENT" as const, parts: [{ text }], contextId, taskId: id });
    pending.push(journal.append(FrozenTask.of({
      id, contextId, status: { state: "TASK_STATE_COMPLETED", timestamp: at },
      history: [{ messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: { steps: 2, stepMs: 10 } }], contextId, taskId: id }, agentMessage("step 1/2"), agentMessage("step 2/2")],
      artifacts: [{ artifactId: "report", name: "report.txt", parts: [{ text: `Report for task ${id}\nstep 1/2 done at ${at}\nstep 2/2 done at ${at}\n2 steps completed.`, mediaType: "text/plain" }] }],
    })));
    if (pending.length >= 5000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await journal.close();
}

/** User + system CPU time of a process, in ms, from /proc (Linux; 10 ms resolution). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks (USER_HZ = 100).
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

function spawnTs(args: string[], children: ChildProcess[], options: { quiet?: boolean } = {}): ChildProcess {
  // BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to the children's node, for profiling.
  const flags = process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [];
  // Under Deno, the children run under Deno too, so a Deno run measures Deno end to end.
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const command = deno ? [deno.execPath(), "run", "-A", ...args] : [process.execPath, ...flags, "--import", "tsx", ...args];
  // Quiet: the SDK's sender logs every webhook it sends (on stderr, in tests/sdk_agent.ts).
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ["pipe", "pipe", options.quiet ? "ignore" : "inherit"] });
  children.push(child);
  (child as ChildProcess & { lines: string[] }).lines = [];
  let partial = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop()!;
    (child as ChildProcess & { lines: string[] }).lines.push(...parts);
  });
  return child;
}

function takeLines(child: ChildProcess): string[] {
  return (child as ChildProcess & { lines: string[] }).lines.splice(0);
}

async function listening(child: ChildProcess): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`child exited with ${child.exitCode}`);
    for (const line of takeLines(child)) {
      const match = /listening on (\S+)/.exec(line);
      if (match) return match[1]!;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("child did not listen within 60 s");
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    child.kill("SIGKILL");
  }));
}

await main();
