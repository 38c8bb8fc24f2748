/**
 * The two pages in a real browser: the system's Chromium, driven by `playwright-core`, against the
 * demo agent and receiver started as the README's terminals start them. The receiver's page must
 * move a 5-step task's bar to 100% and its state to completed within 15 s of sending it, without a
 * reload, and show a refused webhook; the agent's console must list a dead letter and replay it.
 *
 * Without Chromium at /usr/bin/chromium (Debian's `chromium` package; `A2A_CHROMIUM` names another)
 * the test is skipped with that reason, unless `A2A_REQUIRE_BROWSER=1` (`.ci/run` sets it): then
 * it fails. `A2A_SCREENSHOT=scripts/receiver_page.png` also writes the README's picture of the page.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { A2AClient } from "../lib/client.ts";
import { NOTIFICATION_TOKEN_FILE } from "../lib/receiver.ts";
import { ROOT, freePort, startScript, startTestReceiver, tempDir, userMessage, waitFor } from "./helpers.ts";

const CHROMIUM = process.env.A2A_CHROMIUM || "/usr/bin/chromium";
/** The machine's network is closed: without these, Chromium waits on connections it makes for itself. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SCREENSHOT = process.env.A2A_SCREENSHOT;

/** `test()`'s skip option: the reason when there is no Chromium, and a failure when the run requires one. */
function needsBrowser(): { skip: string | false } {
  if (existsSync(CHROMIUM)) return { skip: false };
  if (process.env.A2A_REQUIRE_BROWSER === "1") throw new Error(`No Chromium at ${CHROMIUM}, and this run requires the browser test (A2A_REQUIRE_BROWSER=1): apt-get install chromium`);
  return { skip: `needs Chromium at ${CHROMIUM} (Debian: apt-get install chromium), or A2A_CHROMIUM=<path>` };
}

