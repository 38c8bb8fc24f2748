/**
 * A test fixture: an agent built on the official JavaScript SDK (`@a2a-js/sdk` 1.3.0 on express), with
 * the SDK's in-memory task and push-config stores and its `DefaultPushNotificationSender`, so tests can
 * check a2a-push's receiver and client against an agent that is not ours; or, with `--sender durable
 * --data-dir DIR`, with a2a-push's `DurablePushSender` in its place (loopback webhooks allowed, retries
 * every 50-100 ms), so tests can compare the two.
 *
 *   npx tsx tests/sdk_agent.ts --port 0 [--sender default|durable] [--data-dir DIR]
 *
 * Prints one line, `listening on http://127.0.0.1:<port>`, when ready, and exits on SIGTERM. Tests spawn
 * it as `node --import tsx tests/sdk_agent.ts`: npx does not pass SIGTERM on, and the agent would outlive
 * it. JSON-RPC is at `/`, HTTP+JSON under `/rest`, both A2A 1.0 only. A message whose first data part is
 * `{steps, stepMs}` (a text message takes the defaults) gets a submitted Task, a working status per step,
 * an artifact and a completed status; the SDK POSTs each to the task's push configs, loopback URLs
 * included (its sender checks no address). With `chunked: true` each working status is followed by
 * a chunk of the artifact instead. `GET /test/sends` answers how many `send()` calls the SDK made and
 * how many of them settled. Leaves out: auth, cancellation, v0.3 compatibility.
 */

import { once } from "node:events";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { AGENT_CARD_PATH, Role, TaskState } from "@a2a-js/sdk";
import type { AgentCard, Message, Part, TaskStatus } from "@a2a-js/sdk";
import { AgentEvent, DefaultPushNotificationSender, DefaultRequestHandler, InMemoryPushNotificationStore, InMemoryTaskStore } from "@a2a-js/sdk/server";
import type { AgentExecutor, PushNotificationSender } from "@a2a-js/sdk/server";
import { UserBuilder, agentCardHandler, jsonRpcHandler, restHandler } from "@a2a-js/sdk/server/express";
import express from "express";
import { DurablePushSender } from "../lib/sdk_push_sender.ts";

const HOST = "127.0.0.1";
const DEFAULT_STEPS = 2;
const DEFAULT_STEP_MS = 100;
/** The durable sender's retries: quick, and enough of them to outlast a test's receiver outage. */
const TEST_SCHEDULE_MS = Array.from({ length: 300 }, (_, i) => (i === 0 ? 0 : 100));

async function main(): Promise<void> {
  // 1. Listen first: the card names the port, and the SDK takes the card in its constructor.
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, sender: { type: "string", default: "default" }, "data-dir": { type: "string" } } });
  const app = express();
  const server = app.listen(Number(values.port), HOST);
  await once(server, "listening");
  const url = `http://${HOST}:${(server.address() as AddressInfo).port}`;

  // 2. The SDK's parts, unchanged but for the sender: in-memory stores, a sender, its request handler.
  const pushStore = new InMemoryPushNotificationStore();
  const durable = values.sender === "durable"
    ? await DurablePushSender.open(pushStore, { dataDir: values["data-dir"]!, ssrf: { allowPrivate: true }, schedule: TEST_SCHEDULE_MS, timeoutMs: 2000, warn: console.error })
    : undefined;
  const sends = { asked: 0, settled: 0 };
  const sender = counted(durable ?? new DefaultPushNotificationSender(pushStore), sends);
  const handler = new DefaultRequestHandler(agentCard(url), new InMemoryTaskStore(), stepsExecutor, undefined, pushStore, sender);

  // 3. Routes. The JSON-RPC router rejects any body that is not application/json on every path, so it goes last.
  const options = { requestHandler: handler, userBuilder: UserBuilder.noAuthentication };
  app.get("/test/sends", (_req, res) => void res.json(sends));
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler }));
  app.use("/rest", restHandler(options));
  app.use("/", jsonRpcHandler(options));

  // 4. Keep stdout to the one line tests parse: the SDK logs each delivery with console.info.
  console.info = console.error;
  console.log(`listening on ${url}`);
  process.once("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => void (durable?.close() ?? Promise.resolve()).then(() => process.exit(0)));
  });
}

/** The sender, counting the calls the SDK makes and those that settled (fulfilled or not). */
function counted(sender: PushNotificationSender, sends: { asked: number; settled: number }): PushNotificationSender {
  return {
    send(event, context, task) {
      sends.asked++;
      return sender.send(event, context, task).finally(() => sends.settled++);
    },
  };
}

function agentCard(url: string): AgentCard {
  return {
    name: "sdk fixture agent", description: "Works in steps; send a data part {steps, stepMs}.", version: "1.0.0",
    supportedInterfaces: [
      { url: `${url}/`, protocolBinding: "JSONRPC", protocolVersion: "1.0", tenant: "" },
      { url: `${url}/rest`, protocolBinding: "HTTP+JSON", protocolVersion: "1.0", tenant: "" },
    ],
    capabilities: { streaming: true, pushNotifications: true, extensions: [] },
    defaultInputModes: ["text/plain", "application/json"], defaultOutputModes: ["text/plain"],
    skills: [{ id: "steps", name: "Steps", description: "Works in steps.", tags: ["test"], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    provider: undefined, securitySchemes: {}, securityRequirements: [], signatures: [],
  };
}

const stepsExecutor: AgentExecutor = {
  async execute({ taskId, contextId, userMessage }, bus) {
    const first = userMessage.parts.find((part) => part.content?.$case === "data")?.content?.value ?? {};
    const { steps = DEFAULT_STEPS, stepMs = DEFAULT_STEP_MS, chunked = false } = first as { steps?: number; stepMs?: number; chunked?: boolean };
    const status = (state: TaskState, text?: string): TaskStatus =>
      ({ state, message: text === undefined ? undefined : agentMessage(taskId, contextId, text), timestamp: new Date().toISOString() });
    bus.publish(AgentEvent.task({ id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), artifacts: [], history: [userMessage], metadata: undefined }));
    for (let step = 1; step <= steps; step++) {
      await delay(stepMs);
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_WORKING, `step ${step}/${steps}`), metadata: undefined }));
      if (chunked) bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact: report(`chunk ${step}`), append: step > 1, lastChunk: step === steps, metadata: undefined }));
    }
    if (!chunked) bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact: report(`${steps} steps done`), append: false, lastChunk: true, metadata: undefined }));
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED), metadata: undefined }));
  },
  async cancelTask() {},
};

function agentMessage(taskId: string, contextId: string, text: string): Message {
  return { messageId: crypto.randomUUID(), taskId, contextId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

function report(text: string) {
  return { artifactId: "report", name: "report.txt", description: "", parts: [textPart(text)], metadata: undefined, extensions: [] };
}

function textPart(text: string): Part {
  return { content: { $case: "text", value: text }, mediaType: "text/plain", filename: "", metadata: undefined };
}

await main();
