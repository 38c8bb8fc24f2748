/**
 * Who sends next: the outbox's send slots shared between webhook origins and between principals
 * (the callers who made the configs). A due queue head waits here in its lane, (principal, origin),
 * until a slot is free. Slots go round-robin, principal by principal and within a principal origin
 * by origin, so a caller or a receiver with a thousand webhooks due gets a turn like one with a
 * single webhook. Three limits keep slots free for others:
 *
 * - an origin holds no more than its window (`origin_health.ts`);
 * - nor more than a fair share, `maxInFlight / (active origins + 1)`: the `+ 1` keeps a slot for
 *   an origin whose first webhook just fell due;
 * - origins not known to answer (new ones, and those whose last attempt failed or timed out) hold
 *   together at most three quarters of the slots, and take turns with the answering ones: so
 *   hundreds of origins that never answer cannot hold every slot for a whole timeout.
 *
 * An origin at its limit sits out the turns until one of its attempts ends (no scan of the
 * waiting, no wake-up storm). Pure: keys and counts in, the next key out; health is read, not kept.
 *
 * @module
 */

import type { OriginHealth } from "./origin_health.ts";

/** Options of {@linkcode FairShare}. */
export interface FairShareOptions {
  /** Attempts in flight at once, over all origins. @default 256 */
  maxInFlight?: number;
  /** Each origin's window and whether it answers, read when it takes a turn and when an attempt to it ends. @default every origin answers, no window */
  health?: Pick<OriginHealth, "window" | "answering">;
}

/** The two classes of origins, each with its own turns. */
const ANSWERING = 0;
const UNPROVEN = 1;
type Standing = typeof ANSWERING | typeof UNPROVEN;

/** One origin that has attempts in flight or keys waiting. */
interface OriginSlots {
  inFlight: number;
  /** Waiting keys per principal, oldest first. */
  waiting: Map<string, Set<string>>;
  /** At its limit: out of the turns until an attempt to it ends. */
  full: boolean;
  standing: Standing;
}

/**
 * The waiting lanes and the slots in use.
 *
 * @example Two origins take turns, however many keys one of them has waiting
 * ```ts
 * import { FairShare } from "./fair_share.ts";
 * const fair = new FairShare({ maxInFlight: 8 });
 * for (const key of ["a1", "a2", "a3"]) fair.add(key, "https://a.example");
 * fair.add("b1", "https://b.example");
 * console.log(fair.take()?.key, fair.take()?.key, fair.take()?.key); // a1 b1 a2
 * ```
 */
export class FairShare {
  #max: number;
  /** The most slots unproven origins hold together. */
  #maxUnproven: number;
  #health: NonNullable<FairShareOptions["health"]>;
  #inFlight = 0;
  #unprovenInFlight = 0;
  /** Every active origin: its size is the count the fair share divides by. */
  #origins = new Map<string, OriginSlots>();
  /** Each waiting key's lane. */
  #lanes = new Map<string, { origin: string; principal: string }>();
  /** Per standing: principals with a lane whose origin has room, in turn order, each with its origins in turn order. */
  #turns: [Map<string, Set<string>>, Map<string, Set<string>>] = [new Map(), new Map()];
  #lastStanding: Standing = UNPROVEN;

  /**
   * @param options See {@linkcode FairShareOptions}.
   * @throws {RangeError} If `maxInFlight` is not a positive integer.
   */
  constructor(options: FairShareOptions = {}) {
    const { maxInFlight = 256, health = { window: () => Infinity, answering: () => true } } = options;
    if (!(Number.isInteger(maxInFlight) && maxInFlight > 0)) throw new RangeError(`Cannot share send slots: maxInFlight must be a positive integer, got ${maxInFlight}`);
    this.#max = maxInFlight;
    this.#maxUnproven = maxInFlight - Math.floor(maxInFlight / 4);
    this.#health = health;
  }

  /** Attempts in flight, over all origins. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Keys waiting for a slot. */
  get waiting(): number {
    return this.#lanes.size;
  }

