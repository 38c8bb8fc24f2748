/**
 * The push half of an agent's wiring, shared by `Agent.open` and the SDK sender
 * (`sdk_push_sender.ts`): the webhook sender and the outbox made from push options, and the replay
 * that refills the store and the outbox from the journal at start. Two steps of a story each
 * caller tells in its own numbered steps; what a change owes and how an attempt goes out stay in
 * `plan.ts`, `outbox.ts` and `webhook_sender.ts`.
 *
 * @module
 */

import type { PushOptions } from "./agent_options.ts";
import type { FileJournal, Storage } from "./journal.ts";
import { Outbox } from "./outbox.ts";
import type { OutboxOptions } from "./outbox.ts";
import { parseSecrets } from "./signing.ts";
import type { SigningKeys } from "./signing.ts";
import type { TaskStore } from "./task_store.ts";
import { WebhookSender } from "./webhook_sender.ts";

/** What signs webhooks: the keys (rotation swaps them) and the issuer (known once the agent listens). */
export interface Signer {
  /** The ES256 keys for the JWT; undefined sends no JWT. */
  keys: SigningKeys | undefined;
  /** The agent's URL, the JWT's `iss`. */
  issuer: string;
}

/**
 * Makes the webhook sender (signing with `signer`, read at each attempt, so a rotation or a late
 * issuer takes effect) and the outbox that sends what `store`'s changes owe through it. Neither
 * sends anything until `outbox.start()`.
 *
 * @param store The store whose changes the outbox delivers, and where it journals outcomes.
 * @param push The push options.
 * @param signer The keys and issuer.
 * @param claim Replicas: takes a delivery for one attempt (see `replicas.ts`). @default none
 * @returns The sender (close it last) and the outbox.
 * @throws {RangeError} If a timeout, limit or the schedule is out of range.
 * @throws {TypeError} If a secret or an SSRF allowlist entry is malformed.
 *
 * @example An outbox for a store, not sending yet
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openJournal } from "./journal.ts";
 * import { openPushDelivery } from "./push_delivery.ts";
 * import { TaskStore } from "./task_store.ts";
 * const journal = await openJournal(mkdtempSync(join(tmpdir(), "push-")));
 * const { sender, outbox } = openPushDelivery(new TaskStore(journal), {}, { keys: undefined, issuer: "" });
 * console.log(outbox.pendingCount); // 0
 * sender.close();
 * await journal.close();
 * ```
 */
export function openPushDelivery(store: TaskStore, push: PushOptions, signer: Signer, claim?: OutboxOptions["claim"]): { sender: WebhookSender; outbox: Outbox } {
  const sender = new WebhookSender({
    secrets: parseSecrets(push.secrets),
    keys: () => signer.keys,
    issuer: () => signer.issuer,
    timeoutMs: push.timeoutMs,
    ssrf: push.ssrf,
    resolver: push.resolver,
    maxSocketsPerOrigin: push.maxInFlightPerOrigin,
  });
  const outbox = new Outbox(store, {
    send: (attempt) => sender.send(attempt),
    schedule: push.schedule,
    maxInFlight: push.maxInFlight,
    maxInFlightPerOrigin: push.maxInFlightPerOrigin,
    slowOriginTimeoutMs: push.slowOriginTimeoutMs,
    maxFreshPerOrigin: push.maxFreshPerOrigin,
    disableAfterMs: push.disableAfterMs,
    log: push.log,
    claim,
    now: push.now,
  });
  return { sender, outbox };
}

/**
 * Replays the journal: each record to the store, then to the outbox (which reads the store's
 * configs); then finished tasks are frozen. After a repair, records about a task whose creating
 * line was damaged have nothing to apply to: they are skipped, with one warning.
 *
 * @param journal The opened journal.
 * @param store The store to rebuild.
 * @param outbox The outbox to refill, if push is on.
 * @param options `repair` (skip records the store refuses instead of failing), `warn`.
 * @returns Resolves once every record is applied.
 * @throws {Error} A record the store refuses, unless `repair`.
 *
 * @example Replay a new journal
 * ```ts
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openJournal } from "./journal.ts";
 * import { replayJournal } from "./push_delivery.ts";
 * import { TaskStore } from "./task_store.ts";
 * const journal = await openJournal(mkdtempSync(join(tmpdir(), "replay-")));
 * const store = new TaskStore(journal);
 * await replayJournal(journal, store, undefined, { repair: false, warn: console.warn });
 * console.log(store.size); // 0
 * await journal.close();
 * ```
 */
export async function replayJournal(journal: Pick<Storage, "load"> & { path?: string }, store: TaskStore, outbox: Outbox | undefined, options: { repair: boolean; warn: (message: string) => void }): Promise<void> {
  let orphans = 0;
  for (const record of await journal.load()) {
    try {
      store.replay(record);
    } catch (error) {
      if (!options.repair) throw error;
      orphans++;
      continue;
    }
    outbox?.replay(record);
  }
  if (orphans > 0) options.warn(`Journal ${journal.path ?? ""}: repair left ${orphans} record(s) about tasks whose first record was damaged; they were skipped`);
  store.freezeFinished();
}
