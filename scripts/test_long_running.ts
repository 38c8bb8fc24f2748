/**
 * The tutorial, run: five scenarios that show a long-running A2A task whose notifications are
 * never lost, each printed as it runs, then a PASS/FAIL table (exit code 1 on any failure).
 *
 *   npx tsx scripts/test_long_running.ts          (npm run demo)
 *
 * It uses the agent (http://127.0.0.1:8001) and receiver (http://127.0.0.1:9000) you started by
 * hand, if both answer; otherwise it starts its own on free ports with temporary data directories.
 * Scenarios c (agent SIGKILL) and d (receiver outage) need processes it started itself; set
 * A2A_DEMO_OWN=1 to have it start its own even when yours are running. Every push config carries
 * the receiver's notification token: A2A_NOTIFICATION_TOKEN, or the file the receiver keeps in its
 * data directory (A2A_RECEIVER_DATA_DIR, default .data/receiver); A2A_RECEIVER_READ_TOKEN is sent
 * when reading the receiver's events, if you started it with one. Its own agent runs with
 * authentication on (a token file made for the run, one principal, "demo", whose token the client
 * sends and the receiver uses for GetTask); with yours, A2A_AGENT_TOKEN is the bearer token.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { A2AClient } from "../lib/client.ts";
import { NOTIFICATION_TOKEN_FILE } from "../lib/receiver.ts";
import { generateWebhookSecret, parseSecrets } from "../lib/signing.ts";
import { loadSigningKeys } from "../lib/signing_keys.ts";
import type { SigningKey } from "../lib/signing.ts";
import type { Task } from "../lib/types.ts";
import { WebhookSender } from "../lib/webhook_sender.ts";

const DEFAULT_AGENT_URL = "http://127.0.0.1:8001";
const DEFAULT_RECEIVER_URL = "http://127.0.0.1:9000";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WAIT_MS = 30_000;

interface ReceivedEvent { webhookId: string; taskId: string; kind: string; state?: string; text?: string; duplicates: number }

/** What the scenarios work with: URLs, and, when this script started them, control of the processes. */
interface Setup {
  agentUrl: string;
  receiverUrl: string;
  client: A2AClient;
  own: boolean;
  secret: string | undefined;
  /** The receiver's notification token, given to the agent in every push config. */
  token: string;
  /** Sent as a bearer token when reading the receiver's events and results, if set. */
  readToken: string | undefined;
  agentDataDir: string;
  restartAgent?: () => Promise<void>;
  stopReceiver?: () => Promise<void>;
  startReceiver?: () => Promise<void>;
  stop(): Promise<void>;
}

async function main(): Promise<number> {
  // 1. Find a running agent and receiver, or start our own.
  const setup = await setUp();
  console.log(setup.own ? `Started our own agent (${setup.agentUrl}, callers need a bearer token: this run's is the principal "demo"'s) and receiver (${setup.receiverUrl}, fetching results as "demo").` : `Using the running agent (${setup.agentUrl}) and receiver (${setup.receiverUrl}).`);

  // 2. Run the scenarios in order, each printed as it runs.
  const scenarios: Array<[string, (s: Setup) => Promise<string | void>]> = [
    ["a. quick task, blocking SendMessage", quickTask],
    ["b. long task: stream, disconnect, webhook, fetch", longTaskWithWebhook],
    ["c. agent SIGKILLed mid-task, restarted", agentRestart],
    ["d. receiver down while the task completes", receiverOutage],
    ["e. forged, replayed, tampered and strangers' webhooks", forgery],
  ];
  const results: Array<{ name: string; result: string; seconds: string; note: string }> = [];
  try {
    for (const [name, scenario] of scenarios) {
      console.log(`\n▶ ${name}`);
      const started = performance.now();
      let result = "PASS";
      let note = "";
      try {
        note = (await scenario(setup)) ?? "";
        if (note.startsWith("SKIP")) [result, note] = ["SKIP", note.slice(5)];
      } catch (error) {
        [result, note] = ["FAIL", (error as Error).message];
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`  ${result}${note ? `: ${note}` : ""} (${seconds} s)`);
      results.push({ name, result, seconds, note });
    }
  } finally {
    await setup.stop();
  }

  // 3. Summarise.
  console.log("\n  scenario                                              result   time");
  for (const r of results) console.log(`  ${r.name.padEnd(54)}${r.result.padEnd(9)}${r.seconds} s`);
  const count = (result: string) => results.filter((r) => r.result === result).length;
  const failed = count("FAIL");
  console.log(`\n${count("PASS")} passed, ${failed} failed, ${count("SKIP")} skipped`);
  return failed > 0 ? 1 : 0;
}

