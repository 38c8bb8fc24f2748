/**
 * Endpoint health: an endpoint (scheme, host, port and path of a webhook URL) whose every attempt
 * has failed for `disableAfterMs` (5 days by default, as Svix does) is disabled. The outbox then
 * sends it nothing: its deliveries go to the dead letters with the reason, until an operator
 * enables it again (the console, `POST /admin/endpoints/enable`, `scripts/outbox.ts enable`). A
 * success at any time resets the failing clock. Where `origin_health.ts` adapts how many attempts
 * an origin gets from second to second, this decides, over days, whether an endpoint gets any.
 *
 * Pure: outcomes in, journal records and log lines out, the clock injected. The state that must
 * survive a restart (failing since when, disabled or not) changes only at those transitions, each
 * one a `push.endpoint` record the outbox journals and replays; compaction writes one per endpoint
 * that is failing or disabled. The rest (last success, last error) is for the console and is
 * forgotten at a restart.
 *
 * @module
 */

import type { OriginHealth } from "./origin_health.ts";
import type { EndpointRecord } from "./task_records.ts";

export type { EndpointRecord } from "./task_records.ts";

/** Options of {@linkcode EndpointHealth}. */
export interface EndpointHealthOptions {
  /** Disable an endpoint once every attempt to it has failed for this long, ms; `Infinity` never does. @default 5 days */
  disableAfterMs?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** What is known of one endpoint. */
export interface EndpointStatus {
  /** Scheme, host, port and path, as {@linkcode endpointOf} makes it. */
  endpoint: string;
  /** Since when every attempt has failed (ms since the epoch); undefined while it answers. */
  failingSince?: number;
  /** When it was disabled; undefined while it is enabled. */
  disabledAt?: number;
  /** Why it was disabled. */
  reason?: string;
  /** The last acknowledged attempt, since this process started. */
  lastSuccessAt?: number;
  /** The last failed attempt, since this process started. */
  lastFailureAt?: number;
  /** The last failed attempt's error. */
  lastError?: string;
}

/** One endpoint as the operator's console shows it: its health, and what is owed to it. */
export interface EndpointReport extends EndpointStatus {
  /** Deliveries owed to it (waiting or in flight). */
  pending: number;
  /** Its dead letters. */
  dead: number;
  /** The earliest next attempt among its pending deliveries, ms since the epoch. */
  nextAt?: number;
  /** The most attempts any of its pending deliveries has made. */
  attempts: number;
  /** Attempts its origin may have in flight now (`origin_health.ts`): 1 while it is probed. */
  window: number;
  /** Whether its origin's last attempt was answered (a new origin's was not, yet). */
  answering: boolean;
}

/** The fields of a listed delivery a report reads. */
type Listed = { url: string | undefined; nextAt: number; attempts: number; lastError?: string };

/**
 * Each endpoint's health with what is owed to it: every endpoint with pending deliveries, dead
 * letters or a remembered status; disabled ones first, then failing ones, then by deliveries owed.
 *
 * @param statuses What {@linkcode EndpointHealth.list} says.
 * @param deliveries The outbox's pending deliveries and dead letters, with their URLs (none: the config is gone).
 * @param origins The outbox's origin windows.
 * @returns The reports.
 *
 * @example Report an endpoint with one delivery owed
 * ```ts
 * import { reportEndpoints } from "./endpoint_health.ts";
 * import { OriginHealth } from "./origin_health.ts";
 * const pending = [{ url: "https://hooks.example/a?x=1", nextAt: 5, attempts: 2, lastError: "HTTP 500" }];
 * const [report] = reportEndpoints([], { pending, dead: [] }, new OriginHealth());
 * console.log(report.endpoint, report.pending, report.lastError); // "https://hooks.example/a" 1 "HTTP 500"
 * ```
 */
export function reportEndpoints(statuses: readonly EndpointStatus[], deliveries: { pending: readonly Listed[]; dead: readonly Listed[] }, origins: Pick<OriginHealth, "window" | "answering">): EndpointReport[] {
  const reports = new Map<string, EndpointReport>();
  const reportOf = (endpoint: string): EndpointReport => {
    let report = reports.get(endpoint);
    if (!report) {
      const origin = new URL(endpoint).origin;
      reports.set(endpoint, (report = { endpoint, pending: 0, dead: 0, attempts: 0, window: origins.window(origin), answering: origins.answering(origin) }));
    }
    return report;
  };
  for (const status of statuses) Object.assign(reportOf(status.endpoint), status);
  for (const [state, list] of [["pending", deliveries.pending], ["dead", deliveries.dead]] as const) {
    for (const delivery of list) {
      if (delivery.url === undefined) continue;
      const report = reportOf(endpointOf(delivery.url));
      report[state]++;
      report.lastError ??= delivery.lastError; // Journaled with the delivery: known after a restart too.
      if (state === "dead") continue;
      report.attempts = Math.max(report.attempts, delivery.attempts);
      if (report.nextAt === undefined || delivery.nextAt < report.nextAt) report.nextAt = delivery.nextAt;
    }
  }
  const rank = (report: EndpointReport) => (report.disabledAt !== undefined ? 0 : report.failingSince !== undefined ? 1 : 2);
  return [...reports.values()].sort((a, b) => rank(a) - rank(b) || b.pending - a.pending || a.endpoint.localeCompare(b.endpoint));
}

/** Endpoints remembered at most; healthy ones are forgotten first (least recently used). */
const MAX_ENDPOINTS = 10_000;
const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_DISABLE_AFTER_MS = 5 * DAY_MS;
/** What a `push.endpoint` record's `taskId` starts with: storage keys every record by what it is about. */
const KEY_PREFIX = "endpoint:";

/**
 * The endpoint a webhook URL names: scheme, host, port (when not the scheme's default) and path.
 * Query, fragment and credentials are left out, so they never reach a log or the console.
 *
 * @param url A webhook URL.
 * @returns E.g. `https://hooks.example:8443/a2a`.
 * @throws {TypeError} If `url` is not a URL.
 *
 * @example Query, fragment and credentials left out
 * ```ts
 * import { endpointOf } from "./endpoint_health.ts";
 * console.log(endpointOf("HTTPS://Hooks.Example:443/a2a?key=secret#x")); // "https://hooks.example/a2a"
 * ```
 */
export function endpointOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * Health of every endpoint the outbox sends to.
 *
 * @example An endpoint failing for six days is disabled, once
 * ```ts
 * import { EndpointHealth } from "./endpoint_health.ts";
 * let now = 0;
 * const health = new EndpointHealth({ now: () => now });
 * const url = "https://hooks.example/a2a";
 * health.record(url, false, "HTTP 500"); // starts the failing clock (a record to journal)
 * now = 6 * 24 * 3600 * 1000;
 * console.log(health.record(url, false, "HTTP 500").line); // "webhook endpoint https://hooks.example/a2a disabled: ..."
 * console.log(health.disabledReason(url) !== undefined); // true
 * ```
 */
export class EndpointHealth {
  #disableAfterMs: number;
  #now: () => number;
  #states = new Map<string, EndpointStatus>();
  #endpointCache = new Map<string, string>();

