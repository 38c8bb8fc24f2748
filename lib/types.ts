/**
 * The A2A v1.0 wire objects a2a-push speaks, as TypeScript types (ProtoJSON, camelCase), and the
 * sets of state names the rest of the code asks about. No I/O, no behaviour.
 *
 * @module
 */

/** The lifecycle states of a task, spelled as on the wire. */
export type TaskState =
  | "TASK_STATE_SUBMITTED"
  | "TASK_STATE_WORKING"
  | "TASK_STATE_INPUT_REQUIRED"
  | "TASK_STATE_AUTH_REQUIRED"
  | "TASK_STATE_COMPLETED"
  | "TASK_STATE_FAILED"
  | "TASK_STATE_CANCELED"
  | "TASK_STATE_REJECTED";

/** Who sent a message. */
export type Role = "ROLE_USER" | "ROLE_AGENT";

/** A piece of content: exactly one of `text`, `raw` (base64), `url` or `data`. */
export interface Part {
  text?: string;
  raw?: string;
  url?: string;
  data?: unknown;
  metadata?: Record<string, unknown>;
  filename?: string;
  mediaType?: string;
}

/** One unit of communication between client and agent. */
export interface Message {
  messageId: string;
  role: Role;
  parts: Part[];
  contextId?: string;
  taskId?: string;
  metadata?: Record<string, unknown>;
  extensions?: string[];
  referenceTaskIds?: string[];
}

/** A task output. */
export interface Artifact {
  artifactId: string;
  name?: string;
  description?: string;
  parts: Part[];
  metadata?: Record<string, unknown>;
  extensions?: string[];
}

/** A task's current state, with an optional message and an ISO 8601 timestamp. */
export interface TaskStatus {
  state: TaskState;
  message?: Message;
  timestamp: string;
}

/** The unit of work A2A tracks. */
export interface Task {
  id: string;
  contextId: string;
  status: TaskStatus;
  artifacts?: Artifact[];
  history?: Message[];
  metadata?: Record<string, unknown>;
}

/** A change in a task's status. */
export interface TaskStatusUpdateEvent {
  taskId: string;
  contextId: string;
  status: TaskStatus;
  metadata?: Record<string, unknown>;
}

/** A new or extended artifact. */
export interface TaskArtifactUpdateEvent {
  taskId: string;
  contextId: string;
  artifact: Artifact;
  append?: boolean;
  lastChunk?: boolean;
  metadata?: Record<string, unknown>;
}

/** What a stream (and a webhook) carries: exactly one member is set. */
export type StreamResponse =
  | { task: Task }
  | { message: Message }
  | { statusUpdate: TaskStatusUpdateEvent }
  | { artifactUpdate: TaskArtifactUpdateEvent };

/** How the agent authenticates to a webhook: `Authorization: <scheme> <credentials>`. */
export interface AuthenticationInfo {
  scheme: string;
  credentials?: string;
}

/** Where and how to send a task's push notifications. */
export interface TaskPushNotificationConfig {
  id?: string;
  taskId?: string;
  url: string;
  token?: string;
  authentication?: AuthenticationInfo;
  tenant?: string;
}

/** `SendMessage` options. */
export interface SendMessageConfiguration {
  acceptedOutputModes?: string[];
  taskPushNotificationConfig?: TaskPushNotificationConfig;
  historyLength?: number;
  returnImmediately?: boolean;
}

/** `SendMessage` / `SendStreamingMessage` params. */
export interface SendMessageParams {
  message: Message;
  configuration?: SendMessageConfiguration;
  metadata?: Record<string, unknown>;
  /** Not a wire field: set by the v0.3 edge (`v03.ts`) so an inline push config gets v0.3 webhook bodies. */
  protocolVersion?: "0.3";
}

/** `ListTasks` params. */
export interface ListTasksParams {
  contextId?: string;
  status?: TaskState;
  pageSize?: number;
  pageToken?: string;
  historyLength?: number;
  statusTimestampAfter?: string;
  includeArtifacts?: boolean;
}

/** `ListTasks` result. */
export interface ListTasksResult {
  tasks: Task[];
  nextPageToken: string;
  pageSize: number;
  totalSize: number;
}

/** A skill on the agent card. */
export interface AgentSkill {
  id: string;
  name: string;
  description: string;
  tags: string[];
  examples?: string[];
  inputModes?: string[];
  outputModes?: string[];
}

/** One way to reach the agent. */
export interface AgentInterface {
  url: string;
  protocolBinding: string;
  protocolVersion: string;
  tenant?: string;
}

/** The agent's self-description, served at `/.well-known/agent-card.json`. */
export interface AgentCard {
  name: string;
  description: string;
  version: string;
  supportedInterfaces: AgentInterface[];
  capabilities: { streaming?: boolean; pushNotifications?: boolean; extendedAgentCard?: boolean };
  defaultInputModes: string[];
  defaultOutputModes: string[];
  skills: AgentSkill[];
  provider?: { url: string; organization: string };
  documentationUrl?: string;
  securitySchemes?: Record<string, unknown>;
  securityRequirements?: unknown[];
}

/** The states after which a task never changes again. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  "TASK_STATE_COMPLETED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELED",
  "TASK_STATE_REJECTED",
]);

/** The states in which a task waits for its client. */
export const INTERRUPTED_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  "TASK_STATE_INPUT_REQUIRED",
  "TASK_STATE_AUTH_REQUIRED",
]);

/** Every state name, for validating input. */
export const TASK_STATES: ReadonlySet<string> = new Set<TaskState>([
  "TASK_STATE_SUBMITTED",
  "TASK_STATE_WORKING",
  "TASK_STATE_INPUT_REQUIRED",
  "TASK_STATE_AUTH_REQUIRED",
  "TASK_STATE_COMPLETED",
  "TASK_STATE_FAILED",
  "TASK_STATE_CANCELED",
  "TASK_STATE_REJECTED",
]);
