/**
 * The replica half of the chaos run (`scripts/chaos.ts --replicas N --database-url URL`): N demo
 * agents on one PostgreSQL schema and one data directory (so they sign with the same key), killed
 * at random and restarted on the same port, one of them kept down until the chaos is over so that
 * the others must take its runs over. What is here: the kill plan and its execution, the runs a
 * killed replica held, how long until another replica moved each of them on (takeover), and the
 * final check that every replica answers GetTask alike. What chaos.ts does for one agent (the
 * front, the receiver, submitting, settling, the checks of order and loss) it does for replicas
 * too; the database's log stands in for the agent's journal.
 *
 * Replica 0 is the receiver's agent URL (its JWKS and GetTask): it dies and restarts like the
 * others, but is never the one kept down, or the receiver could verify nothing until the end.
 */

import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { A2AClient } from "../lib/client.ts";
import { TERMINAL_STATES } from "../lib/types.ts";

/** A restartable child process (chaos.ts's `makeProc`). */
export interface Proc {
  start(): Promise<void>;
  stop(signal: NodeJS.Signals): Promise<void>;
  output(): string;
}

/** A kill moment, and how long the process stays down after it. */
export interface KillPlan {
  atMs: number;
  downMs: number;
}

/** One agent process of the set; `id` is its replica id, new at each start. */
export interface Replica {
  proc: Proc;
  url: string;
  client: A2AClient;
  id: string | undefined;
  down: boolean;
}

/** A replica's death: which, when (epoch ms), and the unfinished runs it held then. */
export interface ReplicaKill {
  replica: number;
  id: string;
  killedAt: number;
  held: boolean;
  runs: string[];
}

type Sql = import("postgres").Sql;

/** How long the replicas may take to agree after the run settled (each applies the others' commits). */
const AGREE_TIMEOUT_MS = 10_000;
const AGREE_RETRY_MS = 250;

/**
 * A schema of its own for one run.
 *
 * @param seed The run's seed, so a kept schema can be matched to its run.
 * @returns A lower-case SQL identifier.
 */
export function schemaName(seed: number): string {
  return `a2a_chaos_${seed}_${randomBytes(4).toString("hex")}`;
}

/**
 * Connects to the database, on the run's schema; the `postgres` package is loaded only here.
 *
 * @param url The database URL.
 * @param schema The run's schema (it need not exist yet: the first agent creates it).
 * @returns The connection.
 */
export async function openDatabase(url: string, schema: string): Promise<Sql> {
  const postgres = (await import("postgres")).default as typeof import("postgres");
  return postgres(url, { max: 2, onnotice: () => {}, connection: { search_path: schema, application_name: "a2a-push chaos" } });
}

/**
 * Which replica each kill hits. One kill, drawn at random from the first half, keeps its replica
 * (never replica 0) down until the chaos is over; later kills spare that one. With one replica
 * nothing is kept down.
 *
 * @param kills The kill moments (chaos.ts's `planKills`).
 * @param replicas How many replicas.
 * @param random A seeded random stream.
 * @returns The kills with their target and whether it stays down.
 */
export function planReplicaKills(kills: KillPlan[], replicas: number, random: () => number): Array<KillPlan & { target: number; held: boolean }> {
  // Among the first half of the kills, so that the replica is down for a good part of the chaos.
  const heldAt = replicas >= 2 && kills.length > 0 ? Math.floor(random() * Math.ceil(kills.length / 2)) : -1;
  const heldTarget = 1 + Math.floor(random() * (replicas - 1));
  return kills.map((kill, i) => {
    if (i === heldAt) return { ...kill, target: heldTarget, held: true };
    let target = Math.floor(random() * replicas);
    if (heldAt !== -1 && i > heldAt && target === heldTarget) target = (target + 1) % replicas;
    return { ...kill, target, held: false };
  });
}

/**
 * Starts a replica and reads the replica id it prints.
 *
 * @param replica The replica.
 * @throws {Error} If it does not start, or prints no id.
 */
export async function startReplica(replica: Replica): Promise<void> {
  await replica.proc.start();
  const id = [...replica.proc.output().matchAll(/^replica (\S+) of the agent/gm)].at(-1)?.[1];
  if (!id) throw new Error(`the agent at ${replica.url} printed no replica id:\n${replica.proc.output()}`);
  replica.id = id;
  replica.down = false;
}

/**
 * SIGKILLs replicas at their moments and notes the unfinished runs each held; restarts each after
 * its downtime, except the one kept down (see `restartDown`).
 *
 * @param replicas The set.
 * @param plans From {@linkcode planReplicaKills}.
 * @param start The chaos's start (epoch ms).
 * @param sql The database.
 * @param killed Where each kill is noted.
 * @param signal Aborts the waits.
 */