test("in Chromium: the receiver page and the outbox console", needsBrowser(), async (t) => {
  // 1. The README's terminals, side by side: the agent (retrying at 0, 100 ms and 200 ms, so a dead
  // letter comes quickly) and the receiver; and a receiver that refuses until told otherwise.
  const [agentDir, receiverDir, agentPort] = [tempDir(), tempDir(), await freePort()];
  const [agent, receiver] = await Promise.all([
    startScript("scripts/long_running_agent.ts", ["--port", String(agentPort), "--data-dir", agentDir, "--allow-private-webhooks", "--retry-schedule", "0,100ms,200ms", "--quiet"]),
    startScript("scripts/webhook_receiver.ts", ["--port", "0", "--data-dir", receiverDir, "--agent-url", `http://127.0.0.1:${agentPort}`]),
  ]);
  let healthy = false;
  const failing = await startTestReceiver(() => ({ status: healthy ? 200 : 503 }));
  let context: BrowserContext | undefined;
  try {
    const client = new A2AClient(`${agent.url}/`);
    const token = readFileSync(join(receiverDir, NOTIFICATION_TOKEN_FILE), "utf8").trim();
    const adminToken = readFileSync(join(agentDir, "admin_token"), "utf8").trim();
    context = await chromium.launchPersistentContext(tempDir("chromium-"), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 760 } });

    await t.test("the receiver page moves a 5-step task's bar to 100% and its state to completed within 15 s, without a reload, and lists a refusal", async () => {
      const { page, errors } = await openPage(context!, `${receiver.url}/`);
      await page.waitForSelector("#connection.live", { timeout: 10_000 });
      await page.evaluate(() => {
        // Remember every value the bars take, and mark this document: a reload would lose both.
        (window as unknown as { seen: number[] }).seen = [];
        new MutationObserver(() => {
          document.querySelectorAll("progress").forEach((bar) => (window as unknown as { seen: number[] }).seen.push(bar.value));
        }).observe(document.getElementById("tasks")!, { childList: true, subtree: true });
      });
      const sent = Date.now();
      const { task } = await client.sendMessage({
        message: userMessage({ steps: 5, stepMs: 300 }),
        configuration: { returnImmediately: true, taskPushNotificationConfig: { url: `${receiver.url}/webhook`, token } },
      });
      const card = `[data-task-id="${task.id}"]`;
      await page.waitForFunction((selector) => {
        const element = document.querySelector(selector);
        return element?.querySelector("progress")?.value === 100 && element.querySelector(".state")?.textContent === "completed";
      }, card, { timeout: 15_000 });
      const elapsed = Date.now() - sent;
      assert.ok(elapsed < 15_000, `completed on the page ${elapsed} ms after sending`);
      const seen = await page.evaluate(() => (window as unknown as { seen?: number[] }).seen);
      assert.ok(seen, "the same document throughout: no reload");
      const steps = [...new Set(seen)];
      assert.deepEqual(steps, [...steps].sort((a, b) => a - b), `the bar only moves forward: ${steps}`);
      assert.ok(steps.filter((value) => value > 0 && value < 100).length >= 3, `the bar moved step by step: ${steps}`);
      await page.waitForSelector(`${card} .result pre`, { timeout: 10_000 });
      assert.match((await page.textContent(`${card} .result pre`))!, /5 steps completed\./);

      assert.equal((await fetch(`${receiver.url}/webhook`, { method: "POST", body: "{}" })).status, 400);
      await page.waitForSelector("#refusals .reason", { timeout: 5_000 });
      assert.equal(await page.textContent("#refusals .reason"), "MISSING_HEADERS");
      if (SCREENSHOT) await screenshot(page, client, `${receiver.url}/webhook`, token);
      assert.deepEqual(errors, [], "no errors on the page");
    });

    await t.test("the outbox console asks for the admin token, lists a dead letter, and replays it", async () => {
      await client.sendMessage({ message: userMessage({ steps: 0 }), configuration: { taskPushNotificationConfig: { url: failing.url } } });
      const { page, errors } = await openPage(context!, `${agent.url}/admin/`);
      await page.fill("#token", adminToken);
      await page.click("#login button[type=submit]");
      await page.waitForFunction(() => /^0 owed, [1-9]\d* dead letters/.test(document.getElementById("summary")!.textContent ?? ""), undefined, { timeout: 10_000 });
      assert.match((await page.textContent("#endpoints"))!, new RegExp(`${failing.url}failing since`));
      const id = (await page.textContent("#dead tr:first-child td:first-child"))!;
      assert.match(id, /^msg_[0-9a-f]{32}$/);
      assert.match((await page.textContent("#dead tr:first-child"))!, /HTTP 503/);

      healthy = true;
      await page.click("#dead tr:first-child button:has-text('Replay')");
      await page.waitForFunction((replayed) => document.getElementById("message")!.textContent === `Replayed ${replayed}.`, id, { timeout: 5_000 });
      await waitFor(() => failing.seen.some((s) => s.headers["webhook-id"] === id && s.attempt === 4), { timeoutMs: 5_000, what: "the replayed webhook, acknowledged" });
      await page.waitForFunction((replayed) => !document.getElementById("dead")!.textContent!.includes(replayed), id, { timeout: 5_000 });
      assert.equal(await page.evaluate(() => sessionStorage.length), 1, "the token is kept in this tab's sessionStorage only");
      assert.deepEqual(errors, [], "no errors on the page");
    });
  } finally {
    await context?.close();
    await failing.close();
    await agent.kill();
    await receiver.kill();
  }
});

/** A new tab at `url`, with the errors its script throws or logs (a refused policy among them). */
async function openPage(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
  const response = await page.goto(url);
  assert.equal(response?.status(), 200);
  return { page, errors };
}

/** The README's picture: one task finished, one under way, one webhook refused. */
async function screenshot(page: Page, client: A2AClient, webhookUrl: string, token: string): Promise<void> {
  const { task } = await client.sendMessage({ message: userMessage({ steps: 10, stepMs: 400 }), configuration: { returnImmediately: true, taskPushNotificationConfig: { url: webhookUrl, token } } });
  await page.waitForFunction((id) => (document.querySelector(`[data-task-id="${id}"] progress`) as HTMLProgressElement | null)?.value === 40, task.id, { timeout: 15_000 });
  await page.screenshot({ path: join(ROOT, SCREENSHOT!), fullPage: true });
}
