import { describe, expect, it } from 'vitest';
import { allocFrame, ETH_MIN_FRAME } from './iface.js';

describe('allocFrame (slab allocator)', () => {
  it('hands out zeroed, non-overlapping, 8-byte-aligned frames of at least the minimum size', () => {
    const frames = Array.from({ length: 1000 }, (_, i) => allocFrame(1 + ((i * 97) % 1600)));
    for (const f of frames) {
      expect(f.length).toBeGreaterThanOrEqual(ETH_MIN_FRAME);
      expect(f.every((b) => b === 0)).toBe(true);
      expect(f.byteOffset % 8).toBe(0);
      f.fill(0xab); // writing one frame must not show in any other
    }
    const seen = new Map<ArrayBufferLike, Array<[number, number]>>();
    for (const f of frames) {
      const spans = seen.get(f.buffer) ?? [];
      for (const [a, b] of spans) expect(f.byteOffset >= b || f.byteOffset + f.length <= a).toBe(true);
      spans.push([f.byteOffset, f.byteOffset + f.length]);
      seen.set(f.buffer, spans);
    }
    // Many frames share a backing store: that is the point.
    expect(seen.size).toBeLessThan(frames.length / 50);
  });

  it('gives an oversized frame a buffer of its own', () => {
    const big = allocFrame(20_000);
    expect(big.length).toBe(20_000);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(20_000);
  });
});