export async function killReplicasAt(replicas: Replica[], plans: Array<KillPlan & { target: number; held: boolean }>, start: number, sql: Sql, killed: ReplicaKill[], signal: AbortSignal): Promise<void> {
  for (const plan of plans) {
    await delay(Math.max(0, start + plan.atMs - Date.now()), undefined, { signal });
    const replica = replicas[plan.target]!;
    const id = replica.id!;
    await replica.proc.stop("SIGKILL");
    const killedAt = Date.now();
    replica.down = true;
    killed.push({ replica: plan.target, id, killedAt, held: plan.held, runs: await unfinishedRuns(sql, id) });
    if (plan.held) continue;
    await delay(plan.downMs, undefined, { signal });
    await startReplica(replica);
  }
}

/** The runs a replica holds a lease on whose task has not ended. */
async function unfinishedRuns(sql: Sql, replicaId: string): Promise<string[]> {
  const rows = await sql<Array<{ task_id: string }>>`
    SELECT r.task_id FROM a2a_runs r WHERE r.owner = ${replicaId} AND NOT EXISTS (
      SELECT 1 FROM a2a_records x WHERE x.task_id = r.task_id AND x.record::jsonb->>'type' = 'status'
        AND x.record::jsonb->'status'->>'state' = ANY(${[...TERMINAL_STATES]}::text[]))`;
  return rows.map((row) => row.task_id);
}

/**
 * Starts the replicas still down (the one kept down until the end).
 *
 * @param replicas The set.
 */
export async function restartDown(replicas: Replica[]): Promise<void> {
  for (const replica of replicas) if (replica.down) await startReplica(replica);
}

/**
 * Asks every replica for every task until they all answer alike (bounded).
 *
 * @param replicas The set, all running.
 * @param taskIds The tasks.
 * @returns What still differs at the end, one line per task.
 */
export async function disagreements(replicas: Replica[], taskIds: string[]): Promise<string[]> {
  const deadline = Date.now() + AGREE_TIMEOUT_MS;
  let problems: string[] = [];
  let left = taskIds;
  for (let round = 0; round < 1000 && left.length > 0; round++) {
    problems = [];
    const differing: string[] = [];
    for (const id of left) {
      const answers = await Promise.all(replicas.map((replica) => replica.client.getTask({ id, historyLength: 0 }).then((task) => JSON.stringify(task), (error: Error) => `error: ${error.message}`)));
      const first = answers[0]!;
      const odd = answers.findIndex((answer) => answer !== first);
      if (odd !== -1) {
        differing.push(id);
        problems.push(`task ${id}: replica ${odd} answers ${answers[odd]!.slice(0, 200)}, replica 0 ${first.slice(0, 200)}`);
      }
    }
    left = differing;
    if (left.length === 0 || Date.now() >= deadline) break;
    await delay(AGREE_RETRY_MS);
  }
  return problems;
}

/**
 * For each kill, how long until every unfinished run the replica held moved on elsewhere: the
 * first status, artifact or checkpoint another replica committed for it after the kill.
 *
 * @param sql The database.
 * @param killed The kills.
 * @returns Per kill, the time in ms (undefined when none of its runs moved on, or it held none), and the runs never taken over.
 */
export async function takeoverTimes(sql: Sql, killed: ReplicaKill[]): Promise<{ times: Array<number | undefined>; problems: string[] }> {
  const times: Array<number | undefined> = [];
  const problems: string[] = [];
  for (const kill of killed) {
    if (kill.runs.length === 0) {
      times.push(undefined);
      continue;
    }
    const rows = await sql<Array<{ task_id: string; first: Date }>>`
      SELECT task_id, min(committed_at) AS first FROM a2a_records
      WHERE task_id = ANY(${kill.runs}::text[]) AND replica <> ${kill.id} AND committed_at >= ${new Date(kill.killedAt)}
        AND record::jsonb->>'type' IN ('status', 'artifact', 'checkpoint')
      GROUP BY task_id`;
    for (const taskId of kill.runs) if (!rows.some((row) => row.task_id === taskId)) problems.push(`task ${taskId}: replica ${kill.replica} held its run when killed, and no other replica moved it on`);
    times.push(rows.length > 0 ? Math.max(...rows.map((row) => row.first.getTime() - kill.killedAt)) : undefined);
  }
  return { times, problems };
}

/**
 * Drops the run's schema.
 *
 * @param sql The database.
 * @param schema The schema.
 */
export async function dropSchema(sql: Sql, schema: string): Promise<void> {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
