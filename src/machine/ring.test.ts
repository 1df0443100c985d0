import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { RING_INITIAL_SLOTS, Ring } from './ring.js';

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

  it('starts with a few slots and doubles them only when a push finds them full, up to its capacity', () => {
    const r = new Ring<number>(10);
    expect(r.allocated).toBe(RING_INITIAL_SLOTS);
    for (let i = 0; i < RING_INITIAL_SLOTS; i++) r.push(i);
    expect(r.allocated).toBe(RING_INITIAL_SLOTS);
    r.push(4);
    expect(r.allocated).toBe(2 * RING_INITIAL_SLOTS);
    for (let i = 5; i < 10; i++) expect(r.push(i)).toBe(true);
    expect(r.allocated).toBe(10); // never past the bound
    expect(r.push(10)).toBe(false);
    expect(new Ring<number>(2).allocated).toBe(2);
  });

  it('keeps the order when it grows with its items wrapped around the end of the array', () => {
    const r = new Ring<number>(16);
    for (let i = 0; i < RING_INITIAL_SLOTS; i++) r.push(i);
    r.shift();
    r.shift();
    r.push(100);
    r.push(101); // wrapped: the array holds [100, 101, 2, 3], the head at 2
    r.push(102); // full: grows
    expect([r.shift(), r.shift(), r.shift(), r.shift(), r.shift(), r.shift()]).toEqual([2, 3, 100, 101, 102, undefined]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new Ring(0)).toThrow(RangeError);
    expect(() => new Ring(1.5)).toThrow(RangeError);
  });
});

describe('Ring against an array', () => {
  test.prop([fc.integer({ min: 1, max: 40 }), fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 200, size: 'max' })])('push, shift and peek as a bounded FIFO, across wrap-arounds and emptyings', (capacity, ops) => {
    const r = new Ring<number>(capacity);
    const model: number[] = [];
    for (const o of ops) {
      if (o === null) expect(r.shift()).toBe(model.shift());
      else expect(r.push(o)).toBe(model.length < capacity && model.push(o) > 0);
      expect(r.length).toBe(model.length);
      expect(r.peek()).toBe(model[0]);
      expect(r.isEmpty()).toBe(model.length === 0);
      expect(r.isFull()).toBe(model.length === capacity);
    }
  });
});
