/**
 * pushRoutes(): the JWKS and the admin interface an agent with push serves: the bearer token and
 * its 401, listing pending and dead deliveries, replaying and purging them by id or all, bad
 * bodies, and key rotation. An agent from `startAgent` with a receiver that refuses every webhook;
 * the dead letters' whole life through the outbox is in `push_test.ts`.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { pushRoutes } from "../lib/admin.ts";
import { TEST_PUSH, startAgent, startTestReceiver, userMessage, waitFor } from "./helpers.ts";
import type { TestAgent } from "./helpers.ts";

const TOKEN = "admin-secret";

type Listed = { deliveries: Array<{ id: string; taskId: string; attempts: number; lastError?: string; url?: string; body?: string }> };

/** An agent whose webhooks all fail: with `schedule`, each delivery dies after its attempts (or waits for the next). */
async function withFailingPush(schedule: number[], run: (t: TestAgent, receiverUrl: string) => Promise<void>): Promise<void> {
  const receiver = await startTestReceiver(() => ({ status: 500 }));
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, schedule, adminToken: TOKEN } });
  try {
    await run(t, receiver.url);
  } finally {
    await t.close();
    await receiver.close();
  }
}

function admin(t: TestAgent, path: string, init: { method?: string; body?: string; token?: string | null } = {}): Promise<Response> {
  const { method = "GET", body, token = TOKEN } = init;
  return fetch(`${t.url}${path}`, { method, body, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

async function listed(t: TestAgent, state: "pending" | "dead"): Promise<Listed["deliveries"]> {
  const response = await admin(t, `/admin/outbox?state=${state}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as Listed).deliveries;
}

/** Sends `count` tasks whose webhooks go to `url`, and waits until all their deliveries are dead. */
async function deadLetters(t: TestAgent, url: string, count: number): Promise<Listed["deliveries"]> {
  for (let i = 0; i < count; i++) await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url } } });
  await waitFor(() => t.agent.outbox!.pendingCount === 0, { timeoutMs: 5_000, what: "every delivery to die" });
  return listed(t, "dead");
}

test("pushRoutes() gives no rows to an agent without push, so its admin paths are 404", async () => {
  const t = await startAgent({ handler: () => {}, push: false });
  try {
    assert.deepEqual(pushRoutes(t.agent), []);
    for (const path of ["/.well-known/jwks.json", "/admin/outbox", "/admin/keys/rotate"]) {
      assert.equal((await admin(t, path)).status, 404, path);
    }
  } finally {
    await t.close();
  }
});

test("pushRoutes() answers 401 with WWW-Authenticate to an admin request without the right bearer token, on every admin path", async () => {
  await withFailingPush([0], async (t) => {
    const paths: Array<[string, string]> = [["GET", "/admin/outbox"], ["POST", "/admin/outbox/replay"], ["POST", "/admin/outbox/purge"], ["POST", "/admin/keys/rotate"]];
    for (const [method, path] of paths) {
      for (const token of [null, "wrong", `${TOKEN}x`, ""]) {
        const response = await admin(t, path, { method, token });
        assert.equal(response.status, 401, `${method} ${path} with ${token}`);
        assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="a2a-push admin"');
        assert.match(((await response.json()) as { error: string }).error, /Authorization: Bearer <admin token>/);
      }
    }
    const basic = await fetch(`${t.url}/admin/outbox`, { headers: { authorization: `Basic ${TOKEN}` } });
    assert.equal(basic.status, 401, "another scheme");
    assert.equal((await admin(t, "/.well-known/jwks.json", { token: null })).status, 200, "the JWKS is public");
  });
});

test("pushRoutes() lists pending deliveries, or dead ones (the default), without their bodies; another state is 400", async () => {
  await withFailingPush([0, 60_000], async (t, url) => {
    const { task } = await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url } } });
    const pending = await waitFor(async () => {
      const list = await listed(t, "pending");
      return list[0]?.attempts === 1 && list;
    }, { timeoutMs: 5_000, what: "a failed first attempt" });
    assert.ok(pending.every((d) => d.taskId === task.id && d.url === url && !("body" in d)), JSON.stringify(pending));
    assert.equal(pending[0]!.lastError, "HTTP 500");
    assert.deepEqual(await listed(t, "dead"), []);
    const byDefault = await admin(t, "/admin/outbox");
    assert.deepEqual(await byDefault.json(), { deliveries: [], total: 0 }, "no state: the dead letters");
    const bad = await admin(t, "/admin/outbox?state=all");
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /state must be pending or dead/);
    assert.equal((await admin(t, "/admin/outbox", { method: "DELETE" })).status, 405);
  });
});

test("pushRoutes() replays and purges the dead letters an ids body names, skipping unknown ids, and all of them without a body", async () => {
  await withFailingPush([0], async (t, url) => {
    const dead = await deadLetters(t, url, 2);
    assert.ok(dead.length >= 4, `deliveries of two tasks: ${dead.length}`);
    const ids = dead.map((d) => d.id);
    const post = async (path: string, body?: unknown) => {
      const response = await admin(t, path, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
      assert.equal(response.status, 200, path);
      return response.json();
    };
    assert.deepEqual(await post("/admin/outbox/purge", { ids: [ids[0], "no-such-id"] }), { purged: [ids[0]] });
    assert.deepEqual(await post("/admin/outbox/purge", { ids: [] }), { purged: [] }, "an empty list names none");
    assert.deepEqual(await post("/admin/outbox/replay", { ids: [ids[1]] }), { replayed: [ids[1]] });
    await waitFor(async () => (await listed(t, "dead")).some((d) => d.id === ids[1]), { timeoutMs: 5_000, what: "the replayed delivery to die again" });
    await waitFor(() => t.agent.outbox!.pendingCount === 0, { timeoutMs: 5_000, what: "the replay to settle" });
    const all = (await post("/admin/outbox/purge", {})) as { purged: string[] };
    assert.deepEqual(all.purged.sort(), ids.slice(1).sort(), "no ids: all");
    assert.deepEqual(await listed(t, "dead"), []);
    assert.deepEqual(await post("/admin/outbox/replay"), { replayed: [] }, "an empty body: all, of none");
  });
});

test("pushRoutes() refuses a replay or purge body that is not JSON, not an object, or whose ids are not strings, with 400", async () => {
  await withFailingPush([0], async (t, url) => {
    const dead = await deadLetters(t, url, 1);
    for (const path of ["/admin/outbox/replay", "/admin/outbox/purge"]) {
      for (const [body, reason] of [["{ids:", /Body must be JSON/], ["null", /must be a JSON object/], ['"all"', /must be a JSON object/], ["7", /must be a JSON object/], ['{"ids":"x"}', /ids must be an array of strings/], ['{"ids":[1]}', /ids must be an array of strings/], ['{"ids":null}', /ids must be an array of strings/]] as const) {
        const response = await admin(t, path, { method: "POST", body });
        assert.equal(response.status, 400, `${path} ${body}`);
        assert.match(((await response.json()) as { error: string }).error, reason, `${path} ${body}`);
      }
    }
    assert.equal((await listed(t, "dead")).length, dead.length, "nothing was replayed or purged");
  });
});

test("pushRoutes() rotates the signing key: the new kid is current and the JWKS keeps the old one", async () => {
  await withFailingPush([0], async (t) => {
    const before = ((await (await admin(t, "/.well-known/jwks.json", { token: null })).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    assert.equal(before.length, 1);
    const response = await admin(t, "/admin/keys/rotate", { method: "POST" });
    assert.equal(response.status, 200);
    const { kid } = (await response.json()) as { kid: string };
    assert.notEqual(kid, before[0]);
    const after = ((await (await admin(t, "/.well-known/jwks.json", { token: null })).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    assert.deepEqual(after.sort(), [kid, before[0]!].sort());
  });
});

test("pushRoutes() refuses a purge body that is a JSON array with 400 instead of purging every dead letter", async () => {
  const receiver = await startTestReceiver(() => ({ status: 500 }));
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, schedule: [0], adminToken: "admin-secret" } });
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.pendingCount === 0, { timeoutMs: 5_000 });
    const dead = t.agent.outbox!.deliveries("dead");
    assert.ok(dead.length >= 2);
    const response = await fetch(`${t.url}/admin/outbox/purge`, { method: "POST", headers: { authorization: "Bearer admin-secret" }, body: JSON.stringify([dead[0]!.id]) });
    const body = await response.json();
    console.log("status", response.status, "body", JSON.stringify(body), "dead left", t.agent.outbox!.deliveries("dead").length, "of", dead.length);
    assert.equal(response.status, 400);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("pushRoutes() serves the outbox console at /admin/ without the token: a page holding no token, whose data comes from the guarded rows", async () => {
  await withFailingPush([0], async (t) => {
    const response = await fetch(`${t.url}/admin/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(response.headers.get("content-security-policy") ?? "", /^default-src 'none'; script-src 'sha256-/);
    const html = await response.text();
    assert.match(html, /<title>a2a-push outbox<\/title>/);
    assert.ok(!html.includes(TOKEN), "the token is asked for, never embedded");
    const redirect = await fetch(`${t.url}/admin`, { redirect: "manual" });
    assert.deepEqual([redirect.status, redirect.headers.get("location")], [308, "admin/"], "/admin leads to the console, relative to where it is");
  });
});

test("pushRoutes() lists at most `limit` deliveries with the total, and refuses a limit that is not a whole number with 400", async () => {
  await withFailingPush([0], async (t, url) => {
    const dead = await deadLetters(t, url, 2);
    const response = await admin(t, "/admin/outbox?state=dead&limit=1");
    const body = (await response.json()) as Listed & { total: number };
    assert.deepEqual([body.deliveries.length, body.total], [1, dead.length]);
    for (const limit of ["-1", "1.5", "x", ""]) assert.equal((await admin(t, `/admin/outbox?state=dead&limit=${limit}`)).status, 400, limit);
  });
});
