/**
 * Endpoint health: the pure rules of `endpoint_health.ts` on a fake clock, then an agent whose
 * outbox clock the test moves on by days, sending to a test receiver that counts every attempt:
 * disabled after `disableAfterMs` of failures, dead letters without attempts, one log line, kept
 * across compaction and a restart, enabled again through the admin API, a success resetting the
 * clock. The CLI's `enable` is tried in `outbox_script_test.ts`.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { EndpointHealth, endpointOf, reportEndpoints } from "../lib/endpoint_health.ts";
import { OriginHealth } from "../lib/origin_health.ts";
import { TEST_PUSH, startAgent, startTestReceiver, userMessage, waitFor } from "./helpers.ts";
import type { TestAgent } from "./helpers.ts";

const DAY = 24 * 3600 * 1000;
const URL_A = "https://hooks.example/a2a?key=secret";
const ADMIN = "admin-secret";

test("endpointOf() keeps scheme, host, port and path, and drops the query, the fragment and credentials", () => {
  assert.equal(endpointOf("HTTPS://user:pw@Hooks.Example:443/a2a?key=secret#frag"), "https://hooks.example/a2a");
  assert.equal(endpointOf("http://127.0.0.1:9000/webhook"), "http://127.0.0.1:9000/webhook");
  assert.notEqual(endpointOf("http://h/a"), endpointOf("http://h/b"), "the path tells endpoints apart");
  assert.notEqual(endpointOf("http://h:1/a"), endpointOf("http://h:2/a"), "so does the port");
  assert.throws(() => endpointOf("not a url"), TypeError);
});

test("EndpointHealth.record() disables an endpoint only once every attempt has failed for disableAfterMs, and says so once", () => {
  let now = 1_000 * DAY;
  const health = new EndpointHealth({ now: () => now });
  const first = health.record(URL_A, false, "HTTP 500");
  assert.deepEqual(first, { record: { type: "push.endpoint", taskId: "endpoint:https://hooks.example/a2a", endpoint: "https://hooks.example/a2a", failingSince: now } }, "the clock starts, journaled");
  now += 4 * DAY;
  assert.deepEqual(health.record(URL_A, false, "HTTP 500"), {}, "still failing: nothing new to journal");
  assert.equal(health.disabledReason(URL_A), undefined);
  now += DAY;
  const disabled = health.record(URL_A, false, "HTTP 503");
  assert.equal(disabled.record?.disabledAt, now);
  assert.match(disabled.line!, /^webhook endpoint https:\/\/hooks\.example\/a2a disabled: every attempt failed for 5 d \(since .*\), the last: HTTP 503; /);
  assert.doesNotMatch(disabled.line!, /secret/, "the query stays out of the log");
  assert.match(health.disabledReason("https://hooks.example/a2a?other=1")!, /^endpoint disabled: every attempt failed for 5 d/, "any URL of the endpoint");
  assert.equal(health.disabledReason("https://hooks.example/other"), undefined, "another path is another endpoint");
  now += DAY;
  assert.deepEqual(health.record(URL_A, false, "HTTP 500"), {}, "no second line, no second record");
  assert.deepEqual(health.record(URL_A, true), {}, "an attempt in flight when it was disabled changes nothing");
  assert.notEqual(health.disabledReason(URL_A), undefined);
});

test("EndpointHealth.record() starts the failing clock again after any success", () => {
  let now = 0;
  const health = new EndpointHealth({ disableAfterMs: 5 * DAY, now: () => now });
  health.record(URL_A, false, "HTTP 500");
  now = 3 * DAY;
  assert.deepEqual(health.record(URL_A, true).record, { type: "push.endpoint", taskId: "endpoint:https://hooks.example/a2a", endpoint: "https://hooks.example/a2a" }, "recovered: journaled");
  assert.deepEqual(health.record(URL_A, true), {}, "a healthy endpoint's successes journal nothing");
  now = 6 * DAY;
  assert.equal(health.record(URL_A, false, "HTTP 500").record?.failingSince, 6 * DAY);
  now = 8 * DAY;
  assert.deepEqual(health.record(URL_A, false, "HTTP 500"), {}, "2 days of failures since the success: not disabled");
  assert.equal(health.disabledReason(URL_A), undefined);
  assert.throws(() => new EndpointHealth({ disableAfterMs: -1 }), RangeError);
  const never = new EndpointHealth({ disableAfterMs: Infinity, now: () => now });
  never.record(URL_A, false);
  now = 1000 * DAY;
  assert.equal(never.record(URL_A, false).line, undefined, "Infinity never disables");
});

test("EndpointHealth.apply() rebuilds from journaled records what a restart must keep, and enable() starts afresh", () => {
  let now = 0;
  const before = new EndpointHealth({ now: () => now });
  before.record(URL_A, false, "HTTP 500");
  before.record("https://other.example/", false, "HTTP 500");
  now = 6 * DAY;
  before.record(URL_A, false, "HTTP 500");
  const records = before.records();
  assert.equal(records.length, 2, "one per failing or disabled endpoint");

  const after = new EndpointHealth({ now: () => now });
  for (const record of records) after.apply(record);
  assert.match(after.disabledReason(URL_A)!, /endpoint disabled/);
  assert.equal(after.list().find((s) => s.endpoint === "https://other.example/")?.failingSince, 0, "the failing clock survives");
  now = 7 * DAY;
  assert.ok(after.record("https://other.example/", false, "HTTP 500").line, "...so the other one is disabled on its first failure after 5 days");

  const enabled = after.enable("https://hooks.example/a2a");
  assert.equal(enabled.wasDisabled, true);
  assert.deepEqual(enabled.record, { type: "push.endpoint", taskId: "endpoint:https://hooks.example/a2a", endpoint: "https://hooks.example/a2a" });
  assert.equal(after.disabledReason(URL_A), undefined);
  assert.equal(after.record(URL_A, false, "HTTP 500").line, undefined, "a fresh clock: one failure does not disable it again");
  assert.deepEqual(new EndpointHealth().enable(URL_A), { wasDisabled: false }, "an endpoint never heard of needs no record");
  after.apply({ type: "push.endpoint", taskId: "endpoint:https://hooks.example/a2a", endpoint: "https://hooks.example/a2a" });
  assert.deepEqual(after.records().map((r) => r.endpoint), ["https://other.example/"], "a recovery record forgets the failing clock");
});

test("reportEndpoints() counts what is owed and dead per endpoint, with its origin's window, disabled endpoints first", () => {
  const origins = new OriginHealth();
  origins.record("https://b.example", "failed");
  const statuses = [{ endpoint: "https://b.example/x", disabledAt: 5, reason: "r" }];
  const pending = [
    { url: "https://a.example/x?1", nextAt: 30, attempts: 0 },
    { url: "https://a.example/x?2", nextAt: 20, attempts: 2, lastError: "HTTP 500" },
    { url: undefined, nextAt: 0, attempts: 0 },
  ];
  const dead = [{ url: "https://b.example/x", nextAt: 0, attempts: 10, lastError: "endpoint disabled: r" }];
  const reports = reportEndpoints(statuses, { pending, dead }, origins);
  assert.deepEqual(reports.map((r) => [r.endpoint, r.pending, r.dead, r.nextAt, r.attempts, r.window, r.answering, r.lastError]), [
    ["https://b.example/x", 0, 1, undefined, 0, 4, false, "endpoint disabled: r"],
    ["https://a.example/x", 2, 0, 20, 2, 8, false, "HTTP 500"],
  ]);
});

/** An admin request to the test agent. */
async function admin(t: TestAgent, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  assert.equal(response.status, 200, `${method} ${path}`);
  return response.json();
}

