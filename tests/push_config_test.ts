/**
 * Push notification configs: parsePushConfig() (ids, the v0.3 shape, header injection, the SSRF
 * guard with an injected resolver: no real DNS), redactPushConfig(), and the four config methods
 * over a real TaskStore and journal.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { A2AError } from "../lib/errors.ts";
import { openJournal } from "../lib/journal.ts";
import { createConfig, deleteConfig, getConfig, listConfigs, parsePushConfig, redactPushConfig } from "../lib/push_config.ts";
import type { Commit, StoredPushConfig } from "../lib/push_config.ts";
import type { ResolverFunction } from "../lib/ssrf.ts";
import { TaskStore } from "../lib/task_store.ts";
import type { TaskChange } from "../lib/task_store.ts";
import { tempDir } from "./helpers.ts";

const PUBLIC: ResolverFunction = async () => [{ address: "93.184.216.34", family: 4 }];
const HOOK = "https://hooks.example/webhook";

/** Asserts `promise` rejects with -32602 naming `field`; returns the error. */
async function refusedField(promise: Promise<unknown>, field: string): Promise<A2AError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => ((caught = error), true));
  assert.ok(caught instanceof A2AError, String(caught));
  assert.equal(caught.code, -32602, caught.message);
  assert.equal(caught.details?.field, field, caught.message);
  return caught;
}

test("parsePushConfig() keeps a given id, makes a UUID otherwise, and binds the config to options.taskId", async () => {
  const given = await parsePushConfig({ url: HOOK, id: "mine", taskId: "from-body" }, { taskId: "t1", resolver: PUBLIC });
  assert.deepEqual(given, { id: "mine", taskId: "t1", url: HOOK });
  const a = await parsePushConfig({ url: HOOK }, { taskId: "t1", resolver: PUBLIC });
  const b = await parsePushConfig({ url: HOOK }, { taskId: "t1", resolver: PUBLIC });
  assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.notEqual(a.id, b.id);
  assert.equal((await parsePushConfig({ url: HOOK, taskId: "t9" }, { resolver: PUBLIC })).taskId, "t9");
  await refusedField(parsePushConfig({ url: HOOK }, { resolver: PUBLIC }), "taskId");
  await refusedField(parsePushConfig({ taskId: "t1" }, { resolver: PUBLIC }), "url");
});

test("parsePushConfig() keeps token, authentication and tenant, and takes v0.3's `schemes` list", async () => {
  const config = await parsePushConfig({ url: HOOK, token: "tok", authentication: { scheme: "Bearer", credentials: "secret" }, tenant: "acme" }, { taskId: "t1", resolver: PUBLIC });
  assert.deepEqual(config, { id: config.id, taskId: "t1", url: HOOK, token: "tok", authentication: { scheme: "Bearer", credentials: "secret" }, tenant: "acme" });
  const v03 = await parsePushConfig({ url: HOOK, authentication: { schemes: ["Basic", "Bearer"], credentials: "dXNlcjpwYXNz" } }, { taskId: "t1", resolver: PUBLIC });
  assert.deepEqual(v03.authentication, { scheme: "Basic", credentials: "dXNlcjpwYXNz" });
  await refusedField(parsePushConfig({ url: HOOK, authentication: { scheme: "Bear er" } }, { taskId: "t1", resolver: PUBLIC }), "authentication.scheme");
  await refusedField(parsePushConfig({ url: HOOK, authentication: {} }, { taskId: "t1", resolver: PUBLIC }), "authentication.scheme");
});

test("parsePushConfig() takes v0.3's nested shape, whose id defaults to the task's", async () => {
  const config = await parsePushConfig({ taskId: "t1", pushNotificationConfig: { url: HOOK, token: "tok" } }, { protocolVersion: "0.3", resolver: PUBLIC });
  assert.deepEqual(config, { id: "t1", taskId: "t1", url: HOOK, token: "tok", protocolVersion: "0.3" });
  const named = await parsePushConfig({ taskId: "t1", push_notification_config: { url: HOOK, id: "cfg" } }, { protocolVersion: "0.3", resolver: PUBLIC });
  assert.equal(named.id, "cfg");
  // A flat v0.3 config (inline in a message) gets the task's id too.
  assert.equal((await parsePushConfig({ url: HOOK }, { taskId: "t7", protocolVersion: "0.3", resolver: PUBLIC })).id, "t7");
});

