/**
 * An agent's metrics in the Prometheus text format (version 0.0.4), written by hand: it is a few
 * lines of text, `# HELP` and `# TYPE` and then `name{label="value"} number` per sample, and a
 * client library would be the project's first runtime dependency. `agentMetrics` reads what the
 * agent already counts (nothing here keeps state of its own) and `formatMetrics` writes it; the
 * route that serves it, behind the admin token, is `admin.ts`'s.
 *
 *   a2a_push_deliveries_total{outcome}     attempts by outcome: delivered, retry, dead, gone (410),
 *                                          and disabled (dead letters made without an attempt)
 *   a2a_push_pending, a2a_push_dead_letters, a2a_push_oldest_pending_seconds
 *   a2a_push_attempt_duration_seconds      histogram of webhook attempts
 *   a2a_tasks{state}                       tasks held, by state
 *   a2a_journal_fsync_seconds              histogram of the journal's fsyncs
 *   process_* and nodejs_heap_*            the process basics
 *
 * @module
 */

import process from "node:process";
import type { Agent } from "./agent.ts";
import type { Histogram } from "./histogram.ts";
import type { TaskState } from "./types.ts";

/** One metric: a family of samples, or a histogram. */
export interface MetricFamily {
  /** The name, e.g. `a2a_push_pending`. */
  name: string;
  /** One line saying what it counts. */
  help: string;
  type: "counter" | "gauge" | "histogram";
  /** A counter's or gauge's samples. @default [] */
  samples?: Array<{ labels?: Record<string, string>; value: number }>;
  /** A histogram's observations (type `histogram`). */
  histogram?: Histogram;
}

/** Every outcome `a2a_push_deliveries_total` counts, written even at zero so a rate is defined from the start. */
const OUTCOMES = ["delivered", "retry", "dead", "gone", "disabled"] as const;
/** Every task state, written even at zero, for the same reason. */
const STATES: readonly TaskState[] = ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED", "TASK_STATE_COMPLETED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_REJECTED"];
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Writes metric families in the Prometheus text format: for each, `# HELP`, `# TYPE`, then its
 * samples; a histogram as cumulative `_bucket{le}` lines ending in `+Inf`, then `_sum` and `_count`.
 *
 * @param families The metrics.
 * @returns The text, ending in a newline.
 * @throws {RangeError} If a metric or label name is not a valid Prometheus name.
 *
 * @example One counter with a label
 * ```ts
 * import { formatMetrics } from "./metrics.ts";
 * console.log(formatMetrics([{ name: "jobs_total", help: "Jobs done.", type: "counter", samples: [{ labels: { kind: "a" }, value: 3 }] }]));
 * // # HELP jobs_total Jobs done.
 * // # TYPE jobs_total counter
 * // jobs_total{kind="a"} 3
 * ```
 */
export function formatMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const { name, help, type, samples = [], histogram } of families) {
    if (!NAME.test(name)) throw new RangeError(`Cannot write metric ${JSON.stringify(name)}: not a Prometheus metric name`);
    lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
    for (const { labels, value } of samples) lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    if (histogram) {
      for (const [bound, count] of histogram.cumulative()) lines.push(`${name}_bucket${formatLabels({ le: formatValue(bound) })} ${count}`);
      lines.push(`${name}_bucket{le="+Inf"} ${histogram.count}`, `${name}_sum ${formatValue(histogram.sum)}`, `${name}_count ${histogram.count}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** `{a="x",b="y"}`, values escaped as the format says (backslash, quote, newline); empty for none. */
function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return "";
  for (const [key] of entries) if (!LABEL.test(key)) throw new RangeError(`Cannot write label ${JSON.stringify(key)}: not a Prometheus label name`);
  return `{${entries.map(([key, value]) => `${key}="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}

/**
 * What an agent counts, as metric families: its deliveries (when push is on), its tasks, its
 * journal's fsyncs and the process.
 *
 * @param agent The agent.
 * @param now The time, ms since the epoch, for the age of the oldest pending delivery. @default Date.now()
 * @returns The families, for {@linkcode formatMetrics}.
 *
 * @example An agent's metrics as text
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Agent } from "./agent.ts";
 * import { agentMetrics, formatMetrics } from "./metrics.ts";
 * const agent = await Agent.open({ dataDir: mkdtempSync(join(tmpdir(), "m-")), handler: () => {} });
 * console.log(formatMetrics(agentMetrics(agent))); // # HELP a2a_push_deliveries_total ...
 * await agent.close();
 * ```
 */
export function agentMetrics(agent: Agent, now: number = Date.now()): MetricFamily[] {
  const families: MetricFamily[] = [];
  const outbox = agent.outbox;
  if (outbox) {
    const outcomes = outbox.outcomeCounts();
    const oldest = outbox.oldestPendingAt();
    families.push(
      { name: "a2a_push_deliveries_total", help: "Webhook attempts by outcome since start: delivered (2xx), retry (failed, tried again later), dead (out of retries), gone (410: config deleted), disabled (a dead letter without an attempt: its endpoint is disabled).", type: "counter", samples: OUTCOMES.map((outcome) => ({ labels: { outcome }, value: outcomes.get(outcome) ?? 0 })) },
      { name: "a2a_push_pending", help: "Webhook deliveries owed: waiting for their attempt, or in flight.", type: "gauge", samples: [{ value: outbox.pendingCount }] },
      { name: "a2a_push_dead_letters", help: "Dead letters kept (replay or purge them with scripts/outbox.ts or the console at /admin/).", type: "gauge", samples: [{ value: outbox.deadCount }] },
      { name: "a2a_push_oldest_pending_seconds", help: "Age of the oldest delivery still owed; 0 when none is.", type: "gauge", samples: [{ value: oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000) }] },
      { name: "a2a_push_attempt_duration_seconds", help: "How long webhook attempts took, from send to answer (or error or timeout).", type: "histogram", histogram: outbox.attemptSeconds },
    );
  }
  const byState = new Map<string, number>();
  for (const { state } of agent.store.all()) byState.set(state, (byState.get(state) ?? 0) + 1);
  families.push(
    { name: "a2a_tasks", help: "Tasks held (finished ones until retention drops them), by state.", type: "gauge", samples: STATES.map((state) => ({ labels: { state }, value: byState.get(state) ?? 0 })) },
    { name: "a2a_journal_fsync_seconds", help: "How long each journal fsync took (one per group of appends; none with --no-fsync or a database).", type: "histogram", histogram: agent.fsyncSeconds },
    ...processMetrics(),
  );
  return families;
}

/** The process basics, under the names Prometheus client libraries use. */
function processMetrics(): MetricFamily[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return [
    { name: "process_cpu_seconds_total", help: "User and system CPU time spent, seconds.", type: "counter", samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
    { name: "process_resident_memory_bytes", help: "Resident memory size, bytes.", type: "gauge", samples: [{ value: memory.rss }] },
    { name: "process_start_time_seconds", help: "Start time of the process since the Unix epoch, seconds.", type: "gauge", samples: [{ value: Math.round(Date.now() / 1000 - process.uptime()) }] },
    { name: "nodejs_heap_size_used_bytes", help: "JavaScript heap in use, bytes.", type: "gauge", samples: [{ value: memory.heapUsed }] },
    { name: "nodejs_heap_size_total_bytes", help: "JavaScript heap allocated, bytes.", type: "gauge", samples: [{ value: memory.heapTotal }] },
  ];
}
