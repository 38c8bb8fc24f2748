/** access.ts: who sees what (principal and tenant both match, the admin and the agent's own code see all) and the quotas. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { Quotas, mayAccess, ownerOf, visibleTasks } from "../lib/access.ts";
import { A2AError } from "../lib/errors.ts";

test("mayAccess() matches principal and tenant; undefined and admin callers see everything; ownerless tasks only those", () => {
  assert.equal(mayAccess({ principal: "alice" }, { principal: "alice" }), true);
  assert.equal(mayAccess({ principal: "bob" }, { principal: "alice" }), false);
  assert.equal(mayAccess({ principal: "alice", tenant: "t" }, { principal: "alice" }), false);
  assert.equal(mayAccess({ principal: "alice" }, { principal: "alice", tenant: "t" }), false);
  assert.equal(mayAccess({ principal: "alice", tenant: "t" }, { principal: "alice", tenant: "t" }), true);
  assert.equal(mayAccess({ principal: "alice" }, {}), false, "a task with no owner is not alice's");
  assert.equal(mayAccess({}, {}), true, "with authentication off, the anonymous caller sees ownerless tasks");
  assert.equal(mayAccess({}, { principal: "alice" }), false);
  assert.equal(mayAccess({ admin: true, principal: "admin" }, { principal: "alice" }), true);
  assert.equal(mayAccess(undefined, { principal: "alice" }), true);
  assert.deepEqual([...visibleTasks([{ principal: "a" }, { principal: "b" }, { principal: "a", tenant: "x" }], { principal: "a" })], [{ principal: "a" }]);
  assert.deepEqual(ownerOf({ principal: "a", admin: true }), { principal: "a" });
  assert.deepEqual(ownerOf(undefined), {});
});

test("Quotas.reserveOpenTask() counts reservations with the open tasks, releases once, and exempts the admin", () => {
  const quotas = new Quotas({ maxOpenTasks: 2 });
  const first = quotas.reserveOpenTask({ principal: "a" }, 0);
  const second = quotas.reserveOpenTask({ principal: "a" }, 0);
  assert.throws(() => quotas.reserveOpenTask({ principal: "a" }, 0), (error: A2AError) => error.code === -32050 && error.details?.quota === "maxOpenTasks");
  assert.doesNotThrow(() => quotas.reserveOpenTask({ principal: "b" }, 1));
  first();
  first();
  assert.throws(() => quotas.reserveOpenTask({ principal: "a" }, 1), /At most 2 unfinished tasks/, "a second release of the same slot frees nothing");
  second();
  assert.doesNotThrow(() => quotas.reserveOpenTask({ principal: "a" }, 1));
  assert.doesNotThrow(() => quotas.reserveOpenTask({ admin: true }, 1000));
  assert.doesNotThrow(() => quotas.reserveOpenTask(undefined, 1000));
});

test("Quotas.openStream() limits streams per principal and in all; checkConfigs() the configs of a task", () => {
  const quotas = new Quotas({ maxStreamsPerPrincipal: 2, maxStreams: 3, maxConfigsPerTask: 1 });
  const a1 = quotas.openStream({ principal: "a" });
  quotas.openStream({ principal: "a" });
  assert.throws(() => quotas.openStream({ principal: "a" }), /At most 2 open streams per caller/);
  quotas.openStream({ principal: "b" });
  assert.throws(() => quotas.openStream({ principal: "c" }), /The agent has 3 streams open/);
  a1();
  assert.doesNotThrow(() => quotas.openStream({ principal: "c" }));
  assert.doesNotThrow(() => quotas.checkConfigs({ principal: "a" }, 0));
  assert.throws(() => quotas.checkConfigs({ principal: "a" }, 1), /at most 1 push configs/);
  assert.doesNotThrow(() => quotas.checkConfigs(undefined, 50));
  assert.throws(() => new Quotas({ maxStreams: 0 }), RangeError);
});
