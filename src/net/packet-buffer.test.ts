import { describe, expect, it } from 'vitest';
import { internetChecksum } from '../wire/index.js';
import { allocFrame, ETH_MIN_FRAME, MAX_HEADROOM, PacketBuffer } from './packet-buffer.js';

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
    let overlaps = 0;
    for (const f of frames) {
      const spans = seen.get(f.buffer) ?? [];
      for (const [a, b] of spans) if (!(f.byteOffset >= b || f.byteOffset + f.length <= a)) overlaps++;
      spans.push([f.byteOffset, f.byteOffset + f.length]);
      seen.set(f.buffer, spans);
    }
    expect(overlaps).toBe(0);
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

describe('PacketBuffer (headroom)', () => {
  it('puts the payload after the headroom and pushes headers in front of it', () => {
    const pb = PacketBuffer.alloc(4, 10);
    expect(pb.headroom).toBe(10);
    expect(pb.start).toBe(10);
    expect(pb.end).toBe(14);
    pb.view().set([1, 2, 3, 4]);
    const l4 = pb.push(2);
    expect(l4.length).toBe(6);
    l4.set([0xaa, 0xbb]);
    expect([...pb.push(3)]).toEqual([0, 0, 0, 0xaa, 0xbb, 1, 2, 3, 4]);
    expect(pb.headroom).toBe(5);
    expect(pb.length).toBe(9);
    // The pushed bytes are the backing buffer's, in place: nothing was copied.
    expect(pb.buf[9]).toBe(0xbb);
    expect(pb.buf[10]).toBe(1);
  });

  it('refuses to push past the headroom, or to pull past the packet', () => {
    const pb = PacketBuffer.alloc(4, 8);
    expect(() => pb.push(9)).toThrow(RangeError);
    expect(() => pb.push(-1)).toThrow(RangeError);
    pb.push(8);
    expect(() => pb.push(1)).toThrow(RangeError);
    expect(() => pb.pull(13)).toThrow(RangeError);
    expect(() => pb.pull(-1)).toThrow(RangeError);
    expect(() => PacketBuffer.alloc(-1)).toThrow(RangeError);
    expect(() => PacketBuffer.alloc(1, -1)).toThrow(RangeError);
    expect(() => PacketBuffer.alloc(1.5)).toThrow(RangeError);
  });

  it('pulls a header off again so it can be rebuilt (a retransmission)', () => {
    const pb = PacketBuffer.alloc(2, 20);
    pb.view().set([7, 8]);
    pb.push(4).set([1, 1, 1, 1]);
    pb.pull(4);
    expect(pb.start).toBe(20);
    expect([...pb.push(4)]).toEqual([1, 1, 1, 1, 7, 8]);
    expect(pb.length).toBe(6);
  });

  it('pads a short frame with zeros to the Ethernet minimum, and leaves a long one as is', () => {
    const short = PacketBuffer.alloc(3, 14);
    short.view().set([9, 9, 9]);
    short.push(14).fill(0xee, 0, 14);
    const f = short.frame();
    expect(f.length).toBe(ETH_MIN_FRAME);
    expect(f[16]).toBe(9);
    expect(f.subarray(17).every((b) => b === 0)).toBe(true);
    const long = PacketBuffer.alloc(100, 14);
    long.push(14);
    expect(long.frame().length).toBe(114);
    expect(PacketBuffer.alloc(0).frame().length).toBe(ETH_MIN_FRAME);
    expect(PacketBuffer.alloc(0).headroom).toBe(MAX_HEADROOM);
  });

  it('takes the Internet checksum over a range of the packet, in place', () => {
    const pb = PacketBuffer.alloc(4, 4);
    pb.view().set([0xf2, 0x03, 0xf4, 0xf5]);
    pb.push(2).set([0x00, 0x01]);
    // 0001 f203 f4f5: the first six bytes of RFC 1071's example.
    expect(pb.checksum()).toBe(internetChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5])));
    expect(pb.checksum(0, 2, 4)).toBe(internetChecksum(Uint8Array.from([0xf2, 0x03])));
    expect(pb.checksum(0x1234, 0, 2)).toBe(internetChecksum(Uint8Array.from([0x00, 0x01]), 0x1234));
  });
});