/** a. The simplest call: SendMessage waits until the task is done. */
async function quickTask({ client }: Setup): Promise<void> {
  const { task } = await client.sendMessage({ message: message({ steps: 0 }) });
  expect(task.status.state === "TASK_STATE_COMPLETED", `task ended ${task.status.state}`);
  expect(reportOf(task).includes("0 steps completed"), "report artifact missing");
  console.log(`  task ${task.id} completed with its report`);
}

/** b. Stream a long task, hang up after the first event, and follow it through webhooks instead. */
async function longTaskWithWebhook(setup: Setup): Promise<void> {
  const steps = 5;
  const controller = new AbortController();
  const stream = setup.client.sendStreamingMessage({ message: message({ steps, stepMs: 300 }), configuration: { taskPushNotificationConfig: pushConfig(setup) } }, { signal: controller.signal });
  const first = (await stream.next().catch((error: Error) => {
    const hint = /refused/.test(error.message) ? " (start the agent with --allow-private-webhooks to let it call a receiver on this machine)" : "";
    throw new Error(`${error.message}${hint}`);
  })).value as { task: Task };
  controller.abort();
  await stream.return(undefined);
  console.log(`  task ${first.task.id} started; stream dropped after the first event`);
  await waitForEvent(setup, first.task.id, "TASK_STATE_COMPLETED", steps);
  const result = await waitFor(() => receiverResult(setup, first.task.id), "the receiver to fetch the result");
  for (let step = 1; step <= steps; step++) expect(reportOf(result).includes(`step ${step}/${steps} done`), `report lacks step ${step}`);
  console.log(`  receiver fetched the result: ${result.artifacts?.length} artifact, ${steps} steps`);
}

/** c. Kill the agent with SIGKILL mid-task: the task and its notifications survive. */
async function agentRestart(setup: Setup): Promise<string | void> {
  if (!setup.restartAgent) return "SKIP the agent was not started by this script; try it by hand: Ctrl-C it mid-task and start it again";
  const steps = 6;
  const { task } = await setup.client.sendMessage({ message: message({ steps, stepMs: 250 }), configuration: { returnImmediately: true, taskPushNotificationConfig: pushConfig(setup) } });
  await waitForEvent(setup, task.id, "TASK_STATE_WORKING", steps, "step 2/");
  console.log("  SIGKILL the agent during step 3, then start it again");
  await setup.restartAgent();
  await waitForEvent(setup, task.id, "TASK_STATE_COMPLETED", steps);
  const completions = (await receiverEvents(setup)).filter((e) => e.taskId === task.id && e.state === "TASK_STATE_COMPLETED");
  expect(completions.length === 1, `${completions.length} completion events accepted`);
  const result = await waitFor(() => receiverResult(setup, task.id), "the result");
  for (let step = 1; step <= steps; step++) expect(reportOf(result).split(`step ${step}/${steps} done`).length === 2, `step ${step} not exactly once`);
  console.log(`  completed once (${completions[0]!.duplicates} duplicate deliveries ignored); each step ran once`);
}

/** d. The receiver is down when the task completes; the retry loop delivers once it is back. */
async function receiverOutage(setup: Setup): Promise<string | void> {
  if (!setup.stopReceiver || !setup.startReceiver) return "SKIP the receiver was not started by this script; try it by hand: stop it, run a task, start it again";
  await setup.stopReceiver();
  const { task } = await setup.client.sendMessage({ message: message({ steps: 2, stepMs: 100 }), configuration: { taskPushNotificationConfig: pushConfig(setup) } });
  expect(task.status.state === "TASK_STATE_COMPLETED", `task ended ${task.status.state}`);
  console.log("  the task completed while the receiver was down; starting the receiver again");
  await setup.startReceiver();
  await waitForEvent(setup, task.id, "TASK_STATE_COMPLETED", 2);
  console.log("  the completion arrived from the retry loop");
}

/**
 * e. Webhooks an attacker could send: each must be refused and never recorded. The forged ones
 * carry the notification token, as if it had leaked, so that the signatures are what refuse them;
 * the agent's own signature on a push config a stranger made to this URL lacks the token.
 */
