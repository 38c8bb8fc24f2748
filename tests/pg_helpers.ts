/**
 * PostgreSQL for the suites that need one: `A2A_TEST_DATABASE_URL` (which `.ci/run` sets) names
 * the server; each test works in a schema of its own, dropped afterwards. Without the variable
 * the suites report themselves skipped with the reason, and `.ci/run` fails on that
 * (`A2A_REQUIRE_DATABASE=1`).
 */

import { randomBytes } from "node:crypto";
import process from "node:process";

/** The database URL, or undefined. */
export const DATABASE_URL = process.env.A2A_TEST_DATABASE_URL || undefined;

/** `test()`'s skip option: a reason when there is no database, and a failure when CI requires one. */
export function needsDatabase(): { skip: string | false } {
  if (DATABASE_URL) return { skip: false };
  if (process.env.A2A_REQUIRE_DATABASE === "1") throw new Error("A2A_TEST_DATABASE_URL is not set, and this run requires the PostgreSQL suites");
  return { skip: "needs PostgreSQL: set A2A_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)" };
}

/**
 * A fresh schema name for one test, and a function that drops it.
 *
 * @returns `{schema, drop}`.
 */
export async function freshSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `a2a_test_${randomBytes(6).toString("hex")}`;
  return {
    schema,
    drop: async () => {
      const postgres = (await import("postgres")).default;
      const sql = postgres(DATABASE_URL!, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