test("an endpoint failing for longer than disableAfterMs is disabled: new deliveries are dead letters with the reason at once, it gets no attempt, one log line; it stays so across compaction and a restart; enabled through the admin API, replayed dead letters are delivered", async () => {
  let offset = 0; // The outbox's clock runs ahead of the wall clock by this much.
  let status = 500;
  const receiver = await startTestReceiver(() => ({ status }));
  const logs: string[] = [];
  const push = { ...TEST_PUSH, schedule: [0, 0], adminToken: ADMIN, disableAfterMs: 5 * DAY, now: () => Date.now() + offset, log: (line: string) => logs.push(line) };
  let t = await startAgent({ handler: () => {}, push });
  const dataDir = t.dataDir;
  const endpoint = receiver.url;
  const send = async () => (await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } })).task.id;
  const settled = (what: string) => waitFor(() => t.agent.outbox!.pendingCount === 0, { timeoutMs: 5_000, what });
  const deadOf = (taskId: string) => t.agent.outbox!.deliveries("dead").filter((d) => d.taskId === taskId);
  try {
    // Day 0: every attempt fails; day 3: one is answered, which resets the clock; day 6: failing again.
    await send();
    await settled("day 0's deliveries to die");
    offset = 3 * DAY;
    status = 200;
    await send();
    await settled("day 3's deliveries");
    status = 500;
    offset = 6 * DAY;
    await send();
    await settled("day 6's deliveries to die");
    assert.deepEqual((await admin(t, "GET", "/admin/endpoints")).endpoints.map((e: any) => [e.endpoint, e.disabledAt]), [[endpoint, undefined]], "3 days after the success: failing, not disabled");

    // Day 12: five days after the failures began again, the next failure disables it.
    offset = 12 * DAY;
    const tripping = await send();
    await settled("the endpoint to be disabled");
    const disabledLines = logs.filter((line) => line.includes("disabled:"));
    assert.equal(disabledLines.length, 1, disabledLines.join("\n"));
    assert.match(disabledLines[0]!, /^webhook endpoint http:\/\/127\.0\.0\.1:\d+\/webhook disabled: every attempt failed for 6 d/);
    const attemptsOfTripping = receiver.seen.filter((s) => JSON.parse(s.body).task?.id === tripping).length;
    assert.equal(attemptsOfTripping, 1, "the first attempt disabled it; its retry and the rest went to the dead letters without one");
    assert.ok(deadOf(tripping).every((d) => /^endpoint disabled: every attempt failed/.test(d.lastError ?? "")), JSON.stringify(deadOf(tripping)));

    // A new task: dead letters at once, with the reason; the receiver sees nothing.
    const seenBefore = receiver.seen.length;
    const fresh = await send();
    await settled("the new task's deliveries to die");
    assert.equal(receiver.seen.length, seenBefore, "no attempt reached the disabled endpoint");
    assert.ok(deadOf(fresh).length >= 2 && deadOf(fresh).every((d) => d.attempts === 0 && d.lastError!.startsWith("endpoint disabled:")), JSON.stringify(deadOf(fresh)));
    const listed = (await admin(t, "GET", "/admin/endpoints")).endpoints;
    assert.equal(listed.length, 1);
    assert.match(listed[0].reason, /^every attempt failed for 6 d/);
    assert.equal(listed[0].dead, t.agent.outbox!.deadCount);
    assert.equal(t.agent.outbox!.outcomeCounts().get("disabled"), deadOf(fresh).length + deadOf(tripping).length);

    // Compaction and a restart keep it disabled.
    await t.agent.compact();
    await t.close();
    t = await startAgent({ handler: () => {}, dataDir, push });
    const afterRestart = await send();
    await settled("the task after the restart to die");
    assert.equal(receiver.seen.length, seenBefore, "still no attempt after a restart");
    assert.ok(deadOf(afterRestart).every((d) => d.lastError!.startsWith("endpoint disabled:")));

    // Enabled through the admin API, the dead letters replayed: delivered.
    status = 200;
    assert.deepEqual(await admin(t, "POST", "/admin/endpoints/enable", { endpoint: `${receiver.url}?any=query` }), { endpoint, wasDisabled: true });
    assert.deepEqual(await admin(t, "POST", "/admin/endpoints/enable", { endpoint }), { endpoint, wasDisabled: false }, "idempotent");
    assert.ok(logs.some((line) => line === `webhook endpoint ${endpoint} enabled again by an operator`));
    const replayed = (await admin(t, "POST", "/admin/outbox/replay", { ids: deadOf(afterRestart).map((d) => d.id) })).replayed;
    await waitFor(() => replayed.every((id: string) => receiver.seen.some((s) => s.headers["webhook-id"] === id)), { timeoutMs: 5_000, what: "the replayed dead letters to arrive" });
    await settled("the replay");
    assert.deepEqual(deadOf(afterRestart), []);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("POST /admin/endpoints/enable refuses a body without an http(s) endpoint with 400, and needs the admin token", async () => {
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, adminToken: ADMIN } });
  try {
    for (const body of ["", "{", "{}", '{"endpoint":7}', '{"endpoint":"not a url"}', '{"endpoint":"ftp://h/x"}', "null"]) {
      const response = await fetch(`${t.url}/admin/endpoints/enable`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body });
      assert.equal(response.status, 400, body);
      assert.match(((await response.json()) as { error: string }).error, /endpoint/);
    }
    assert.equal((await fetch(`${t.url}/admin/endpoints/enable`, { method: "POST", body: '{"endpoint":"http://h/x"}' })).status, 401);
    assert.equal((await fetch(`${t.url}/admin/endpoints`)).status, 401);
  } finally {
    await t.close();
  }
});
