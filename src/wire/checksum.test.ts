import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { hex } from '../../test/fixtures/wire-frames.js';
import { parseIpv4 } from './address.js';
import { foldChecksum, internetChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';

describe('checksum', () => {
  it('matches the RFC 1071 section 3 example', () => {
    // 00 01 f2 03 f4 f5 f6 f7: sum 0x2ddf0, folded 0xddf2, complemented 0x220d.
    const b = hex('00 01 f2 03 f4 f5 f6 f7');
    expect(onesComplementSum(b)).toBe(0x2ddf0);
    expect(foldChecksum(0x2ddf0)).toBe(0x220d);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it('matches the well-known IPv4 header 192.168.0.1 > 192.168.0.199 (checksum b861)', () => {
    const header = hex('45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7');
    expect(internetChecksum(header)).toBe(0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    expect(internetChecksum(header)).toBe(0);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(onesComplementSum(hex('12 34 56'))).toBe(0x1234 + 0x5600);
  });

  it('chains: summing pieces equals summing the whole (at even split points)', () => {
    const b = hex('de ad be ef 01 02 03 04 05');
    expect(internetChecksum(b.subarray(4), onesComplementSum(b.subarray(0, 4)))).toBe(internetChecksum(b));
  });

  it('keeps a large sum within 32 bits and folds it correctly', () => {
    const big = new Uint8Array(200_000).fill(0xff);
    const s = onesComplementSum(big);
    expect(s).toBeLessThanOrEqual(0xffff_ffff);
    expect(foldChecksum(s)).toBe(0); // all ones sums to negative zero
  });

  it('sums the pseudo-header as 16-bit words', () => {
    const src = parseIpv4('10.77.0.1')!;
    const dst = parseIpv4('10.77.0.11')!;
    expect(pseudoHeaderSum(src, dst, 17, 11)).toBe(0x0a4d + 0x0001 + 0x0a4d + 0x000b + 17 + 11);
  });

  it('empty buffer has checksum 0xffff', () => {
    expect(internetChecksum(new Uint8Array(0))).toBe(0xffff);
  });
});

describe('checksum over a range', () => {
  const b = hex('ff ff 00 01 f2 03 f4 f5 f6 f7 ee');
  it('sums buf[start, end) in place, equal to summing that view', () => {
    expect(onesComplementSum(b, 0, 2, 10)).toBe(0x2ddf0);
    expect(internetChecksum(b, 0, 2, 10)).toBe(0x220d);
    expect(internetChecksum(b, 7, 3, 11)).toBe(internetChecksum(b.subarray(3, 11), 7));
  });
  it('pads an odd range with zero, not with the byte after it', () => {
    expect(onesComplementSum(b, 0, 2, 5)).toBe(0x0001 + 0xf200);
  });
  it('clamps a range that runs past either end', () => {
    expect(onesComplementSum(b, 0, -4, 2)).toBe(0xffff);
    expect(onesComplementSum(b, 0, 10, 50)).toBe(0xee00);
    expect(onesComplementSum(b, 5, 6, 6)).toBe(5);
  });
});

describe('the sum over any range', () => {
  /** RFC 1071's definition, a byte pair at a time: the reference. */
  function reference(buf: Uint8Array, initial: number, start: number, end: number): number {
    let sum = initial;
    for (let i = start; i < end; i += 2) sum += (buf[i]! << 8) | (i + 1 < end ? buf[i + 1]! : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    return ~sum & 0xffff;
  }

  test.prop([fc.uint8Array({ minLength: 0, maxLength: 3000, size: 'max' }), fc.nat(3), fc.nat(40), fc.nat(40), fc.nat(0xffff_ffff)], { numRuns: 500 })(
    'gives the checksum RFC 1071 defines, for any range, alignment and initial sum',
    (bytes, shift, cutStart, cutEnd, initial) => {
      const backing = new Uint8Array(bytes.length + 4);
      backing.set(bytes, shift);
      const buf = backing.subarray(shift, shift + bytes.length); // byteOffset 0..3: odd and even
      const start = Math.min(cutStart, buf.length);
      const end = Math.max(start, buf.length - cutEnd);
      expect(internetChecksum(buf, initial, start, end)).toBe(reference(buf, initial, start, end));
    },
  );

  it('sums a resizable buffer right after it grew (the word view is made again)', () => {
    const ab = new ArrayBuffer(256, { maxByteLength: 4096 });
    const buf = new Uint8Array(ab); // length-tracking: grows with the buffer
    buf.fill(0x11);
    expect(internetChecksum(buf, 0, 0, 256)).toBe(reference(buf, 0, 0, 256));
    ab.resize(2048);
    buf.fill(0x22, 256);
    expect(internetChecksum(buf, 0, 0, 2048)).toBe(reference(buf, 0, 0, 2048));
  });

  it('sums long runs of 0xff words without losing carries', () => {
    const b = new Uint8Array(65536).fill(0xff);
    expect(internetChecksum(b)).toBe(reference(b, 0, 0, b.length));
    expect(internetChecksum(b, 0, 2, 65535)).toBe(reference(b, 0, 2, 65535));
  });
});