  /**
   * @param options See {@linkcode EndpointHealthOptions}.
   * @throws {RangeError} If `disableAfterMs` is negative or not a number.
   */
  constructor(options: EndpointHealthOptions = {}) {
    const { disableAfterMs = DEFAULT_DISABLE_AFTER_MS, now = Date.now } = options;
    if (!(disableAfterMs >= 0)) throw new RangeError(`Cannot track endpoint health: disableAfterMs must be >= 0, got ${disableAfterMs}`);
    this.#disableAfterMs = disableAfterMs;
    this.#now = now;
  }

  /**
   * Why the endpoint of `url` is disabled, or undefined when it may be sent to.
   *
   * @param url A webhook URL.
   * @returns The reason, for its dead letters.
   */
  disabledReason(url: string): string | undefined {
    const state = this.#states.get(this.#endpointOf(url));
    return state?.disabledAt === undefined ? undefined : `endpoint disabled: ${state.reason ?? "by an operator"}`;
  }

  /**
   * Learns from one attempt to `url`.
   *
   * @param url The webhook URL attempted.
   * @param ok Whether the receiver acknowledged it (any 2xx).
   * @param error The failure, for the console and the reason.
   * @returns `record`, to journal, when what must survive a restart changed (the endpoint started
   *   failing, recovered, or was disabled); `line`, to log, when it was disabled (once).
   */
  record(url: string, ok: boolean, error?: string): { record?: EndpointRecord; line?: string } {
    const endpoint = this.#endpointOf(url);
    const state = this.#touch(endpoint);
    const now = this.#now();
    if (state.disabledAt !== undefined) return {}; // An attempt that was in flight when it was disabled.
    if (ok) {
      state.lastSuccessAt = now;
      if (state.failingSince === undefined) return {};
      delete state.failingSince;
      return { record: this.#recordOf(state) };
    }
    state.lastFailureAt = now;
    if (error !== undefined) state.lastError = error;
    const started = state.failingSince === undefined;
    state.failingSince ??= now;
    if (now - state.failingSince < this.#disableAfterMs) return started ? { record: this.#recordOf(state) } : {};
    state.disabledAt = now;
    state.reason = `every attempt failed for ${formatDuration(now - state.failingSince)} (since ${new Date(state.failingSince).toISOString()}), the last: ${error ?? "no answer"}`;
    const line = `webhook endpoint ${endpoint} disabled: ${state.reason}; its deliveries go to the dead letters until it is enabled again`;
    return { record: this.#recordOf(state), line };
  }

  /**
   * Enables an endpoint again, with a fresh failing clock.
   *
   * @param endpoint The endpoint, or any webhook URL of it.
   * @returns The record to journal, and whether it was disabled; no record when it was healthy.
   * @throws {TypeError} If `endpoint` is not a URL.
   */
  enable(endpoint: string): { record?: EndpointRecord; wasDisabled: boolean } {
    const state = this.#states.get(endpointOf(endpoint));
    if (!state || (state.disabledAt === undefined && state.failingSince === undefined)) return { wasDisabled: false };
    const wasDisabled = state.disabledAt !== undefined;
    delete state.disabledAt;
    delete state.reason;
    delete state.failingSince;
    return { record: this.#recordOf(state), wasDisabled };
  }

  /**
   * Applies a journaled record (at start-up, or from another replica): the endpoint's failing
   * clock and whether it is disabled become the record's.
   *
   * @param record A `push.endpoint` record.
   */
  apply(record: EndpointRecord): void {
    const state = this.#touch(record.endpoint);
    for (const field of ["failingSince", "disabledAt", "reason"] as const) {
      if (record[field] === undefined) delete state[field];
      else (state as Record<typeof field, unknown>)[field] = record[field];
    }
  }

  /** The records that rebuild what must survive a restart, for compaction: one per failing or disabled endpoint. */
  records(): EndpointRecord[] {
    return [...this.#states.values()].filter((state) => state.failingSince !== undefined || state.disabledAt !== undefined).map((state) => this.#recordOf(state));
  }

  /** Every endpoint remembered, for the console (copies). */
  list(): EndpointStatus[] {
    return [...this.#states.values()].map((state) => ({ ...state }));
  }

  #recordOf(state: EndpointStatus): EndpointRecord {
    const record: EndpointRecord = { type: "push.endpoint", taskId: `${KEY_PREFIX}${state.endpoint}`, endpoint: state.endpoint };
    if (state.failingSince !== undefined) record.failingSince = state.failingSince;
    if (state.disabledAt !== undefined) Object.assign(record, { disabledAt: state.disabledAt, reason: state.reason });
    return record;
  }

  /** The endpoint's state, made if new, moved to the most recently used end. */
  #touch(endpoint: string): EndpointStatus {
    const state = this.#states.get(endpoint) ?? { endpoint };
    this.#states.delete(endpoint);
    this.#states.set(endpoint, state);
    if (this.#states.size > MAX_ENDPOINTS) {
      // Only a healthy endpoint may be forgotten: the others' state is what the journal promises.
      for (const [key, old] of this.#states) {
        if (old.failingSince === undefined && old.disabledAt === undefined) {
          this.#states.delete(key);
          break;
        }
      }
    }
    return state;
  }

  #endpointOf(url: string): string {
    let endpoint = this.#endpointCache.get(url);
    if (endpoint !== undefined) return endpoint;
    if (this.#endpointCache.size > MAX_ENDPOINTS) this.#endpointCache.clear();
    this.#endpointCache.set(url, (endpoint = endpointOf(url)));
    return endpoint;
  }
}

/** A duration in the largest unit that fits, for a reason a person reads: "5 d", "36 h", "90 s". */
function formatDuration(ms: number): string {
  const units: Array<[string, number]> = [["d", DAY_MS], ["h", 3600_000], ["min", 60_000], ["s", 1000]];
  for (const [unit, size] of units) if (ms >= 2 * size || unit === "s") return `${Math.round((ms / size) * 10) / 10} ${unit}`;
  return `${ms} ms`;
}
