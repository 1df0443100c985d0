import { describe, expect, it } from 'vitest';
import { Ring } from './ring.js';

describe('Ring', () => {
  it('is a bounded FIFO that refuses when full and wraps around', () => {
    const r = new Ring<number>(3);
    expect([r.push(1), r.push(2), r.push(3), r.push(4)]).toEqual([true, true, true, false]);
    expect(r.isFull()).toBe(true);
    expect([r.shift(), r.shift()]).toEqual([1, 2]);
    expect([r.push(5), r.push(6), r.push(7)]).toEqual([true, true, false]);
    expect(r.peek()).toBe(3);
    expect([r.shift(), r.shift(), r.shift(), r.shift()]).toEqual([3, 5, 6, undefined]);
    expect(r.isEmpty()).toBe(true);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Ring(0)).toThrow(RangeError);
    expect(() => new Ring(1.5)).toThrow(RangeError);
  });
});