test("parsePushConfig() refuses CR or LF in the token, the credentials and the id, naming the field under its path", async () => {
  const path = "configuration.taskPushNotificationConfig";
  const options = { taskId: "t1", path, resolver: PUBLIC };
  await refusedField(parsePushConfig({ url: HOOK, token: "tok\r\nX-Injected: 1" }, options), `${path}.token`);
  await refusedField(parsePushConfig({ url: HOOK, token: "tok\n" }, options), `${path}.token`);
  await refusedField(parsePushConfig({ url: HOOK, authentication: { scheme: "Bearer", credentials: "a\rb" } }, options), `${path}.authentication.credentials`);
  await refusedField(parsePushConfig({ url: HOOK, id: "id\nX" }, options), `${path}.id`);
});

test("parsePushConfig() refuses a URL the SSRF guard blocks with -32602 naming the url and the reason", async () => {
  const loopback = await refusedField(parsePushConfig({ url: "http://127.0.0.1:9000/hook" }, { taskId: "t1" }), "url");
  assert.match(loopback.message, /LOOPBACK/);
  const resolvesPrivate: ResolverFunction = async () => [{ address: "10.0.0.5", family: 4 }];
  const privateName = await refusedField(parsePushConfig({ url: "https://internal.example/hook" }, { taskId: "t1", resolver: resolvesPrivate, path: "p" }), "p.url");
  assert.match(privateName.message, /PRIVATE/);
  assert.match((await refusedField(parsePushConfig({ url: "ftp://hooks.example/" }, { taskId: "t1", resolver: PUBLIC }), "url")).message, /SCHEME/);
  // The owner can open private targets.
  assert.equal((await parsePushConfig({ url: "http://127.0.0.1:9000/hook" }, { taskId: "t1", ssrf: { allowPrivate: true } })).url, "http://127.0.0.1:9000/hook");
});

test("parsePushConfig() accepts a host that does not resolve yet", async () => {
  const unresolvable: ResolverFunction = async () => {
    throw Object.assign(new Error("getaddrinfo ENOTFOUND receiver.internal"), { code: "ENOTFOUND" });
  };
  const config = await parsePushConfig({ url: "https://receiver.internal/hook" }, { taskId: "t1", resolver: unresolvable });
  assert.equal(config.url, "https://receiver.internal/hook");
});

test("redactPushConfig() leaves out the token, the credentials and the protocol version, and changes nothing stored", () => {
  const stored: StoredPushConfig = { id: "c", taskId: "t1", url: HOOK, token: "tok", authentication: { scheme: "Bearer", credentials: "secret" }, tenant: "acme", protocolVersion: "0.3" };
  const copy = structuredClone(stored);
  assert.deepEqual(redactPushConfig(stored), { id: "c", taskId: "t1", url: HOOK, authentication: { scheme: "Bearer" }, tenant: "acme" });
  assert.deepEqual(stored, copy);
  assert.deepEqual(redactPushConfig({ id: "c", taskId: "t1", url: HOOK }), { id: "c", taskId: "t1", url: HOOK });
});

/** A store over a real journal with one task "t1", and the agent's commit. */
async function storeWithTask() {
  const journal = await openJournal(tempDir(), { warn: () => {} });
  const store = new TaskStore(journal);
  const changes: TaskChange[] = [];
  const commit: Commit = async (taskId, build) => {
    const change = await store.commit(taskId, build);
    if (change) changes.push(change);
    return change;
  };
  await commit("t1", () => ({ type: "task", task: { id: "t1", contextId: "c1", status: { state: "TASK_STATE_WORKING", timestamp: "2026-01-01T00:00:00.000Z" } } }));
  return { journal, store, commit, changes };
}

function stored(id: string, extra: Partial<StoredPushConfig> = {}): StoredPushConfig {
  return { id, taskId: "t1", url: `${HOOK}/${id}`, ...extra };
}

test("createConfig() stores the config with the task as it is now as its first notification, and returns it redacted", async () => {
  const { journal, store, commit, changes } = await storeWithTask();
  try {
    const returned = await createConfig(store, commit, stored("c1", { token: "tok" }));
    assert.deepEqual(returned, { id: "c1", taskId: "t1", url: `${HOOK}/c1` });
    assert.equal(store.config("t1", "c1")?.token, "tok", "the stored config keeps its token");
    const last = changes.at(-1)!;
    assert.equal(last.record.type, "push.config");
    assert.deepEqual(last.deliveries.map((d) => [d.configId, d.kind]), [["c1", "task"]]);
  } finally {
    await journal.close();
  }
});

