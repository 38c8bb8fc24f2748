/**
 * The soak run: does the agent stay bounded under steady load for minutes? It starts the demo
 * agent with `--max-finished-tasks`, sends tasks at a steady rate (each with a push config to a
 * receiver that acknowledges at once), samples the agent's resident memory and its journal's size
 * every few seconds, then restarts the agent on that journal and times its start-up.
 *
 *   npx tsx scripts/soak.ts [--rate 150] [--duration 5m] [--max-finished-tasks 20000] [--sample 5s]
 *
 * Prints a line per sample and a JSON summary: the peaks of RSS and journal size in the first and
 * the second half of the run (flat means the second half is not above the first by much), tasks
 * sent, webhooks acknowledged, and the restart time. Exits 1 if any task was refused or the agent
 * did not come back. Only addresses on 127.0.0.1 are used; every child is stopped by its pid.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { Agent as HttpAgent, createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { parseDuration } from "../lib/backoff.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const START_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  // 1. The flags.
  const { values } = parseArgs({
    options: {
      rate: { type: "string", default: "150" },
      duration: { type: "string", default: "5m" },
      "max-finished-tasks": { type: "string", default: "20000" },
      sample: { type: "string", default: "5s" },
      keep: { type: "boolean", default: false },
    },
  });
  const rate = Number(values.rate);
  const durationMs = parseDuration(values.duration!);
  const sampleMs = parseDuration(values.sample!);
  const dir = mkdtempSync(join(tmpdir(), "soak-"));
  const children: ChildProcess[] = [];
  try {
    // 2. A receiver that acknowledges at once and counts, in this process.
    let acknowledged = 0;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        acknowledged++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const webhook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/webhook`;

    // 3. The agent, bounded by count.
    const agentArgs = ["--port", "0", "--data-dir", dir, "--allow-private-webhooks", "--quiet", "--max-finished-tasks", values["max-finished-tasks"]!];
    let agent = startAgent(agentArgs, children);
    const send = jsonRpcSender(await agent.url);

    // 4. Steady load, and a sample every `sampleMs`.
    const samples: Array<{ atS: number; rssMb: number; journalMb: number; sent: number; acknowledged: number }> = [];
    let sent = 0;
    let refused = 0;
    const reasons = new Map<string, number>();
    const start = Date.now();
    const sampler = setInterval(() => {
      const sample = { atS: Math.round((Date.now() - start) / 1000), rssMb: rssMb(agent.child.pid!), journalMb: fileMb(join(dir, "journal.jsonl")), sent, acknowledged };
      samples.push(sample);
      console.log(`soak: t=${sample.atS}s rss=${sample.rssMb} MB journal=${sample.journalMb} MB sent=${sent} acknowledged=${acknowledged} refused=${refused}`);
    }, sampleMs);
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; Date.now() - start < durationMs; i++) {
      const due = start + (i * 1000) / rate;
      if (due > Date.now()) await delay(due - Date.now());
      const call = send("SendMessage", {
        message: { messageId: crypto.randomUUID(), role: "ROLE_USER", parts: [{ data: { steps: 1, stepMs: 0 } }] },
        configuration: { returnImmediately: true, taskPushNotificationConfig: { url: webhook } },
      }).then(() => void sent++, (error: Error) => {
        refused++;
        reasons.set(error.message, (reasons.get(error.message) ?? 0) + 1);
      }).finally(() => inFlight.delete(call));
      inFlight.add(call);
      if (inFlight.size > 1000) await Promise.race(inFlight); // Bounded, whatever the agent does.
    }
    await Promise.all(inFlight);
    clearInterval(sampler);

    // 5. Restart on the same journal and time start-up to serving.
    await stop(agent.child);
    const restartAt = Date.now();
    agent = startAgent(agentArgs, children);
    await agent.url;
    const restartMs = Date.now() - restartAt;
    const restartRssMb = rssMb(agent.child.pid!);

    // 6. The summary: peaks per half.
    const half = samples.filter((s) => s.atS * 1000 <= durationMs / 2);
    const second = samples.filter((s) => s.atS * 1000 > durationMs / 2);
    const peak = (list: typeof samples, key: "rssMb" | "journalMb") => Math.max(0, ...list.map((s) => s[key]));
    const summary = {
      soak: "a2a-push", rate, duration_s: durationMs / 1000, max_finished_tasks: Number(values["max-finished-tasks"]),
      sent, refused, refusals: Object.fromEntries(reasons), acknowledged,
      rss_peak_mb: { first_half: peak(half, "rssMb"), second_half: peak(second, "rssMb") },
      journal_peak_mb: { first_half: peak(half, "journalMb"), second_half: peak(second, "journalMb") },
      restart_ms: restartMs, restart_rss_mb: restartRssMb,
    };
    console.log(JSON.stringify(summary));
    receiver.closeAllConnections();
    receiver.close();
    if (refused > 0) process.exitCode = 1;
  } finally {
    for (const child of children) await stop(child);
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`soak: data kept in ${dir}`);
  }
}

function startAgent(args: string[], children: ChildProcess[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts/long_running_agent.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const url = new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`the agent did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
      if (output.length > 65_536) output = output.slice(-4096);
    });
    child.once("exit", (code) => reject(new Error(`the agent exited with ${code}`)));
  });
  url.catch(() => undefined);
  return { child, url };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** JSON-RPC POSTs over keep-alive `node:http`: a light load generator. */
function jsonRpcSender(baseUrl: string): (method: string, params: unknown) => Promise<unknown> {
  const { hostname, port } = new URL(baseUrl);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  let id = 0;
  return (method, params) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params });
    const req = request({ hostname, port, method: "POST", path: "/", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const reply = JSON.parse(Buffer.concat(chunks).toString());
        if (reply.error) reject(new Error(reply.error.message));
        else resolve(reply.result);
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", reject);
    req.end(body);
  });
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 102.4) / 10 : NaN;
}

function fileMb(path: string): number {
  try {
    return Math.round(statSync(path).size / 104_857.6) / 10;
  } catch {
    return 0;
  }
}

await main();
