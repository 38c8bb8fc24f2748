/**
 * The options of an agent, in one place: what `Agent.open` takes, with each default. Types only.
 *
 * @module
 */

import type { QuotaOptions } from "./access.ts";
import type { CardOptions } from "./agent_card.ts";
import type { JournalOptions } from "./journal.ts";
import type { PgStorageOptions } from "./pg_storage.ts";
import type { TaskHandler } from "./runner.ts";
import type { ResolverFunction, SsrfOptions } from "./ssrf.ts";
import type { AgentCard } from "./types.ts";

/** Options of `Agent.open`. */
export interface AgentOptions {
  /** The agent's work, run in the background for each task. */
  handler: TaskHandler;
  /** Where the journal, the signing keys and the admin token live. */
  dataDir: string;
  /** Card fields: name, description, version, skills, input and output modes... */
  card?: CardOptions;
  /**
   * The card `GetExtendedAgentCard` returns; giving one declares `capabilities.extendedAgentCard`.
   * A function may return undefined when it has none to give (-32007). Without it the method is
   * unsupported (-32004).
   */
  extendedCard?: AgentCard | (() => AgentCard | undefined);
  /** Handlers running at once. @default 32 */
  concurrency?: number;
  /** fsync each journal batch. @default true */
  sync?: boolean;
  /** Keep a damaged journal's good lines, moving the bad ones to `journal.jsonl.damaged`, instead of refusing to start; also starts on an emptied journal. @default false */
  repair?: boolean;
  /** Keep terminal tasks this long. @default 7 days */
  retentionMs?: number;
  /** Keep at most this many finished tasks, dropping the oldest (never one still owed a webhook). @default 100000 */
  maxFinishedTasks?: number;
  /** Compact when the journal holds this many times the live records. @default 4 */
  compactionFactor?: number;
  /** Never compact below this many journal records. @default 10000 */
  compactionMinRecords?: number;
  /** Compact once finished tasks' JSON held in memory passes this (their bodies then stay on disk). @default 64 MiB */
  maxFrozenBytesInMemory?: number;
  /** Opens the journal file; tests inject a file system that fails (a full disk). @default node:fs/promises `open` */
  openFile?: JournalOptions["openFile"];
  /** Where warnings go. @default console.warn */
  warn?: (message: string) => void;
  /** What one caller may hold: push configs per task, open tasks, streams (see `access.ts`). @default 10 configs, 1000 open tasks, 32 streams per caller, 512 in all */
  quotas?: QuotaOptions;
  /**
   * Keep everything in PostgreSQL instead of the data directory's journal, shared with other agent
   * processes on the same database (replicas); the data directory then holds only the signing keys
   * and the admin token. Needs the `postgres` package. @default none: the file journal
   */
  database?: PgStorageOptions & { leaseMs?: number };
  /** Push notifications; `false` builds an agent without them (the config methods answer -32003). @default {} */
  push?: PushOptions | false;
  /**
   * The URL clients reach the agent at (the webhook JWT's `iss`). Given here, webhooks start to go
   * out at open; else call `Agent.startDelivery` once the server listens.
   */
  publicUrl?: string;
}

/** Push notification options of {@linkcode AgentOptions}. */
export interface PushOptions {
  /** Standard Webhooks secrets, `whsec_...`, comma-separated for rotation. @default none: no `webhook-signature` */
  secrets?: string;
  /** Sign each webhook with an ES256 JWT (keys in the data directory, public keys at /.well-known/jwks.json). @default true */
  jwt?: boolean;
  /** Delay before each attempt, ms; the length is the number of attempts. @default 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h */
  schedule?: readonly number[];
  /** Per-attempt timeout. @default 10000 */
  timeoutMs?: number;
  /** SSRF guard: `allowPrivate` opens loopback/private targets, `allowlist` some CIDRs/hosts. @default guard on */
  ssrf?: SsrfOptions;
  /** DNS resolver for the SSRF guard (tests inject one). */
  resolver?: ResolverFunction;
  /** Attempts in flight at once. @default 256 */
  maxInFlight?: number;
  /** Attempts in flight at once per origin (each on its own keep-alive connection), at most: an origin starts at 8, is cut down to one probe while its attempts fail, and grows back as they are answered. @default 64 */
  maxInFlightPerOrigin?: number;
  /** The attempt timeout for an origin whose last 3 attempts timed out (every 4th still waits `timeoutMs`); never longer than `timeoutMs`. @default 2000 */
  slowOriginTimeoutMs?: number;
  /** Bearer token of the admin interface (/admin/outbox). @default read or made in `<dataDir>/admin_token` */
  adminToken?: string;
  /** One line per delivery attempt. @default none */
  log?: (line: string) => void;
  /**
   * Disable a webhook endpoint (scheme, host, port, path) once every attempt to it has failed this
   * long: its deliveries then go to the dead letters until an operator enables it again. `Infinity`
   * never disables one. @default 5 days
   */
  disableAfterMs?: number;
  /** Backpressure: a new task waits while its webhook's origin has this many deliveries never attempted. @default 64 */
  maxFreshPerOrigin?: number;
  /** The outbox's clock, ms (retry times, endpoint health); tests move it on by days. @default Date.now */
  now?: () => number;
  /** The longest a new task waits for that backpressure. @default 5000 */
  admissionWaitMs?: number;
}

