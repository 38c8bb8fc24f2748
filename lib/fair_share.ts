/**
 * Who sends next: the outbox's send slots shared between principals (the callers who made the
 * configs) and, within each, between webhook origins. A due queue head waits here in its lane,
 * (principal, origin), until a slot is free. Slots go round-robin, principal by principal and
 * within a principal origin by origin, so a caller or a receiver with a thousand webhooks due gets
 * a turn like one with a single webhook. An origin never holds more than the window it is given
 * (see `origin_health.ts`), nor more than a fair share of all slots, `maxInFlight / (active origins
 * + 1)`: the `+ 1` keeps a slot free for an origin whose first webhook just fell due, however many
 * slots the others would take. An origin at its limit sits out the turns until one of its attempts
 * ends (no scan of the waiting, no wake-up storm). Pure: keys and counts in, the next key out.
 *
 * @module
 */

/** Options of {@linkcode FairShare}. */
export interface FairShareOptions {
  /** Attempts in flight at once, over all origins. @default 256 */
  maxInFlight?: number;
}

/** One origin that has attempts in flight or keys waiting. */
interface OriginSlots {
  inFlight: number;
  /** Waiting keys per principal, oldest first. */
  waiting: Map<string, Set<string>>;
  /** At its limit: out of the turns until an attempt to it ends. */
  full: boolean;
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
 * const window = () => 64;
 * console.log(fair.take(window)?.key, fair.take(window)?.key, fair.take(window)?.key); // a1 b1 a2
 * ```
 */
export class FairShare {
  #max: number;
  #inFlight = 0;
  /** Every active origin: its size is the count the fair share divides by. */
  #origins = new Map<string, OriginSlots>();
  /** Each waiting key's lane. */
  #lanes = new Map<string, { origin: string; principal: string }>();
  /** Principals with a lane whose origin has room, in turn order; each with its origins in turn order. */
  #turns = new Map<string, Set<string>>();

  /**
   * @param options See {@linkcode FairShareOptions}.
   * @throws {RangeError} If `maxInFlight` is not a positive integer.
   */
  constructor(options: FairShareOptions = {}) {
    const { maxInFlight = 256 } = options;
    if (!(Number.isInteger(maxInFlight) && maxInFlight > 0)) throw new RangeError(`Cannot share send slots: maxInFlight must be a positive integer, got ${maxInFlight}`);
    this.#max = maxInFlight;
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
    if (!slots) this.#origins.set(origin, (slots = { inFlight: 0, waiting: new Map(), full: false }));
    let keys = slots.waiting.get(principal);
    if (!keys) {
      slots.waiting.set(principal, (keys = new Set()));
      if (!slots.full) this.#enterTurns(principal, origin);
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
    this.#leaveTurns(lane.principal, lane.origin);
    this.#dropIfIdle(lane.origin);
  }

  /**
   * Takes the next key to send and a slot for it: the next principal's next origin with room, its
   * oldest waiting key. Call {@linkcode FairShare.release} with the origin when the attempt ends.
   *
   * @param window How many attempts an origin may have in flight by its health (at least 1).
   * @returns The key and its origin, or undefined when every slot is taken or nothing waits with room.
   */
  take(window: (origin: string) => number): { key: string; origin: string } | undefined {
    while (this.#inFlight < this.#max) {
      const turn = this.#turns.entries().next().value;
      if (!turn) return undefined;
      const [principal, origins] = turn;
      const origin = origins.values().next().value!;
      const slots = this.#origins.get(origin)!;
      if (slots.inFlight >= Math.max(1, Math.min(window(origin), this.share))) {
        this.#setFull(origin, slots, true);
        continue;
      }
      const key = slots.waiting.get(principal)!.values().next().value!;
      slots.inFlight++;
      this.#inFlight++;
      this.delete(key);
      // Round-robin: this principal, and this origin within it, go to the back of the turns.
      const mine = this.#turns.get(principal);
      if (mine) {
        this.#turns.delete(principal);
        this.#turns.set(principal, mine);
        if (mine.delete(origin)) mine.add(origin);
      }
      return { key, origin };
    }
    return undefined;
  }

  /**
   * Frees the slot of an attempt that ended; its origin takes turns again.
   *
   * @param origin The origin {@linkcode FairShare.take} returned with the key.
   * @throws {RangeError} If no attempt to `origin` is in flight.
   */
  release(origin: string): void {
    const slots = this.#origins.get(origin);
    if (!slots || slots.inFlight === 0) throw new RangeError(`Cannot release a send slot of ${origin}: none is taken`);
    slots.inFlight--;
    this.#inFlight--;
    if (slots.full) this.#setFull(origin, slots, false);
    this.#dropIfIdle(origin);
  }

  #setFull(origin: string, slots: OriginSlots, full: boolean): void {
    slots.full = full;
    for (const principal of slots.waiting.keys()) {
      if (full) this.#leaveTurns(principal, origin);
      else this.#enterTurns(principal, origin);
    }
  }

  #enterTurns(principal: string, origin: string): void {
    let origins = this.#turns.get(principal);
    if (!origins) this.#turns.set(principal, (origins = new Set()));
    origins.add(origin);
  }

  #leaveTurns(principal: string, origin: string): void {
    const origins = this.#turns.get(principal);
    if (origins?.delete(origin) && origins.size === 0) this.#turns.delete(principal);
  }

  #dropIfIdle(origin: string): void {
    const slots = this.#origins.get(origin);
    if (slots && slots.inFlight === 0 && slots.waiting.size === 0) this.#origins.delete(origin);
  }
}
