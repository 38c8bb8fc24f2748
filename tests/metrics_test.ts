/**
 * Metrics: `formatMetrics()` read back by a small parser of the Prometheus text format (HELP and
 * TYPE before a family's samples, label syntax and escapes, histogram buckets cumulative and ending
 * in +Inf, with _sum and _count), and an agent's `GET /metrics` after a run, whose counters must
 * match what a test receiver saw: each 2xx it answered is one `delivered`, each 500 one `retry`.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram } from "../lib/histogram.ts";
import { formatMetrics } from "../lib/metrics.ts";
import { TEST_PUSH, startAgent, startScript, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

/**
 * Parses the Prometheus text format strictly enough to catch what a scraper would refuse: every
 * sample belongs to a family declared above it, label values are quoted with only \\, \" and \n
 * escaped, values are numbers (or +Inf, -Inf, NaN), and histograms are well formed.
 */
function parsePrometheus(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const families = new Map<string, Family>();
  const familyOf = (name: string) => {
    for (const suffix of ["", "_bucket", "_sum", "_count"]) {
      const family = families.get(suffix ? name.slice(0, -suffix.length) : name);
      if (name.endsWith(suffix) && family && (suffix === "" || family.type === "histogram")) return family;
    }
    assert.fail(`sample ${name} before its # TYPE`);
  };
  for (const line of text.slice(0, -1).split("\n")) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      const family = families.get(name!) ?? { help: "", type: "", samples: [] };
      families.set(name!, family);
      if (kind === "HELP") family.help = rest!.replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
      else {
        assert.match(rest!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        assert.equal(family.samples.length, 0, `TYPE of ${name} after its samples`);
        family.type = rest!;
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `not a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText = "", valueText] = sample;
    const labels: Record<string, string> = {};
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    for (let match = labelPattern.exec(labelText); match; match = labelPattern.exec(labelText)) {
      labels[match[1]!] = match[2]!.replace(/\\(["\\n])/g, (_all, c: string) => (c === "n" ? "\n" : c));
      if (labelPattern.lastIndex === labelText.length) break;
    }
    assert.ok(labelText === "" || labelPattern.lastIndex === labelText.length, `bad labels in ${line}`);
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    assert.ok(valueText === "NaN" || !Number.isNaN(value), `bad value in ${line}`);
    familyOf(name!).samples.push({ name: name!, labels, value });
  }
  for (const [name, family] of families) {
    assert.ok(family.help && family.type, `${name} has HELP and TYPE`);
    if (family.type !== "histogram") continue;
    const buckets = family.samples.filter((s) => s.name === `${name}_bucket`);
    assert.equal(buckets.at(-1)?.labels.le, "+Inf", `${name} ends in +Inf`);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(Number(buckets[i]!.labels.le === "+Inf" ? Infinity : buckets[i]!.labels.le) > Number(buckets[i - 1]!.labels.le), `${name} bounds ascend`);
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name} buckets are cumulative`);
    }
    const count = family.samples.find((s) => s.name === `${name}_count`);
    assert.ok(count && family.samples.some((s) => s.name === `${name}_sum`), `${name} has _sum and _count`);
    assert.equal(buckets.at(-1)!.value, count.value, `${name}: +Inf is the count`);
  }
  return families;
}

/** The value of the one sample of `name` with `labels`. */
function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, "")) ?? families.get(name);
  const found = family?.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found?.length, 1, `one sample ${name} ${JSON.stringify(labels)}`);
  return found![0]!.value;
}

test("formatMetrics() writes HELP and TYPE, escapes label values and help, and a histogram as cumulative buckets ending in +Inf with _sum and _count", () => {
  const histogram = new Histogram([0.1, 1]);
  for (const value of [0.05, 0.5, 0.7, 3]) histogram.observe(value);
  const text = formatMetrics([
    { name: "jobs_total", help: "Jobs, with a \\ and a\nnewline.", type: "counter", samples: [{ labels: { kind: 'say "hi"\\\n' }, value: 3 }, { labels: { kind: "b" }, value: Infinity }] },
    { name: "job_seconds", help: "Durations.", type: "histogram", histogram },
  ]);
  assert.equal(text, [
    "# HELP jobs_total Jobs, with a \\\\ and a\\nnewline.",
    "# TYPE jobs_total counter",
    'jobs_total{kind="say \\"hi\\"\\\\\\n"} 3',
    'jobs_total{kind="b"} +Inf',
    "# HELP job_seconds Durations.",
    "# TYPE job_seconds histogram",
    'job_seconds_bucket{le="0.1"} 1',
    'job_seconds_bucket{le="1"} 3',
    'job_seconds_bucket{le="+Inf"} 4',
    "job_seconds_sum 4.25",
    "job_seconds_count 4",
    "",
  ].join("\n"));
  const families = parsePrometheus(text);
  assert.equal(families.get("jobs_total")!.samples[0]!.labels.kind, 'say "hi"\\\n', "the parser reads the escapes back");
  assert.equal(families.get("jobs_total")!.help, "Jobs, with a \\ and a\nnewline.");
});

