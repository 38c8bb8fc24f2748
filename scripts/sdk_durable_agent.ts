/**
 * An agent on the official JavaScript SDK (`@a2a-js/sdk` 1.3.0), as in its push-notification sample
 * but for the sender (step 2): its webhooks survive a receiver outage and a restart. Run: `npx tsx
 * scripts/sdk_durable_agent.ts [--port 8002] [--data-dir .data/sdk-push] [--allow-private-webhooks]`
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { AGENT_CARD_PATH, TaskState } from "@a2a-js/sdk";
import { AgentEvent, DefaultRequestHandler, InMemoryPushNotificationStore, InMemoryTaskStore } from "@a2a-js/sdk/server";
import type { AgentExecutor } from "@a2a-js/sdk/server";
import { UserBuilder, agentCardHandler, jsonRpcHandler } from "@a2a-js/sdk/server/express";
import express from "express";
import { DurablePushSender } from "../lib/sdk_push_sender.ts";
const { values } = parseArgs({ options: { port: { type: "string", default: "8002" }, "data-dir": { type: "string", default: ".data/sdk-push" }, "allow-private-webhooks": { type: "boolean", default: false } } });
const url = `http://127.0.0.1:${values.port}`;
const card = {
  name: "durable push sample", description: "Completes each task; its webhooks are journaled.", version: "1.0.0", skills: [], signatures: [],
  supportedInterfaces: [{ url: `${url}/`, protocolBinding: "JSONRPC", protocolVersion: "1.0", tenant: "" }], capabilities: { pushNotifications: true, extensions: [] },
  defaultInputModes: ["text"], defaultOutputModes: ["text"], provider: undefined, securitySchemes: {}, securityRequirements: [],
};
// 1. An executor: the task, then its completion.
const executor: AgentExecutor = {
  async execute({ taskId, contextId, userMessage }, bus) {
    const status = (state: TaskState) => ({ state, message: undefined, timestamp: new Date().toISOString() });
    bus.publish(AgentEvent.task({ id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), artifacts: [], history: [userMessage], metadata: undefined }));
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED), metadata: undefined }));
  },
  async cancelTask() {},
};
// 2. The SDK's push config store, and a2a-push's durable sender where the SDK's sample has DefaultPushNotificationSender.
const pushStore = new InMemoryPushNotificationStore();
const sender = await DurablePushSender.open(pushStore, { dataDir: values["data-dir"]!, ssrf: { allowPrivate: values["allow-private-webhooks"] } });
// 3. The request handler over the SDK's task store, its express routes, listen.
const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor, undefined, pushStore, sender);
const app = express();
app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler }));
app.use(jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
const server = app.listen(Number(values.port), "127.0.0.1", () => console.log(`listening on ${url}`));
process.once("SIGTERM", () => server.close(() => void sender.close().then(() => process.exit(0))));
