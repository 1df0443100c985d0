// A bounded FIFO over a fixed array: the shape of every hardware ring and software queue here.
// push() refuses when full (the caller counts the drop); nothing grows without bound.

export class Ring<T> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  isEmpty(): boolean {
    return this.count === 0;
  }

  isFull(): boolean {
    return this.count === this.capacity;
  }

  /** Append; false (and nothing stored) when full. */
  push(item: T): boolean {
    if (this.count === this.capacity) return false;
    const at = this.head + this.count; // < 2 * capacity: a subtraction, not a division
    this.slots[at < this.capacity ? at : at - this.capacity] = item;
    this.count++;
    return true;
  }

  /**
   * Remove and return the oldest item. An emptied ring starts again at slot 0: a queue that is
   * mostly drained (the common case) then keeps to its first cache line instead of walking its
   * whole array, which for 256 ports' rings is more than the level-2 cache holds.
   */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    if (--this.count === 0) this.head = 0;
    else if (++this.head === this.capacity) this.head = 0;
    return item;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  clear(): void {
    while (this.count > 0) this.shift();
  }
}