test("formatMetrics() refuses a metric or label name Prometheus would not read", () => {
  assert.throws(() => formatMetrics([{ name: "bad-name", help: "x", type: "gauge" }]), RangeError);
  assert.throws(() => formatMetrics([{ name: "ok", help: "x", type: "gauge", samples: [{ labels: { "bad-label": "v" }, value: 1 }] }]), RangeError);
});

test("GET /metrics parses as Prometheus text after a run, and its counters match the webhooks the receiver saw: delivered = 2xx answered, retry = 500s", async () => {
  let requests = 0;
  const receiver = await startTestReceiver(() => ({ status: ++requests % 4 === 0 ? 500 : 200 }));
  const t = await startAgent({ handler: async (_task, ctx) => void (await ctx.working("step 1/1")), push: { ...TEST_PUSH, adminToken: "admin" } });
  try {
    const tasks = 6;
    for (let i = 0; i < tasks; i++) await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.pendingCount === 0, { timeoutMs: 10_000, what: "every webhook acknowledged" });
    const response = await fetch(`${t.url}/metrics`, { headers: { authorization: "Bearer admin" } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheus(await response.text());

    const acknowledged = receiver.seen.length - Math.floor(receiver.seen.length / 4);
    assert.ok(acknowledged >= tasks * 3, `at least a Task, an update and the final per task: ${acknowledged}`);
    assert.equal(valueOf(families, "a2a_push_deliveries_total", { outcome: "delivered" }), acknowledged);
    assert.equal(valueOf(families, "a2a_push_deliveries_total", { outcome: "retry" }), receiver.seen.length - acknowledged);
    for (const outcome of ["dead", "gone", "disabled"]) assert.equal(valueOf(families, "a2a_push_deliveries_total", { outcome }), 0, outcome);
    assert.equal(families.get("a2a_push_deliveries_total")!.type, "counter");
    assert.equal(valueOf(families, "a2a_push_attempt_duration_seconds_count"), receiver.seen.length, "one observation per attempt");
    assert.equal(valueOf(families, "a2a_push_pending"), 0);
    assert.equal(valueOf(families, "a2a_push_dead_letters"), 0);
    assert.equal(valueOf(families, "a2a_push_oldest_pending_seconds"), 0);
    assert.equal(valueOf(families, "a2a_tasks", { state: "TASK_STATE_COMPLETED" }), tasks);
    assert.equal(valueOf(families, "a2a_tasks", { state: "TASK_STATE_WORKING" }), 0);
    assert.equal(families.get("a2a_tasks")!.samples.length, 8, "every state, zeros too");
    assert.ok(valueOf(families, "a2a_journal_fsync_seconds_count") > 0, "the journal fsyncs");
    assert.ok(valueOf(families, "process_resident_memory_bytes") > 0);
    assert.ok(valueOf(families, "process_cpu_seconds_total") > 0);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("GET /metrics needs the admin token unless publicMetrics, and an agent without push has task metrics but no push ones", async () => {
  const guarded = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, adminToken: "admin" } });
  const open = await startAgent({ handler: () => {}, push: false }, { publicMetrics: true });
  const noToken = await startAgent({ handler: () => {}, push: false });
  try {
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Array<Record<string, string>>) {
      const refused = await fetch(`${guarded.url}/metrics`, { headers });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="a2a-push admin"');
    }
    assert.equal((await fetch(`${noToken.url}/metrics`)).status, 401, "no push, no admin token: only a public /metrics answers");
    const answered = await fetch(`${open.url}/metrics`);
    assert.equal(answered.status, 200);
    const families = parsePrometheus(await answered.text());
    assert.ok(families.has("a2a_tasks"));
    assert.ok(![...families.keys()].some((name) => name.startsWith("a2a_push_")), [...families.keys()].join(" "));
    assert.equal((await fetch(`${open.url}/metrics`, { method: "POST" })).status, 405);
  } finally {
    await Promise.all([guarded.close(), open.close(), noToken.close()]);
  }
});

test("long_running_agent.ts --public-metrics answers GET /metrics without the token, and a --disable-after that is not a duration stops the start", async () => {
  const agent = await startScript("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", tempDir(), "--public-metrics", "--disable-after", "never"]);
  try {
    // Printed just after the "listening on" line startScript waits for: it may come in a later chunk.
    const line = await waitFor(() => /outbox console: .*/.exec(agent.output())?.[0], { what: "the console line" });
    assert.match(line, /^outbox console: http:\/\/127\.0\.0\.1:\d+\/admin\/ \(admin token in .*admin_token\); metrics: \/metrics \(public\)$/);
    const response = await fetch(`${agent.url}/metrics`);
    assert.equal(response.status, 200);
    assert.ok(parsePrometheus(await response.text()).has("a2a_push_deliveries_total"));
  } finally {
    await agent.kill();
  }
  await assert.rejects(startScript("scripts/long_running_agent.ts", ["--port", "0", "--data-dir", tempDir(), "--disable-after", "soon"]), /Cannot parse duration "soon"/);
});
