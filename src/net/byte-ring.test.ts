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
