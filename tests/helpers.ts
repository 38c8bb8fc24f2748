/**
 * Test helpers: temporary directories, child processes that print `listening on URL`, and bounded
 * waits on events (never fixed sleeps).
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * A fresh temporary directory, removed when the process exits.
 *
 * @param prefix Name prefix.
 * @returns Its path.
 */
export function tempDir(prefix = "a2a-push-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

const tempDirs = new Set<string>();
process.once("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Polls `check` until it returns a truthy value, at most `timeoutMs`.
 *
 * @param check The condition; may be async.
 * @param options `timeoutMs` (default 10 s), `intervalMs` (default 10), `what` for the error.
 * @returns What `check` returned.
 * @throws {Error} On timeout, naming `what`.
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<Exclude<T, undefined | null | false | 0 | "">> {
  const { timeoutMs = 10_000, intervalMs = 10, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value) return value as Exclude<T, undefined | null | false | 0 | "">;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

/** A child process started by {@linkcode startScript}. */
export interface ChildScript {
  child: ChildProcess;
  /** The URL from its `listening on` line. */
  url: string;
  /** Everything it printed so far. */
  output(): string;
  /** SIGKILL (or another signal) and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/**
 * Runs a TypeScript script under tsx in a child process and waits for its `listening on URL` line.
 *
 * @param script Path relative to the repository root.
 * @param args Its arguments.
 * @param options `env` additions, `timeoutMs` for the start (default 20 s).
 * @returns The running child.
 * @throws {Error} If it exits or does not listen in time, with its output.
 */
export async function startScript(script: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ChildScript> {
  const { env = {}, timeoutMs = 20_000 } = options;
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => children.delete(child));
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  try {
    const match = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}:\n${output}`);
      return /listening on (\S+)/.exec(output);
    }, { timeoutMs, what: `${script} to listen` });
    return { child, url: match![1]!, output: () => output, kill };
  } catch (error) {
    await kill();
    throw new Error(`${(error as Error).message}\n--- output ---\n${output}`);
  }
}

/**
 * A JSON-RPC call with a raw body, for tests of bad input.
 *
 * @param url The endpoint.
 * @param body The raw body.
 * @param headers Extra headers.
 * @returns Status and parsed body (or text).
 */
export async function rawPost(url: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: body as BodyInit });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

/**
 * A user message with a data part, as the demo agent takes it.
 *
 * @param data The data part.
 * @param extra Other message fields.
 * @returns The message.
 */
export function userMessage(data: unknown, extra: Record<string, unknown> = {}) {
  return { messageId: crypto.randomUUID(), role: "ROLE_USER" as const, parts: [{ data }], ...extra };
}

import { Agent } from "../lib/agent.ts";
import type { AgentOptions } from "../lib/agent.ts";
import { A2AClient } from "../lib/client.ts";
import { createAgentServer } from "../lib/server.ts";
import type { AgentServerOptions } from "../lib/server.ts";

/** An agent served on a free loopback port, with a client. */
export interface TestAgent {
  agent: Agent;
  url: string;
  client: A2AClient;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Opens an agent in this process and serves it on 127.0.0.1 with a free port.
 *
 * @param options Agent options; `dataDir` defaults to a fresh temp dir.
 * @param serverOptions Server options.
 * @returns The running agent.
 */
export async function startAgent(options: Partial<AgentOptions> & Pick<AgentOptions, "handler">, serverOptions: AgentServerOptions = {}): Promise<TestAgent> {
  const dataDir = options.dataDir ?? tempDir();
  const agent = await Agent.open({ warn: () => {}, ...options, dataDir });
  const server = createAgentServer(agent, serverOptions);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  agent.startDelivery(url);
  return {
    agent,
    url,
    dataDir,
    client: new A2AClient(`${url}/`),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await agent.close();
    },
  };
}

import { createServer } from "node:http";
import type { IncomingHttpHeaders } from "node:http";

/** One request a {@linkcode startTestReceiver} saw. */
export interface SeenRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** How many times this webhook-id was seen, this one included. */
  attempt: number;
}

/** What the scripted receiver answers: a status (and headers), or "hang" to never answer. */
export type ScriptedAnswer = { status: number; headers?: Record<string, string> } | "hang";

/**
 * A loopback HTTP server that records every request and answers as `answer` says.
 *
 * @param answer Decides the answer from the request (default 200).
 * @param port Port to listen on (default: a free one).
 * @returns The URL of `/webhook`, the requests seen, and close().
 */
export async function startTestReceiver(answer: (seen: SeenRequest) => ScriptedAnswer | Promise<ScriptedAnswer> = () => ({ status: 200 }), port = 0) {
  const seen: SeenRequest[] = [];
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const id = String(req.headers["webhook-id"] ?? "");
      counts.set(id, (counts.get(id) ?? 0) + 1);
      const request: SeenRequest = { path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now(), attempt: counts.get(id)! };
      seen.push(request);
      const reply = await answer(request);
      if (reply === "hang") return;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/webhook`,
    port: address.port,
    seen,
    /** Accepted (2xx-answered) bodies in arrival order are not tracked here: use `seen` with your `answer`. */
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port with nothing listening on it (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Push options for tests: loopback allowed, millisecond retries, short timeout. */
export const TEST_PUSH = { ssrf: { allowPrivate: true }, schedule: [0, 20, 40, 60, 80, 100], timeoutMs: 2000, secrets: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" };

/**
 * Resolves to "resolved" if `promise` settles within `ms`, else "pending": for asserting that
 * something is still held back, with a bound.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<"resolved" | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<"pending">((resolve) => (timer = setTimeout(() => resolve("pending"), ms)));
  try {
    return await Promise.race([promise.then(() => "resolved" as const), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` is still pending after `turns` turns of the event loop (journal writes included). */
export async function stillWaiting(promise: Promise<unknown>, turns = 5): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  return !settled;
}

/**
 * A finished task whose text is awkward for a JSON reader that cuts corners: quotes and a `"task":`
 * inside a message, non-ASCII data, and the context id as given.
 *
 * @param contextId Its context id (tests vary it to shift the line's bytes).
 * @returns The task.
 */
export function finishedTask(contextId: string): import("../lib/types.ts").Task {
  return {
    id: "t-1",
    contextId,
    status: { state: "TASK_STATE_COMPLETED", timestamp: "2026-11-24T00:00:00.000Z" },
    history: [{ messageId: "m", role: "ROLE_USER", parts: [{ text: 'quote " and ,"task": inside' }] }],
    artifacts: [{ artifactId: "a", parts: [{ data: { nested: ["ü", 1, null] } }] }],
  };
}
