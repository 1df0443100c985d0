// A bounded FIFO over an array: the shape of every hardware ring and software queue here.
// push() refuses when full (the caller counts the drop); nothing grows without bound.
// The bound is `capacity`; the array behind it starts small and doubles (up to the bound) only
// when a push finds it full, because most queues stay nearly empty: 256 guests' ports hold two
// rings each, and 256 slots apiece would spread every port's few hot words over kilobytes
// (512 KB of slots for 256 ports, more than the level-2 cache) instead of one compact block.

/** Slots a ring starts with (fewer if its capacity is smaller). */
export const RING_INITIAL_SLOTS = 4;

export class Ring<T> {
  private slots: (T | undefined)[];
  /** slots.length, kept in a field of its own: the hot path compares with it as it did with the capacity. */
  private size: number;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.size = Math.min(capacity, RING_INITIAL_SLOTS);
    this.slots = new Array<T | undefined>(this.size).fill(undefined);
  }

  get length(): number {
    return this.count;
  }

  /** Slots allocated now (between min(capacity, RING_INITIAL_SLOTS) and capacity). */
  get allocated(): number {
    return this.size;
  }

  isEmpty(): boolean {
    return this.count === 0;
  }

  isFull(): boolean {
    return this.count === this.capacity;
  }

  /** Append; false (and nothing stored) when full. */
  push(item: T): boolean {
    if (this.count === this.size) {
      if (this.size === this.capacity) return false;
      this.grow();
    }
    const at = this.head + this.count; // < 2 * size: a subtraction, not a division
    this.slots[at < this.size ? at : at - this.size] = item;
    this.count++;
    return true;
  }

  /**
   * Remove and return the oldest item. An emptied ring starts again at slot 0: a queue that is
   * mostly drained (the common case) then keeps to its first cache line instead of walking its
   * whole array.
   */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    if (--this.count === 0) this.head = 0;
    else if (++this.head === this.size) this.head = 0;
    return item;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  clear(): void {
    while (this.count > 0) this.shift();
  }

  /** Twice the slots (at most `capacity`), the items moved to the front in order. */
  private grow(): void {
    const old = this.slots;
    const size = Math.min(this.capacity, this.size * 2);
    const next = new Array<T | undefined>(size).fill(undefined);
    for (let i = 0; i < this.count; i++) {
      const at = this.head + i;
      next[i] = old[at < this.size ? at : at - this.size];
    }
    this.slots = next;
    this.size = size;
    this.head = 0;
  }
}
