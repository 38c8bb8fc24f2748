/**
 * A binary min-heap: the delivery loop keeps one entry per waiting queue, keyed by when it is due,
 * so finding the next due delivery is O(1) and scheduling one is O(log n).
 *
 * @module
 */

/**
 * A min-heap ordered by a numeric `at`.
 *
 * @example
 * ```ts
 * import { MinHeap } from "./heap.ts";
 * const heap = new MinHeap<string>();
 * heap.push(20, "later");
 * heap.push(10, "sooner");
 * console.log(heap.pop()?.value); // "sooner"
 * ```
 */
export class MinHeap<T> {
  #items: Array<{ at: number; value: T }> = [];

  /** Entries held. */
  get size(): number {
    return this.#items.length;
  }

  /** The smallest entry, without removing it. */
  peek(): { at: number; value: T } | undefined {
    return this.#items[0];
  }

  /**
   * Adds an entry.
   *
   * @param at Its key (e.g. a due time in ms).
   * @param value Its value.
   */
  push(at: number, value: T): void {
    const items = this.#items;
    items.push({ at, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= at) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  /**
   * Removes and returns the smallest entry.
   *
   * @returns The entry, or undefined when empty.
   */
  pop(): { at: number; value: T } | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      while (true) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && items[left]!.at < items[smallest]!.at) smallest = left;
        if (right < items.length && items[right]!.at < items[smallest]!.at) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}
