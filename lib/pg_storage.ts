/**
 * The store seam on PostgreSQL: several agent processes (replicas) on one database, each holding
 * the tasks in memory as the file-journal agent does, all writing one log of records.
 *
 *   a2a_records     (seq, task_id, version, record, replica, principal, tenant): the log; (task_id, version)
 *                   is unique, so a replica that built a change on an old state loses the race
 *                   (StaleWriteError) and builds it again on the new one.
 *   a2a_deliveries  (id, task_id, config_id, state, lease_owner, lease_until): one row per owed
 *                   webhook, written in the same transaction as the record that owes it; attempts
 *                   are claimed with FOR UPDATE SKIP LOCKED, so one replica at a time sends each.
 *   a2a_runs        (task_id, owner, lease_until): who runs a task, for how long unless renewed.
 *
 * Appends made in the same turn share one transaction, sent as one statement (one round trip: under
 * load each round trip costs a turn of both event loops, and commits wait for each other). It takes
 * a transaction-scoped advisory lock before its insert, so sequence numbers are handed out in commit
 * order and a replica reading `seq > last` never skips a record still being committed. Commits
 * NOTIFY `a2a_records`; every replica LISTENs, and also polls, and hands what others committed to
 * its listener in order.
 *
 * The `postgres` package is loaded only here, and only when a database URL is given.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { clearInterval, setImmediate, setInterval } from "node:timers";
import { JournalError } from "./errors.ts";
import { decodeTaskRecord } from "./frozen_task.ts";
import { migrate } from "./pg_schema.ts";
import { StaleWriteError, taskIdOf } from "./storage.ts";
import type { TaskStorage } from "./storage.ts";
import { batchPerTurn } from "./turn_batch.ts";

/** Options of {@linkcode PgStorage.open}. */
export interface PgStorageOptions {
  /** The database, e.g. `postgres://user@127.0.0.1:5432/db`. */
  url: string;
  /** The schema the tables live in; created if missing. @default "a2a_push" */
  schema?: string;
  /** This process's name in leases and claims. @default a random UUID */
  replicaId?: string;
  /** How often to look for records others committed, besides NOTIFY. @default 500 */
  pollMs?: number;
  /** Connections in the pool. @default 8 */
  maxConnections?: number;
}

/** The advisory lock that orders commits (an arbitrary 64-bit number: "a2a-push" in ASCII). */
const COMMIT_LOCK = 0x6132612d70757368n;
const CHANNEL = "a2a_records";
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

type Sql = import("postgres").Sql;

interface Pending {
  record: unknown;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A {@linkcode TaskStorage} on PostgreSQL.
 *
 * @example Open, append, close
 * ```ts
 * import { PgStorage } from "./pg_storage.ts";
 * const storage = await PgStorage.open({ url: "postgres://postgres@127.0.0.1:5432/test", schema: "example" });
 * await storage.append({ type: "checkpoint", taskId: "t1", checkpoint: 1 });
 * await storage.close();
 * ```
 */
export class PgStorage implements TaskStorage {
  readonly shared = true;
  /** This process's name in leases and claims. */
  readonly replicaId: string;
  #sql: Sql;
  #versions = new Map<string, number>();
  #applied = 0n;
  #listener: (record: unknown) => void = () => {};
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #tailing: Promise<void> = Promise.resolve();
  /** A look for others' commits that is waiting for its turn: a caller meanwhile can share it. */
  #queuedLook: Promise<void> | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #count = 0;
  #loaded = false;
  /** Run claims per lease length (one per turn each). */
  #runClaims = new Map<number, (taskIds: readonly string[]) => Promise<Set<string>>>();
  #closed = false;

  /** Use {@linkcode PgStorage.open}. */
  constructor(sql: Sql, replicaId: string) {
    this.#sql = sql;
    this.replicaId = replicaId;
  }

