/**
 * A finished task as text: a task never changes once it is finished, so the store keeps it as its
 * JSON (a third of the memory of the object graph), writes it to the journal as is, and once its
 * line is in the journal file keeps only where that line is. The journal line puts a few summary
 * fields first, so start-up recognises a finished task by the line's head without parsing the rest:
 *
 *     {"type":"frozen","id":"…","contextId":"…","state":"…","timestamp":"…","principal":"…","tenant":"…","task":{…}}

 * (`principal` and `tenant`, the task's owner, only when it has one).
 *
 * @module
 */

import type { StoredLine } from "./journal.ts";
import type { LineLocation } from "./journal_format.ts";
import type { StoredTask } from "./task_records.ts";
import type { Task, TaskState } from "./types.ts";
import { TASK_STATES } from "./types.ts";

/**
 * A finished task, kept as its JSON text: a third of the memory of the object graph, and written to
 * (and read from) the journal as is, so compaction and start-up never re-serialise or parse it.
 * Once its line is in the journal file (read at start-up, or written by a compaction) it keeps only
 * that line's location and reads its JSON back when asked (`TaskStore.read`): memory per
 * finished task is then its ids and a few numbers, whatever the task's size.
 */
export class FrozenTask implements StoredTask, StoredLine {
  readonly type = "frozen";
  readonly id: string;
  readonly contextId: string;
  readonly state: TaskState;
  readonly timestamp: string;
  readonly checkpoint: undefined = undefined;
  readonly principal?: string;
  readonly tenant?: string;
  #json: string | undefined;
  #line: LineLocation | undefined;

  /**
   * @param summary The fields kept outside the JSON.
   * @param body The task's JSON text, or where its journal line is.
   */
  constructor(summary: FrozenSummary, body: string | LineLocation) {
    this.id = summary.id;
    this.contextId = summary.contextId;
    this.state = summary.state;
    this.timestamp = summary.timestamp;
    if (summary.principal !== undefined) this.principal = summary.principal;
    if (summary.tenant !== undefined) this.tenant = summary.tenant;
    if (typeof body === "string") this.#json = body;
    else this.#line = body;
  }

  /** The task's JSON, when it is in memory. */
  get json(): string | undefined {
    return this.#json;
  }