describe('PacketBuffer: edges', () => {
  it('refuses fractional pushes and pulls', () => {
    const pb = PacketBuffer.alloc(4, 8);
    expect(() => pb.push(1.5)).toThrow(RangeError);
    expect(() => pb.pull(0.5)).toThrow(RangeError);
    expect(() => PacketBuffer.alloc(1, 2.5)).toThrow(RangeError);
    expect(pb.start).toBe(8);
    pb.push(8);
    pb.pull(12); // the whole packet, payload included
    expect(pb.length).toBe(0);
  });

  it('cuts frames up to 16 KiB from the slab, larger ones get their own buffer', () => {
    const slabbed = allocFrame(16 * 1024);
    expect(slabbed.buffer.byteLength).toBe(256 * 1024);
    const own = allocFrame(16 * 1024 + 1);
    expect(own.buffer.byteLength).toBe(16 * 1024 + 1);
  });
});

describe('PacketBuffer: one object for every packet (reset, pushAt)', () => {
  it('reset() points the object at fresh zeroed bytes and leaves frames taken before as they were', () => {
    const pb = PacketBuffer.alloc(4, 34);
    pb.view().fill(9);
    pb.pushAt(34);
    const first = pb.frame();
    const again = pb.reset(6, 34);
    expect(again).toBe(pb);
    expect([pb.start, pb.length, pb.end, pb.headroom]).toEqual([34, 6, 40, 34]);
    expect(pb.buf).not.toBe(first);
    expect(pb.buf.every((b) => b === 0)).toBe(true);
    expect(first.subarray(34, 38).every((b) => b === 9)).toBe(true);
    expect(() => pb.reset(-1)).toThrow(RangeError);
  });

  it('pushAt() moves the head as push() does and returns where the header starts', () => {
    const pb = PacketBuffer.alloc(10, 20);
    expect(pb.pushAt(8)).toBe(12);
    expect(pb.start).toBe(12);
    expect(pb.push(12).length).toBe(30);
    expect(() => pb.pushAt(1)).toThrow(RangeError);
  });

  it('with headroom for exactly the headers pushed, the frame is the whole buffer (no new view)', () => {
    const pb = PacketBuffer.alloc(64, 34);
    pb.pushAt(20);
    pb.pushAt(14);
    expect(pb.frame()).toBe(pb.buf);
    expect(pb.frame().length).toBe(98);
    // A short one is padded: the buffer is longer than the frame, so the frame is a view of it.
    const short = PacketBuffer.alloc(8, 34);
    short.pushAt(34);
    expect(short.frame()).not.toBe(short.buf);
    expect(short.frame().length).toBe(60);
    // Headroom left over: a view from the first header on.
    const roomy = PacketBuffer.alloc(64, 40);
    roomy.pushAt(34);
    expect(roomy.frame().length).toBe(98);
    expect(roomy.frame().byteOffset).toBe(roomy.buf.byteOffset + 6);
  });
});

describe('PacketBuffer: exact headroom', () => {
  it('is just the finished frame, padding included, when the headers fill the headroom', () => {
    for (const len of [0, 8, 18, 26, 64, 1000]) {
      const pb = PacketBuffer.alloc(0, 0).reset(len, 42, true);
      pb.pushAt(42);
      expect(pb.frame()).toBe(pb.buf);
      expect(pb.frame().length).toBe(Math.max(42 + len, ETH_MIN_FRAME));
    }
  });

  it('still gives a padded frame, as a copy, when the headers came out shorter than promised', () => {
    const pb = PacketBuffer.alloc(0, 0).reset(4, 42, true);
    pb.view().set([1, 2, 3, 4]);
    pb.pushAt(20);
    const f = pb.frame();
    expect(f.length).toBe(ETH_MIN_FRAME);
    expect([...f.subarray(0, 24)]).toEqual([...pb.buf.subarray(22, 46)]);
    expect(f.subarray(24).every((b) => b === 0)).toBe(true);
  });
});