  /** The most attempts one origin may hold now: `maxInFlight / (active origins + 1)`, at least 1. */
  get share(): number {
    return Math.max(1, Math.floor(this.#max / (this.#origins.size + 1)));
  }

  /**
   * Attempts in flight to one origin.
   *
   * @param origin The origin.
   * @returns The count.
   */
  inFlightTo(origin: string): number {
    return this.#origins.get(origin)?.inFlight ?? 0;
  }

  /**
   * Puts a key (a due queue head) in its lane to wait for a slot; a key already waiting stays where
   * it is, unless its lane changed.
   *
   * @param key The queue's key.
   * @param origin Its webhook URL's origin.
   * @param principal Who made the config. @default "" (authentication off: everyone shares one lane per origin)
   */
  add(key: string, origin: string, principal = ""): void {
    const lane = this.#lanes.get(key);
    if (lane?.origin === origin && lane.principal === principal) return;
    if (lane) this.delete(key);
    let slots = this.#origins.get(origin);
    if (!slots) this.#origins.set(origin, (slots = { inFlight: 0, waiting: new Map(), full: false, standing: this.#standingOf(origin) }));
    let keys = slots.waiting.get(principal);
    if (!keys) {
      slots.waiting.set(principal, (keys = new Set()));
      if (!slots.full) this.#enterTurns(principal, origin, slots.standing);
    }
    keys.add(key);
    this.#lanes.set(key, { origin, principal });
  }

  /**
   * Takes a key out of its lane without sending it (its queue's head changed or is gone).
   *
   * @param key The queue's key; one not waiting is ignored.
   */
  delete(key: string): void {
    const lane = this.#lanes.get(key);
    if (!lane) return;
    this.#lanes.delete(key);
    const slots = this.#origins.get(lane.origin)!;
    const keys = slots.waiting.get(lane.principal)!;
    keys.delete(key);
    if (keys.size > 0) return;
    slots.waiting.delete(lane.principal);
    this.#leaveTurns(lane.principal, lane.origin, slots.standing);
    this.#dropIfIdle(lane.origin);
  }

  /**
   * Takes the next key to send and a slot for it: the next standing's next principal's next origin
   * with room, its oldest waiting key. Call {@linkcode FairShare.release} with the origin when the
   * attempt ends.
   *
   * @returns The key and its origin, or undefined when every slot is taken or nothing waits with room.
   */
  take(): { key: string; origin: string } | undefined {
    while (this.#inFlight < this.#max) {
      const standing = this.#nextStanding();
      if (standing === undefined) return undefined;
      const turns = this.#turns[standing];
      const [principal, origins] = turns.entries().next().value!;
      const origin = origins.values().next().value!;
      const slots = this.#origins.get(origin)!;
      if (slots.inFlight >= Math.max(1, Math.min(this.#health.window(origin), this.share))) {
        this.#move(origin, slots, true, slots.standing);
        continue;
      }
      const key = slots.waiting.get(principal)!.values().next().value!;
      slots.inFlight++;
      this.#inFlight++;
      if (standing === UNPROVEN) this.#unprovenInFlight++;
      this.#lastStanding = standing;
      this.delete(key);
      // Round-robin: this principal, and this origin within it, go to the back of the turns.
      const mine = turns.get(principal);
      if (mine) {
        turns.delete(principal);
        turns.set(principal, mine);
        if (mine.delete(origin)) mine.add(origin);
      }
      return { key, origin };
    }
    return undefined;
  }

  /**
   * Frees the slot of an attempt that ended; its origin takes turns again, as its health now says.
   *
   * @param origin The origin {@linkcode FairShare.take} returned with the key.
   * @throws {RangeError} If no attempt to `origin` is in flight.
   */
  release(origin: string): void {
    const slots = this.#origins.get(origin);
    if (!slots || slots.inFlight === 0) throw new RangeError(`Cannot release a send slot of ${origin}: none is taken`);
    slots.inFlight--;
    this.#inFlight--;
    if (slots.standing === UNPROVEN) this.#unprovenInFlight--;
    const standing = this.#standingOf(origin);
    if (slots.full || standing !== slots.standing) this.#move(origin, slots, false, standing);
    this.#dropIfIdle(origin);
  }

  /** Answering and unproven origins take turns; unproven ones only while they hold less than their part. */
  #nextStanding(): Standing | undefined {
    const answering = this.#turns[ANSWERING].size > 0;
    const unproven = this.#turns[UNPROVEN].size > 0 && this.#unprovenInFlight < this.#maxUnproven;
    if (answering && unproven) return this.#lastStanding === ANSWERING ? UNPROVEN : ANSWERING;
    return answering ? ANSWERING : unproven ? UNPROVEN : undefined;
  }

  #standingOf(origin: string): Standing {
    return this.#health.answering(origin) ? ANSWERING : UNPROVEN;
  }

  /** Takes an origin's lanes out of the turns, sets whether it is full and its standing, and puts them back unless full. */
  #move(origin: string, slots: OriginSlots, full: boolean, standing: Standing): void {
    for (const principal of slots.waiting.keys()) this.#leaveTurns(principal, origin, slots.standing);
    if (standing !== slots.standing) this.#unprovenInFlight += standing === UNPROVEN ? slots.inFlight : -slots.inFlight;
    slots.full = full;
    slots.standing = standing;
    if (!full) for (const principal of slots.waiting.keys()) this.#enterTurns(principal, origin, standing);
  }

  #enterTurns(principal: string, origin: string, standing: Standing): void {
    const turns = this.#turns[standing];
    let origins = turns.get(principal);
    if (!origins) turns.set(principal, (origins = new Set()));
    origins.add(origin);
  }

  #leaveTurns(principal: string, origin: string, standing: Standing): void {
    const turns = this.#turns[standing];
    const origins = turns.get(principal);
    if (origins?.delete(origin) && origins.size === 0) turns.delete(principal);
  }

  #dropIfIdle(origin: string): void {
    const slots = this.#origins.get(origin);
    if (slots && slots.inFlight === 0 && slots.waiting.size === 0) this.#origins.delete(origin);
  }
}