  /**
   * Connects, creates or migrates the schema, and starts listening for others' commits.
   *
   * @param options See {@linkcode PgStorageOptions}.
   * @returns The storage; call `load()` next.
   * @throws {Error} If the `postgres` package is not installed, or the database refuses.
   */
  static async open(options: PgStorageOptions): Promise<PgStorage> {
    const { url, schema = "a2a_push", replicaId = randomUUID(), pollMs = 500, maxConnections = 8 } = options;
    if (!IDENTIFIER.test(schema)) throw new RangeError(`schema must be a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
    let postgres: typeof import("postgres");
    try {
      postgres = (await import("postgres")).default as typeof import("postgres");
    } catch (error) {
      throw new Error("--database-url needs the postgres package: npm install postgres", { cause: error });
    }
    // Custom plans: a statement's generic plan is made while its tables are still small (a new schema)
    // and kept, so a seq scan chosen for 10 rows would still run over 100,000.
    const connection = { search_path: schema, application_name: `a2a-push ${replicaId}`, plan_cache_mode: "force_custom_plan" };
    const sql = postgres(url, { max: maxConnections, onnotice: () => {}, connection });
    const storage = new PgStorage(sql, replicaId);
    await migrate(sql, schema);
    // A commit's NOTIFY names its replica: this one's own need no look (it applied them as it committed).
    const listening = await sql.listen(CHANNEL, (from) => void (from !== replicaId && storage.catchUp().catch(() => {})));
    storage.#unlisten = () => listening.unlisten();
    storage.#poll = setInterval(() => void storage.catchUp().catch(() => {}), pollMs);
    storage.#poll.unref();
    return storage;
  }

  /** Records this process has seen since its last compaction (live ones then, and every one since). */
  get recordCount(): number {
    return this.#count;
  }

  /** Every record in the log, in commit order; what others commit after it goes to the listener. */
  async load(): Promise<unknown[]> {
    const records: unknown[] = [];
    const loaded = this.#tailing.then(() => this.#read((record) => records.push(record)));
    this.#tailing = loaded.then(() => void (this.#loaded = true), () => undefined);
    await loaded;
    return records;
  }

  onCommitted(listener: (record: unknown) => void): void {
    this.#listener = listener;
  }

  /**
   * Hands what others committed since the last look to the listener; one look at a time, and none
   * before `load`. Under load every commit's NOTIFY asks for a look: those asked while one waits for
   * its turn share it (it has not read yet, so it reads what they ask for).
   */
  catchUp(): Promise<void> {
    if (this.#queuedLook) return this.#queuedLook;
    const next = this.#tailing.then(() => {
      this.#queuedLook = undefined;
      return this.#loaded ? this.#read(this.#listener) : undefined;
    });
    this.#queuedLook = next;
    this.#tailing = next.catch(() => undefined);
    return next;
  }

  /** Reads the log past `#applied`, in pages; the tail skips this process's own records. */
  async #read(deliver: (record: unknown) => void): Promise<void> {
    if (this.#closed) return;
    // This process applied its own records as it committed them (a restart reads them at load):
    // the tail reads only their place in the log, not their text.
    const skip = deliver === this.#listener ? this.replicaId : "";
    for (let page = 0; page < 10_000; page++) {
      // Bounded above too: a range the planner takes for a few rows, so it reads the index even
      // before the table has statistics (an open-ended "seq >" is guessed at a third of the table).
      const rows = await this.#sql<Array<{ seq: string; task_id: string; version: number; record: string | null; replica: string }>>`
        SELECT seq, task_id, version, CASE WHEN replica = ${skip} THEN NULL ELSE record END AS record, replica FROM a2a_records
        WHERE seq > ${this.#applied.toString()} AND seq <= (SELECT max(seq) FROM a2a_records) ORDER BY seq LIMIT 2000`;
      for (const row of rows) {
        this.#applied = BigInt(row.seq);
        if (row.record === null) continue;
        this.#count++;
        if ((this.#versions.get(row.task_id) ?? 0) < row.version) this.#versions.set(row.task_id, row.version);
        deliver(decodeTaskRecord(row.record));
      }
      if (rows.length < 2000) return;
    }
  }

  append(record: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new JournalError("CLOSED", "The database storage is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    try {
      const inserted = await this.#commit(batch.map((pending) => pending.record));
      batch.forEach((pending, i) => {
        if (inserted[i]) pending.resolve();
        else pending.reject(new StaleWriteError(taskIdOf(pending.record) ?? "", `Task ${taskIdOf(pending.record)} changed on another replica; build the change again`));
      });
    } catch (error) {
      for (const pending of batch) pending.reject(new JournalError("IO", `Cannot commit to the database: ${(error as Error).message}`, { cause: error }));
    } finally {
      this.#flushing = undefined;
      if (this.#queue.length > 0) this.#flushing = this.#flush();
    }
  }

  /** One transaction: the records that still extend their task's latest version, and what they do to deliveries. */
  async #commit(records: unknown[]): Promise<boolean[]> {
    const rows = records.map((record) => {
      const taskId = taskIdOf(record);
      if (taskId === undefined) throw new TypeError("A record must name its task");
      const r = record as { principal?: string; tenant?: string; type?: string; toJournalJson?: () => string };
      const text = typeof r.toJournalJson === "function" ? r.toJournalJson() : JSON.stringify(record);
      return { taskId, version: (this.#versions.get(taskId) ?? 0) + 1, text, principal: r.type === "task" || r.type === "frozen" ? (r.principal ?? null) : null, tenant: r.type === "task" || r.type === "frozen" ? (r.tenant ?? null) : null };
    });
    const changes = deliveryChanges(records, rows);
    const keys = (list: Array<{ record: number }>) => [list.map((c) => rows[c.record]!.taskId), list.map((c) => rows[c.record]!.version)] as const;
    const [owedTask, owedVersion] = keys(changes.owed);
    const [stateTask, stateVersion] = keys(changes.states);
    const [removedTask, removedVersion] = keys(changes.removed);
    const [goneTask, goneVersion] = keys(changes.configsGone);
    // One statement, so one round trip (each costs an event-loop turn at both ends under load, and
    // commits wait for each other): the lock, the records that still extend their task's latest
    // version, what those (and only those) do to delivery rows, and the NOTIFY. The lock is taken
    // before any row is numbered (the join needs it first), so sequence numbers follow commit order.
    const inserted = await this.#sql<Array<{ task_id: string; version: number }>>`
      WITH commit_lock AS (SELECT pg_advisory_xact_lock(${COMMIT_LOCK.toString()}::bigint)),
      ins AS (
        INSERT INTO a2a_records (task_id, version, record, principal, tenant, replica)
        SELECT t.task_id, t.version, t.record, t.principal, t.tenant, ${this.replicaId}::text
        FROM unnest(${rows.map((row) => row.taskId)}::text[], ${rows.map((row) => row.version)}::int[], ${rows.map((row) => row.text)}::text[],
                    ${rows.map((row) => row.principal) as string[]}::text[], ${rows.map((row) => row.tenant) as string[]}::text[])
          AS t(task_id, version, record, principal, tenant) CROSS JOIN commit_lock
        ON CONFLICT (task_id, version) DO NOTHING RETURNING task_id, version),
      owed AS (
        INSERT INTO a2a_deliveries (id, task_id, config_id, state)
        SELECT o.id, o.task_id, o.config_id, o.state
        FROM unnest(${changes.owed.map((c) => c.id)}::text[], ${changes.owed.map((c) => c.taskId)}::text[], ${changes.owed.map((c) => c.configId)}::text[],
                    ${changes.owed.map((c) => c.state)}::text[], ${owedTask}::text[], ${owedVersion}::int[]) AS o(id, task_id, config_id, state, rt, rv)
        JOIN ins ON ins.task_id = o.rt AND ins.version = o.rv
        ON CONFLICT (id) DO NOTHING),
      states AS (
        UPDATE a2a_deliveries d SET state = s.state, lease_owner = NULL, lease_until = NULL
        FROM unnest(${changes.states.map((c) => c.id)}::text[], ${changes.states.map((c) => c.state)}::text[], ${stateTask}::text[], ${stateVersion}::int[]) AS s(id, state, rt, rv)
        JOIN ins ON ins.task_id = s.rt AND ins.version = s.rv
        WHERE d.id = s.id AND d.id = ANY(${changes.states.map((c) => c.id)}::text[])),
      removed AS (
        DELETE FROM a2a_deliveries d
        USING unnest(${changes.removed.map((c) => c.id)}::text[], ${removedTask}::text[], ${removedVersion}::int[]) AS r(id, rt, rv)
        JOIN ins ON ins.task_id = r.rt AND ins.version = r.rv
        WHERE d.id = r.id AND d.id = ANY(${changes.removed.map((c) => c.id)}::text[])),
      configs_gone AS (
        DELETE FROM a2a_deliveries d
        USING unnest(${changes.configsGone.map((c) => c.taskId)}::text[], ${changes.configsGone.map((c) => c.configId)}::text[], ${goneTask}::text[], ${goneVersion}::int[]) AS g(task_id, config_id, rt, rv)
        JOIN ins ON ins.task_id = g.rt AND ins.version = g.rv
        WHERE d.task_id = g.task_id AND d.config_id = g.config_id)
      SELECT task_id, version, pg_notify(${CHANNEL}, ${this.replicaId}) FROM ins`;
    const won = new Set(inserted.map((row) => `${row.task_id}\u0000${row.version}`));
    return rows.map((row) => {
      if (!won.has(`${row.taskId}\u0000${row.version}`)) return false;
      // Committed: this process applies it itself; the tail knows it by its replica.
      this.#versions.set(row.taskId, row.version);
      this.#count++;
      return true;
    });
  }

  /**
   * Compaction, for a shared log: the records of tasks the store dropped (retention) are deleted,
   * with their deliveries and leases. Nothing else is rewritten: every other replica still holds
   * the rest, and a new replica replays it.
   *
   * @param snapshot The live records, taken now; tasks this process knew that are not in it were dropped.
   */
  async compact(snapshot: () => Iterable<unknown>): Promise<void> {
    const live = new Set<string>();
    let liveRecords = 0;
    for (const record of snapshot()) {
      const taskId = taskIdOf(record);
      if (taskId !== undefined) live.add(taskId);
      liveRecords++;
    }
    // The log is not rewritten: count it as compacted, so the next compaction waits for it to grow again.
    this.#count = liveRecords;
    const dropped = [...this.#versions.keys()].filter((taskId) => !live.has(taskId));
    if (dropped.length === 0) return;
    await this.#sql.begin(async (tx) => {
      await tx`DELETE FROM a2a_records WHERE task_id = ANY(${dropped}::text[])`;
      await tx`DELETE FROM a2a_deliveries WHERE task_id = ANY(${dropped}::text[])`;
      await tx`DELETE FROM a2a_runs WHERE task_id = ANY(${dropped}::text[])`;
    });
    for (const taskId of dropped) this.#versions.delete(taskId);
  }

  /** Every run starts with a claim and ends with a release: those of one turn go as one query. */
  async claimRuns(taskIds: readonly string[], leaseMs: number): Promise<Set<string>> {
    if (taskIds.length === 0) return new Set();
    let claim = this.#runClaims.get(leaseMs);
    if (!claim) {
      claim = batchPerTurn(async (ids) => {
        const rows = await this.#sql<Array<{ task_id: string }>>`
          INSERT INTO a2a_runs (task_id, owner, lease_until)
          SELECT id, ${this.replicaId}, now() + ${leaseMs} * interval '1 millisecond' FROM unnest(${ids}::text[]) AS id
          ON CONFLICT (task_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
            WHERE a2a_runs.owner = excluded.owner OR a2a_runs.lease_until < now()
          RETURNING task_id`;
        return new Set(rows.map((row) => row.task_id));
      });
      this.#runClaims.set(leaseMs, claim);
    }
    const granted = await claim(taskIds);
    return new Set(taskIds.filter((id) => granted.has(id)));
  }

  releaseRun(taskId: string): Promise<void> {
    return this.#runReleases([taskId]);
  }

  #runReleases = batchPerTurn(async (ids) => {
    await this.#sql`DELETE FROM a2a_runs WHERE task_id = ANY(${ids}::text[]) AND owner = ${this.replicaId}`;
  });

  async claimDeliveries(ids: readonly string[], leaseMs: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#sql<Array<{ id: string }>>`
      WITH free AS (
        SELECT id FROM a2a_deliveries
        WHERE id = ANY(${[...ids]}::text[]) AND state = 'pending'
          AND (lease_until IS NULL OR lease_until < now() OR lease_owner = ${this.replicaId})
        FOR UPDATE SKIP LOCKED)
      UPDATE a2a_deliveries d SET lease_owner = ${this.replicaId}, lease_until = now() + ${leaseMs} * interval '1 millisecond'
      FROM free WHERE d.id = free.id RETURNING d.id`;
    return new Set(rows.map((row) => row.id));
  }

  /** Waits for appends under way, stops listening and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#flushing;
    this.#closed = true;
    if (this.#poll) clearInterval(this.#poll);
    await this.#unlisten?.().catch(() => {});
    await this.#tailing;
    await this.#sql.end({ timeout: 5 });
  }
}

/** What records do to the delivery rows (each change names its record by index): new ones owed, outcomes, configs gone. */
function deliveryChanges(records: unknown[], rows: ReadonlyArray<{ taskId: string }>) {
  const owed: Array<{ record: number; id: string; taskId: string; configId: string; state: string }> = [];
  const states: Array<{ record: number; id: string; state: string }> = [];
  const removed: Array<{ record: number; id: string }> = [];
  const configsGone: Array<{ record: number; taskId: string; configId: string }> = [];
  records.forEach((record, i) => {
    const r = record as { type: string; taskId?: string; id?: string; deliveries?: Array<{ id: string; taskId: string; configId: string }>; delivery?: { id: string; taskId: string; configId: string }; dead?: boolean };
    for (const d of r.deliveries ?? []) owed.push({ record: i, id: d.id, taskId: d.taskId, configId: d.configId, state: "pending" });
    if (r.type === "push.delivery" && r.delivery) {
      // A new row is written dead at once; an existing one is marked dead below.
      owed.push({ record: i, id: r.delivery.id, taskId: r.delivery.taskId, configId: r.delivery.configId, state: r.dead ? "dead" : "pending" });
      if (r.dead) states.push({ record: i, id: r.delivery.id, state: "dead" });
    }
    if (r.type === "push.done" && r.id) states.push({ record: i, id: r.id, state: "done" });
    if (r.type === "push.dead" && r.id) states.push({ record: i, id: r.id, state: "dead" });
    if (r.type === "push.replay" && r.id) states.push({ record: i, id: r.id, state: "pending" });
    if (r.type === "push.purged" && r.id) removed.push({ record: i, id: r.id });
    if (r.type === "push.config.deleted" && r.id) configsGone.push({ record: i, taskId: rows[i]!.taskId, configId: r.id });
  });
  return { owed, states, removed, configsGone };
}
