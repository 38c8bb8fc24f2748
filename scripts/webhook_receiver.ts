/**
 * The demo webhook receiver: verifies webhooks (a2a-push's signed ones, or any A2A agent's that
 * carry the token or credentials you gave it), deduplicates them on `webhook-id` or, when the
 * sender gives none, on the body's hash (in its own journal, so also across its restarts),
 * acknowledges, then fetches finished tasks' results from the agent with GetTask.
 *
 *   npx tsx scripts/webhook_receiver.ts [--port 9000] [--host 127.0.0.1] [--data-dir .data/receiver]
 *       [--agent-url http://127.0.0.1:8001] [--secret whsec_...] [--token T] [--authorization "Bearer X"]
 *       [--audience URL] [--no-jwt] [--no-proof] [--read-token R] [--agent-token A]
 *
 * Every webhook must carry the notification token (`--token`, or the one it makes in
 * `<data-dir>/notification_token`): give it to the agent as the push config's `token`. The agent
 * signs for any URL anyone names, so its signature alone does not show that you asked for the
 * webhook. Open `GET /` in a browser: every task live, with its progress, duplicates, refusals and
 * result. `GET /events` lists accepted events; `GET /tasks/<id>` shows a fetched result. All of
 * them answer only loopback callers, or those sending the read token (`Authorization: Bearer`, or
 * as the password a browser asks for).
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { WebhookReceiver } from "../lib/receiver.ts";

async function main(): Promise<void> {
  // 1. Read the flags, falling back to the environment, then to the defaults.
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.PORT ?? "9000" },
      host: { type: "string", default: process.env.HOST ?? "127.0.0.1" },
      "data-dir": { type: "string", default: process.env.A2A_RECEIVER_DATA_DIR ?? ".data/receiver" },
      "agent-url": { type: "string", default: process.env.A2A_AGENT_URL ?? "http://127.0.0.1:8001" },
      secret: { type: "string", default: process.env.A2A_WEBHOOK_SECRET },
      token: { type: "string", default: process.env.A2A_NOTIFICATION_TOKEN },
      authorization: { type: "string", default: process.env.A2A_NOTIFICATION_AUTHORIZATION },
      audience: { type: "string", default: process.env.A2A_WEBHOOK_AUDIENCE },
      "no-jwt": { type: "boolean", default: process.env.A2A_NO_JWT === "1" },
      "no-proof": { type: "boolean", default: process.env.A2A_NO_PROOF === "1" },
      "read-token": { type: "string", default: process.env.A2A_RECEIVER_READ_TOKEN },
      "agent-token": { type: "string", default: process.env.A2A_AGENT_TOKEN },
    },
  });
  // An empty variable (`A2A_NOTIFICATION_TOKEN=`) means unset, not a token everyone knows.
  const given = (value: string | undefined) => (value === "" ? undefined : value);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be 0-65535, got ${values.port}`);

  // 2. Open the receiver's journal. The JWT audience is this receiver's webhook URL.
  let audience = values.audience?.split(",").map((a) => a.trim()).filter(Boolean);
  const receiver = await WebhookReceiver.open({
    dataDir: values["data-dir"]!,
    agentUrl: values["agent-url"]!,
    secrets: values.secret?.split(",").map((s) => s.trim()).filter(Boolean),
    jwt: !values["no-jwt"],
    // The real audience needs the port, known only after listen when --port 0: filled in below.
    audience: audience ?? ["pending"],
    token: given(values.token),
    authorization: given(values.authorization),
    proof: !values["no-proof"],
    readToken: given(values["read-token"]),
    agentToken: given(values["agent-token"]),
  });

  // 3. Serve.
  const server = receiver.createServer();
  await new Promise<void>((resolve) => server.listen(port, values.host, resolve));
  const actualPort = (server.address() as { port: number }).port;
  const shownHost = values.host!.includes(":") ? `[${values.host}]` : values.host!;
  if (!audience) {
    audience = [`http://${shownHost}:${actualPort}/webhook`];
    if (values.host === "127.0.0.1") audience.push(`http://localhost:${actualPort}/webhook`);
    receiver.setAudience(audience);
  }
  if (!receiver.checks.some((check) => check.startsWith("JWT") || check.startsWith("Standard"))) {
    console.warn("WARNING: webhooks are only token-authenticated: anyone who learns the token can forge them, and nothing stops a replay but deduplication.");
  }
  console.log(`checks: ${receiver.checks.join(" + ")}`);
  // The path, never the token: logs are read by more people than the data directory.
  if (receiver.notificationTokenFile) console.log(`notification token: in ${receiver.notificationTokenFile}; give it to the agent as the push config's "token"`);
  console.log(`reads (GET /, /events, /tasks/<id>): ${given(values["read-token"]) ? "with Authorization: Bearer <read token> (a browser asks for it as a password)" : "from loopback only"}`);
  console.log(`listening on http://${shownHost}:${actualPort}`);
  console.log(`open http://${shownHost}:${actualPort}/ to watch tasks as their webhooks arrive`);

  // 4. Stop cleanly.
  const stop = async (signal: string) => {
    console.log(`${signal}: stopping`);
    server.close();
    server.closeAllConnections();
    await receiver.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

await main();
