import { describe, expect, it } from 'vitest';
import { ByteRing } from './byte-ring.js';

describe('ByteRing', () => {
  it('is bounded: write takes what fits', () => {
    const r = new ByteRing(8);
    expect(r.write(Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(6);
    expect(r.write(Uint8Array.of(7, 8, 9, 10))).toBe(2);
    expect(r.length).toBe(8);
    expect(r.free).toBe(0);
  });

  it('wraps around: copyOut and peekContiguous see the bytes in order', () => {
    const r = new ByteRing(8);
    r.write(Uint8Array.of(1, 2, 3, 4, 5, 6));
    r.consume(4);
    r.write(Uint8Array.of(7, 8, 9, 10, 11));
    const out = new Uint8Array(7);
    r.copyOut(0, 7, out, 0);
    expect([...out]).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect([...r.peekContiguous(100)]).toEqual([5, 6, 7, 8]);
    const mid = new Uint8Array(3);
    r.copyOut(3, 3, mid, 0);
    expect([...mid]).toEqual([8, 9, 10]);
  });

  it('throws on a caller bug: reading or consuming past the end', () => {
    const r = new ByteRing(4);
    r.write(Uint8Array.of(1));
    expect(() => r.consume(2)).toThrow(RangeError);
    expect(() => r.copyOut(0, 2, new Uint8Array(2), 0)).toThrow(RangeError);
  });
});

describe('ByteRing edges', () => {
  it('refuses a capacity that is not a positive integer, naming it', () => {
    expect(() => new ByteRing(0)).toThrow('ByteRing capacity 0');
    expect(() => new ByteRing(-3)).toThrow(RangeError);
    expect(() => new ByteRing(2.5)).toThrow('ByteRing capacity 2.5');
    const one = new ByteRing(1);
    expect(one.write(Uint8Array.of(9, 8))).toBe(1);
    expect([...one.peekContiguous(4)]).toEqual([9]);
  });

  it('reads nothing from a ring never written to, without failing', () => {
    const r = new ByteRing(4);
    expect(r.peekContiguous(4)).toHaveLength(0);
    const dst = Uint8Array.of(7, 7);
    r.copyOut(0, 0, dst, 0);
    expect([...dst]).toEqual([7, 7]);
    r.consume(0);
    expect(r.length).toBe(0);
    expect(r.free).toBe(4);
  });

  it('peekContiguous stops at max, and at the end of the buffer when the bytes wrap', () => {
    const r = new ByteRing(8);
    r.write(Uint8Array.of(1, 2, 3, 4, 5));
    expect([...r.peekContiguous(2)]).toEqual([1, 2]);
    r.consume(3);
    r.write(Uint8Array.of(6, 7, 8, 9, 10, 11));
    expect(r.length).toBe(8);
    expect([...r.peekContiguous(100)]).toEqual([4, 5, 6, 7, 8]);
    const out = new Uint8Array(10).fill(0xee);
    r.copyOut(2, 6, out, 2);
    expect([...out]).toEqual([0xee, 0xee, 6, 7, 8, 9, 10, 11, 0xee, 0xee]);
  });

  it('starts again at the front once emptied, so the next write is one contiguous run', () => {
    const r = new ByteRing(8);
    r.write(Uint8Array.of(1, 2, 3, 4, 5, 6));
    r.consume(6);
    r.write(Uint8Array.of(7, 8, 9, 10));
    expect([...r.peekContiguous(100)]).toEqual([7, 8, 9, 10]);
  });

  it('names the bad range in its errors, and refuses negative offsets and lengths', () => {
    const r = new ByteRing(4);
    r.write(Uint8Array.of(1, 2, 3));
    expect(() => r.copyOut(0, 4, new Uint8Array(4), 0)).toThrow('ByteRing copyOut 0+4 of 3');
    expect(() => r.copyOut(-1, 1, new Uint8Array(4), 0)).toThrow(RangeError);
    expect(() => r.copyOut(1, -1, new Uint8Array(4), 0)).toThrow(RangeError);
    expect(() => r.consume(-1)).toThrow('ByteRing consume -1 of 3');
    expect(() => r.consume(4)).toThrow('ByteRing consume 4 of 3');
    r.consume(3);
    expect(r.length).toBe(0);
  });
});
