/**
 * The PostgreSQL tables of the store seam (`pg_storage.ts`), as versioned migrations: a schema
 * records the versions applied to it, and each start applies the ones it lacks, in order, under an
 * advisory lock, so replicas that start together migrate once. Leaves out: reading and writing them.
 *
 * @module
 */

type Sql = import("postgres").Sql;

/** The versioned migrations, applied in order under an advisory lock (replicas may start together). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE a2a_records (
     seq bigserial PRIMARY KEY, task_id text NOT NULL, version integer NOT NULL, record text NOT NULL,
     replica text NOT NULL, principal text, tenant text, committed_at timestamptz NOT NULL DEFAULT now(), UNIQUE (task_id, version));
   CREATE TABLE a2a_deliveries (
     id text PRIMARY KEY, task_id text NOT NULL, config_id text NOT NULL, state text NOT NULL DEFAULT 'pending',
     lease_owner text, lease_until timestamptz);
   CREATE INDEX a2a_deliveries_task ON a2a_deliveries (task_id);
   CREATE TABLE a2a_runs (task_id text PRIMARY KEY, owner text NOT NULL, lease_until timestamptz NOT NULL);`,
];

/**
 * Creates the schema if missing and applies the migrations it lacks, one replica at a time.
 *
 * @param sql A connection (the `postgres` package's).
 * @param schema A lower-case SQL identifier (the caller checks it: it is written into the statements).
 * @returns Resolves once the schema is at the latest version.
 * @throws {Error} What the database answers, e.g. no right to create the schema.
 *
 * @example Migrate a schema
 * ```ts
 * import postgres from "postgres";
 * import { migrate } from "./pg_schema.ts";
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/test", { max: 1 });
 * await migrate(sql, "example");
 * await sql.end();
 * ```
 */
export async function migrate(sql: Sql, schema: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`a2a-push migrations ${schema}`}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${schema}.a2a_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const [{ done }] = await tx<Array<{ done: number }>>`SELECT coalesce(max(version), 0)::int AS done FROM ${tx(schema)}.a2a_migrations`;
    for (let version = done + 1; version <= MIGRATIONS.length; version++) {
      await tx.unsafe(`SET LOCAL search_path TO ${schema}; ${MIGRATIONS[version - 1]}`);
      await tx`INSERT INTO ${tx(schema)}.a2a_migrations (version) VALUES (${version})`;
    }
  });
}
