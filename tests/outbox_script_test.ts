import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT, TEST_PUSH, startAgent, startTestReceiver, userMessage, waitFor } from "./helpers.ts";

const run = promisify(execFile);
const outbox = (args: string[]): Promise<{ stdout: string; stderr: string; code?: number }> =>
  run(process.execPath, ["--import", "tsx", join(ROOT, "scripts/outbox.ts"), ...args], { cwd: ROOT }).catch((error) => error as { stdout: string; stderr: string; code: number });

test("scripts/outbox.ts lists, replays and purges dead letters and rotates the signing key, reading the token from the data directory", async () => {
  let healthy = false;
  const receiver = await startTestReceiver(() => ({ status: healthy ? 200 : 500 }));
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, schedule: [0] } });
  const common = ["--agent-url", t.url, "--data-dir", t.dataDir];
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    await waitFor(() => t.agent.outbox!.deliveries("dead").length === 3, { what: "dead letters" });
    const listed = await outbox(["list", ...common]);
    assert.match(listed.stdout, /^3 dead deliveries/);
    assert.match(listed.stdout, /HTTP 500/);
    const [firstId] = t.agent.outbox!.deliveries("dead").map((d) => d.id);

    healthy = true;
    assert.match((await outbox(["replay", firstId!, ...common])).stdout, new RegExp(`replayed 1: ${firstId}`));
    await waitFor(() => receiver.seen.some((s) => s.headers["webhook-id"] === firstId && s.attempt === 2), { what: "replayed webhook" });
    assert.match((await outbox(["purge", "--all", ...common])).stdout, /purged 2/);
    assert.match((await outbox(["list", "--state", "pending", ...common])).stdout, /^0 pending deliveries/);

    const before = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    const rotated = await outbox(["rotate-key", ...common]);
    const kid = /new kid (\S+)/.exec(rotated.stdout)![1];
    const after = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    assert.deepEqual(after.keys.map((k) => k.kid), [kid, before.keys[0]!.kid], "new key first, old key kept");
    const seenBefore = receiver.seen.length;
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: receiver.url } } });
    const signed = await waitFor(() => receiver.seen[seenBefore]?.headers.authorization, { what: "a webhook after rotation" });
    assert.equal(JSON.parse(Buffer.from(signed.split(".")[0]!.replace("Bearer ", ""), "base64url").toString()).kid, kid);

    const refused = await outbox(["list", "--agent-url", t.url, "--admin-token", "wrong"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /HTTP 401/);
    const usage = await outbox(["replay", ...common]);
    assert.match(usage.stderr, /needs --all or delivery ids/);
  } finally {
    await t.close();
    await receiver.close();
  }
});

test("scripts/outbox.ts endpoints shows a disabled endpoint with its reason, and enable turns it back on so replayed dead letters are delivered", async () => {
  let healthy = false;
  const receiver = await startTestReceiver(() => ({ status: healthy ? 200 : 503 }));
  // disableAfterMs 0: the first failure disables the endpoint, so the test need not wait days.
  const t = await startAgent({ handler: () => {}, push: { ...TEST_PUSH, schedule: [0, 0], disableAfterMs: 0 } });
  const common = ["--agent-url", t.url, "--data-dir", t.dataDir];
  try {
    await t.client.sendMessage({ message: userMessage({}), configuration: { taskPushNotificationConfig: { url: `${receiver.url}?q=secret` } } });
    await waitFor(() => t.agent.outbox!.pendingCount === 0, { what: "every delivery dead" });
    assert.equal(receiver.seen.length, 1, "one attempt, which disabled it");
    const listed = await outbox(["endpoints", ...common]);
    assert.match(listed.stdout, /^1 endpoints\n/);
    assert.match(listed.stdout, new RegExp(`${receiver.url}  DISABLED \\S+: every attempt failed for 0 s .* dead 3`));
    assert.doesNotMatch(listed.stdout, /secret/, "the query is no part of the endpoint");

    healthy = true;
    assert.match((await outbox(["enable", `${receiver.url}?other=1`, ...common])).stdout, new RegExp(`^enabled ${receiver.url}; replay`));
    assert.match((await outbox(["enable", receiver.url, ...common])).stdout, /was not disabled/);
    assert.match((await outbox(["replay", "--all", ...common])).stdout, /replayed 3/);
    await waitFor(() => t.agent.outbox!.deliveredCount === 3, { what: "the three dead letters delivered" });
    assert.equal(receiver.seen.length, 4);
    assert.match((await outbox(["enable", ...common])).stderr, /enable needs one endpoint/);
  } finally {
    await t.close();
    await receiver.close();
  }
});