async function forgery(setup: Setup): Promise<string | void> {
  const url = `${setup.receiverUrl}/webhook`;
  const jwks = (await (await fetch(`${setup.agentUrl}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
  // The attacker's own key, under the agent's key id; and a secret that is not the real one.
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const forger = { kid: jwks.keys[0]?.kid ?? "none", privateKey, createdAt: 0 } as unknown as SigningKey;
  const attacker = new WebhookSender({ secrets: parseSecrets(generateWebhookSecret()), keys: () => ({ current: forger }), issuer: () => setup.agentUrl });
  const body = JSON.stringify({ statusUpdate: { taskId: "forged-task", contextId: "c", status: { state: "TASK_STATE_COMPLETED", timestamp: new Date().toISOString() } } });
  const attempts: Array<[string, Record<string, string>, string]> = [];
  const forged = () => ({ id: `msg_forged${crypto.randomUUID().replaceAll("-", "")}`, taskId: "forged-task", url, body, token: setup.token });
  attempts.push(["bad signature", attacker.headers(forged()), body]);
  const replayed = attacker.headers(forged());
  replayed["webhook-timestamp"] = String(Math.floor(Date.now() / 1000) - 600);
  attempts.push(["replayed, 10 minutes old", replayed, body]);
  // Tampering needs a genuine signature to tamper with: the agent's key or the shared secret.
  const genuine = await genuineSender(setup);
  let note = "";
  if (genuine) {
    attempts.push(["tampered body", genuine.headers(forged()), body.replace("COMPLETED", "FAILED")]);
    attempts.push(["signed by the agent, for a stranger's push config", genuine.headers({ ...forged(), token: undefined }), body]);
  } else note = "tampered-body and stranger checks not run: need the agent's data dir or A2A_WEBHOOK_SECRET";
  for (const [name, headers, payload] of attempts) {
    const response = await fetch(url, { method: "POST", headers, body: payload });
    const answer = (await response.json()) as { reason?: string };
    expect(response.status === 401 || response.status === 400, `${name} was answered ${response.status}`);
    console.log(`  ${name}: refused, HTTP ${response.status} ${answer.reason}`);
  }
  const recorded = (await receiverEvents(setup)).filter((e) => e.taskId === "forged-task");
  expect(recorded.length === 0, "a forged webhook was recorded");
  return note;
}

// ---- helpers, in the order the scenarios use them ----

/** A push config to the receiver, with the token that shows the receiver's owner made it. */
function pushConfig(setup: Setup) {
  return { url: `${setup.receiverUrl}/webhook`, token: setup.token };
}

function message(data: unknown) {
  return { messageId: crypto.randomUUID(), role: "ROLE_USER" as const, parts: [{ data }] };
}

function expect(condition: unknown, failure: string): asserts condition {
  if (!condition) throw new Error(failure);
}

function reportOf(task: Task): string {
  return task.artifacts?.find((a) => a.artifactId === "report")?.parts[0]?.text ?? "";
}

async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await delay(50);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

async function receiverEvents(setup: Setup): Promise<ReceivedEvent[]> {
  const response = await fetch(`${setup.receiverUrl}/events`, { headers: readHeaders(setup.readToken) }).catch(() => undefined);
  return response?.ok ? ((await response.json()) as { events: ReceivedEvent[] }).events : [];
}

async function receiverResult(setup: Setup, taskId: string): Promise<Task | undefined> {
  const response = await fetch(`${setup.receiverUrl}/tasks/${taskId}`, { headers: readHeaders(setup.readToken) }).catch(() => undefined);
  return response?.ok ? ((await response.json()) as Task) : undefined;
}

/** Waits for an accepted event of `state` (and `text`), drawing a progress bar from the step webhooks. */
async function waitForEvent(setup: Setup, taskId: string, state: string, steps: number, text?: string): Promise<void> {
  let shown = -1;
  await waitFor(async () => {
    const events = (await receiverEvents(setup)).filter((e) => e.taskId === taskId);
    const done = Math.max(0, ...events.map((e) => Number(/^step (\d+)\//.exec(e.text ?? "")?.[1] ?? 0)));
    if (done !== shown) {
      shown = done;
      console.log(`  [${"#".repeat(done).padEnd(steps, ".")}] ${done}/${steps} steps (from webhooks)`);
    }
    return events.some((e) => e.state === state && (!text || e.text?.startsWith(text)));
  }, `a ${state} webhook for task ${taskId}`);
}

/** A sender that signs as the agent does, if this script can: the agent's keys and/or the secret. */
async function genuineSender(setup: Setup): Promise<WebhookSender | undefined> {
  const haveKeys = existsSync(join(setup.agentDataDir, "signing_keys.json"));
  if (!haveKeys && !setup.secret) return undefined;
  const keys = haveKeys ? await loadSigningKeys(setup.agentDataDir) : undefined;
  return new WebhookSender({ secrets: parseSecrets(setup.secret), keys: () => keys, issuer: () => setup.agentUrl });
}

function readHeaders(readToken: string | undefined): Record<string, string> {
  return readToken ? { authorization: `Bearer ${readToken}` } : {};
}

async function answers(url: string, readToken?: string): Promise<boolean> {
  return fetch(url, { headers: readHeaders(readToken), signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
}

/** The receiver's notification token: given, or from the file the receiver made in its data directory. */
function notificationToken(receiverDataDir: string): string {
  const file = join(receiverDataDir, NOTIFICATION_TOKEN_FILE);
  if (process.env.A2A_NOTIFICATION_TOKEN) return process.env.A2A_NOTIFICATION_TOKEN;
  if (!existsSync(file)) throw new Error(`No notification token: set A2A_NOTIFICATION_TOKEN to the receiver's --token, or A2A_RECEIVER_DATA_DIR to its data directory (no ${file})`);
  return readFileSync(file, "utf8").trim();
}

async function setUp(): Promise<Setup> {
  // A2A_DEMO_OWN=1 always starts our own processes (the test suite does, to control them).
  const useRunning = process.env.A2A_DEMO_OWN !== "1";
  const readToken = process.env.A2A_RECEIVER_READ_TOKEN || undefined;
  if (useRunning && (await answers(`${DEFAULT_AGENT_URL}/.well-known/agent-card.json`)) && (await answers(`${DEFAULT_RECEIVER_URL}/events`, readToken))) {
    return {
      agentUrl: DEFAULT_AGENT_URL, receiverUrl: DEFAULT_RECEIVER_URL, client: new A2AClient(`${DEFAULT_AGENT_URL}/`, { token: process.env.A2A_AGENT_TOKEN || undefined }), own: false,
      secret: process.env.A2A_WEBHOOK_SECRET, token: notificationToken(process.env.A2A_RECEIVER_DATA_DIR ?? join(ROOT, ".data/receiver")), readToken,
      agentDataDir: process.env.A2A_DATA_DIR ?? join(ROOT, ".data/agent"), stop: async () => {},
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "a2a-push-demo-"));
  const [agentPort, receiverPort] = [await freePort(), await freePort()];
  const agentUrl = `http://127.0.0.1:${agentPort}`;
  const receiverUrl = `http://127.0.0.1:${receiverPort}`;
  const secret = generateWebhookSecret();
  // Callers authenticate: one principal for this run, "demo". Its receiver fetches results as it.
  const agentToken = randomBytes(24).toString("hex");
  writeFileSync(join(dir, "tokens"), `demo ${agentToken}\n`, { mode: 0o600 });
  // Yours may be set in this shell: ours make their own token, and read from loopback.
  const env = { A2A_WEBHOOK_SECRET: secret, A2A_NOTIFICATION_TOKEN: "", A2A_RECEIVER_READ_TOKEN: "", A2A_NO_PROOF: "", A2A_AGENT_TOKEN: agentToken };
  const agentArgs = ["--port", String(agentPort), "--data-dir", join(dir, "agent"), "--auth-tokens", join(dir, "tokens"), "--allow-private-webhooks", "--retry-schedule", "0,250ms,500ms,1s,2s,2s,2s,2s,2s,2s,2s,2s"];
  const receiverArgs = ["--port", String(receiverPort), "--data-dir", join(dir, "receiver"), "--agent-url", agentUrl];
  let agent = await startChild("scripts/long_running_agent.ts", agentArgs, env);
  let receiver: ChildProcess | undefined = await startChild("scripts/webhook_receiver.ts", receiverArgs, env);
  // Our receiver made its token at first start, as yours did: read it where it keeps it.
  const token = readFileSync(join(dir, "receiver", NOTIFICATION_TOKEN_FILE), "utf8").trim();
  return {
    agentUrl, receiverUrl, client: new A2AClient(`${agentUrl}/`, { token: agentToken }), own: true, secret, token, readToken: undefined, agentDataDir: join(dir, "agent"),
    restartAgent: async () => {
      await stopChild(agent, "SIGKILL");
      agent = await startChild("scripts/long_running_agent.ts", agentArgs, env);
    },
    stopReceiver: async () => {
      await stopChild(receiver, "SIGTERM");
      receiver = undefined;
    },
    startReceiver: async () => {
      receiver = await startChild("scripts/webhook_receiver.ts", receiverArgs, env);
    },
    stop: async () => {
      await Promise.all([stopChild(agent, "SIGTERM"), stopChild(receiver, "SIGTERM")]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a script with the runtime running this one (Node with tsx, or Deno) and waits for `listening on`. */
async function startChild(script: string, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const command = deno ? [deno.execPath(), "run", "-A", join(ROOT, script)] : [process.execPath, "--import", "tsx", join(ROOT, script)];
  const child = spawn(command[0]!, [...command.slice(1), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`${script} exited:\n${output}`);
    return output.includes("listening on");
  }, `${script} to listen`);
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await Promise.race([exited, delay(5000)]);
  child.kill("SIGKILL");
}

process.exitCode = await main();