test("createConfig() refuses a task that does not exist with -32001 and journals nothing", async () => {
  const { journal, store, commit } = await storeWithTask();
  try {
    const records = journal.recordCount;
    await assert.rejects(createConfig(store, commit, { ...stored("c1"), taskId: "nope" }), (error: A2AError) => error instanceof A2AError && error.code === -32001);
    assert.equal(journal.recordCount, records);
    assert.deepEqual(store.configs("nope"), []);
  } finally {
    await journal.close();
  }
});

test("getConfig() answers -32001 for an unknown task or config, and the redacted config otherwise", async () => {
  const { journal, store, commit } = await storeWithTask();
  try {
    await createConfig(store, commit, stored("c1", { authentication: { scheme: "Bearer", credentials: "secret" } }));
    assert.deepEqual(getConfig(store, { taskId: "t1", id: "c1" }), { id: "c1", taskId: "t1", url: `${HOOK}/c1`, authentication: { scheme: "Bearer" } });
    assert.throws(() => getConfig(store, { taskId: "t1", id: "other" }), (error: A2AError) => error.code === -32001 && error.details?.configId === "other");
    assert.throws(() => getConfig(store, { taskId: "nope", id: "c1" }), (error: A2AError) => error.code === -32001);
  } finally {
    await journal.close();
  }
});

test("listConfigs() pages through the configs in id order, redacted, and -32001 for an unknown task", async () => {
  const { journal, store, commit } = await storeWithTask();
  try {
    for (const id of ["c3", "c1", "c5", "c2", "c4"]) await createConfig(store, commit, stored(id, { token: "tok" }));
    const first = listConfigs(store, { taskId: "t1", pageSize: 2 });
    assert.deepEqual(first.configs.map((c) => c.id), ["c1", "c2"]);
    assert.ok(first.configs.every((c) => !("token" in c)));
    const second = listConfigs(store, { taskId: "t1", pageSize: 2, pageToken: first.nextPageToken });
    assert.deepEqual(second.configs.map((c) => c.id), ["c3", "c4"]);
    const third = listConfigs(store, { taskId: "t1", pageSize: 2, pageToken: second.nextPageToken });
    assert.deepEqual(third.configs.map((c) => c.id), ["c5"]);
    assert.equal(third.nextPageToken, "");
    assert.deepEqual(listConfigs(store, { taskId: "t1", pageSize: 50 }).configs.length, 5);
    assert.throws(() => listConfigs(store, { taskId: "nope", pageSize: 2 }), (error: A2AError) => error.code === -32001);
  } finally {
    await journal.close();
  }
});

test("listConfigs() pages through every config exactly once, whatever the case of the ids", async () => {
  const { journal, store, commit } = await storeWithTask();
  try {
    const ids = ["alpha", "Beta", "gamma", "Delta"];
    for (const id of ids) await createConfig(store, commit, stored(id));
    const seen: string[] = [];
    let pageToken: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = listConfigs(store, { taskId: "t1", pageSize: 1, ...(pageToken ? { pageToken } : {}) });
      seen.push(...page.configs.map((c) => c.id!));
      pageToken = page.nextPageToken;
      if (!pageToken) break;
    }
    assert.deepEqual([...seen].sort(), [...ids].sort(), `pages gave ${seen.join(", ")}`);
  } finally {
    await journal.close();
  }
});

test("deleteConfig() removes the config, is idempotent, and answers -32001 for an unknown task", async () => {
  const { journal, store, commit } = await storeWithTask();
  try {
    await createConfig(store, commit, stored("c1"));
    await createConfig(store, commit, stored("c2"));
    await deleteConfig(store, commit, { taskId: "t1", id: "c1" });
    assert.deepEqual(store.configs("t1").map((c) => c.id), ["c2"]);
    const records = journal.recordCount;
    await deleteConfig(store, commit, { taskId: "t1", id: "c1" });
    await deleteConfig(store, commit, { taskId: "t1", id: "never-was" });
    assert.equal(journal.recordCount, records, "deleting what is not there journals nothing");
    assert.deepEqual(store.configs("t1").map((c) => c.id), ["c2"]);
    await assert.rejects(deleteConfig(store, commit, { taskId: "nope", id: "c1" }), (error: A2AError) => error.code === -32001);
  } finally {
    await journal.close();
  }
});