  /** A fresh copy of the task. */
  get task(): Task {
    if (this.#json === undefined) throw new Error(`Task ${this.id} is on disk: read it with TaskStore.read()`);
    return JSON.parse(this.#json) as Task;
  }

  /** Where its journal line is, once it is on disk (and not dropped). */
  get journalLine(): LineLocation | undefined {
    return this.#line;
  }

  /** Compaction wrote its line there: from now on the JSON is read from the file, not kept. */
  relocated(location: LineLocation): void {
    this.#line = location;
    this.#json = undefined;
  }

  /**
   * A copy with its JSON in memory, read back from the journal when only the line's location is kept.
   *
   * @param readLine The storage's `readLine`.
   * @returns The copy, or undefined if the task was dropped (retention) meanwhile.
   * @throws {Error} If the line cannot be read back intact, or there is no way to read it.
   */
  async inMemory(readLine: ((location: LineLocation) => Promise<Uint8Array>) | undefined): Promise<FrozenTask | undefined> {
    if (this.#json !== undefined) return new FrozenTask(this, this.#json);
    const line = this.#line;
    if (!line) return undefined;
    if (!readLine) throw new Error(`Task ${this.id} is on disk, but the storage cannot read lines back`);
    const record = decodeTaskRecord(await readLine(line));
    // A stale location (the task was dropped while this read waited) could name another line.
    return record instanceof FrozenTask && record.id === this.id ? record : undefined;
  }

  /** Retention dropped it: a read still holding it finds nothing rather than another line. */
  dropped(): void {
    this.#line = undefined;
  }

  /**
   * Freezes a task.
   *
   * @param task The finished task.
   * @param owner Whose it is.
   * @returns Its frozen form.
   */
  static of(task: Task, owner: { principal?: string; tenant?: string } = {}): FrozenTask {
    const { principal, tenant } = owner;
    return new FrozenTask({ id: task.id, contextId: task.contextId, state: task.status.state, timestamp: task.status.timestamp, principal, tenant }, JSON.stringify(task));
  }

  /** The journal line's JSON: the summary first, the task's JSON text last and untouched. */
  toJournalJson(): string {
    const { id, contextId, state, timestamp, principal, tenant } = this;
    if (this.#json === undefined) throw new Error(`Task ${id} is on disk: compaction copies its line`);
    const owner = (principal === undefined ? "" : `,"principal":${JSON.stringify(principal)}`) + (tenant === undefined ? "" : `,"tenant":${JSON.stringify(tenant)}`);
    return `{"type":"frozen","id":${JSON.stringify(id)},"contextId":${JSON.stringify(contextId)},"state":${JSON.stringify(state)},"timestamp":${JSON.stringify(timestamp)}${owner},"task":${this.#json}}`;
  }
}

/** The fields of a finished task kept outside its JSON. */
interface FrozenSummary {
  id: string;
  contextId: string;
  state: TaskState;
  timestamp: string;
  principal?: string | undefined;
  tenant?: string | undefined;
}

const JSON_STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const FROZEN_LINE = new RegExp(`^\\{"type":"frozen","id":(${JSON_STRING}),"contextId":(${JSON_STRING}),"state":(${JSON_STRING}),"timestamp":(${JSON_STRING})(?:,"principal":(${JSON_STRING}))?(?:,"tenant":(${JSON_STRING}))?,"task":`);

/**
 * Decodes one journal record's JSON. A frozen task's line is recognised by its fixed head and its
 * task JSON is kept as text (the line's checksum already vouches for it); anything else is parsed.
 *
 * @param line The record's JSON, as bytes (from the journal) or text.
 * @returns The record.
 * @throws {SyntaxError} If it is not JSON.
 */
export function decodeTaskRecord(line: Uint8Array | string): unknown {
  return decodeRecord(typeof line === "string" ? encoder.encode(line) : line, undefined);
}

/**
 * {@linkcode decodeTaskRecord} for a journal that can read lines back (`Storage.readLine`): a
 * frozen task keeps only where its line is, and its JSON is not even decoded. The journal's
 * `decode` option.
 *
 * @param json The record's JSON bytes.
 * @param line Where the record's line is in the journal file.
 * @returns The record.
 * @throws {SyntaxError} If it is not JSON.
 */
export function decodeTaskRecordAt(json: Uint8Array, line: LineLocation): unknown {
  return decodeRecord(json, line);
}

function decodeRecord(bytes: Uint8Array, line: LineLocation | undefined): unknown {
  if (!startsWith(bytes, FROZEN_PREFIX)) return JSON.parse(decoder.decode(bytes));
  // Decode the head and the task JSON as two strings, so the kept JSON does not hold the head.
  // The head slice must not end inside a multi-byte character: back off to a character start.
  let headEnd = Math.min(bytes.length, MAX_FROZEN_HEAD_BYTES);
  while (headEnd < bytes.length && headEnd > 0 && (bytes[headEnd]! & 0xc0) === 0x80) headEnd--;
  const head = FROZEN_LINE.exec(decoder.decode(bytes.subarray(0, headEnd)));
  if (!head || bytes[bytes.length - 1] !== 0x7d) throw new SyntaxError("A frozen task record has no head or does not end with }");
  const [id, contextId, state, timestamp, principal, tenant] = head.slice(1).map((value) => value === undefined ? undefined : JSON.parse(value) as string);
  const known = STATE_NAMES.get(state!) ?? state!; // One string per state, not one per task.
  const summary: FrozenSummary = { id: id!, contextId: contextId!, state: known as TaskState, timestamp: timestamp!, principal, tenant };
  if (line) return new FrozenTask(summary, line);
  return new FrozenTask(summary, decoder.decode(bytes.subarray(encoder.encode(head[0]).length, bytes.length - 1)));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const FROZEN_PREFIX = encoder.encode('{"type":"frozen",');
const STATE_NAMES = new Map([...TASK_STATES].map((state) => [state, state]));
/**
 * Room for the head: id, contextId and tenant of up to 256 characters and a principal of up to 255
 * (`auth.ts`), each fully escaped (six bytes a character, `\u0001`), with room to spare.
 */
const MAX_FROZEN_HEAD_BYTES = 8192;

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
