import { describe, expect, it } from 'vitest';
import { formatIp, formatIpv6, parseIpv4, parseIpv6, readIpv6, writeIpv6, type Ipv6 } from './address.js';

describe('IPv6 addresses', () => {
  it('parses the RFC 4291 forms to one canonical value', () => {
    expect(parseIpv6('fe80::1')).toBe('fe800000000000000000000000000001');
    expect(parseIpv6('FE80:0:0:0:0:0:0:1')).toBe('fe800000000000000000000000000001');
    expect(parseIpv6('::')).toBe('0'.repeat(32));
    expect(parseIpv6('::1')).toBe(`${'0'.repeat(31)}1`);
    expect(parseIpv6('2001:db8::')).toBe(`20010db8${'0'.repeat(24)}`);
    expect(parseIpv6('::ffff:10.77.0.10')).toBe('00000000000000000000ffff0a4d000a');
  });

  it('rejects malformed text', () => {
    for (const t of ['', ':', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7::8', '::1.2.3', '10.0.0.1']) {
      expect(parseIpv6(t), t).toBeUndefined();
    }
  });

  it('formats per RFC 5952 (longest zero run, first on a tie, no :: for one group)', () => {
    const f = (t: string): string => formatIpv6(parseIpv6(t)!);
    expect(f('fe80:0:0:0:0200:5eff:fe00:0001')).toBe('fe80::200:5eff:fe00:1');
    expect(f('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(f('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(f('::')).toBe('::');
    expect(f('1::')).toBe('1::');
  });

  it('reads and writes 16 bytes, and formatIp tells the families apart', () => {
    const b = new Uint8Array(18);
    const ip = parseIpv6('fe80::24e:53ff:fe00:b')!;
    writeIpv6(b, 1, ip);
    expect(Array.from(b.subarray(1, 3))).toEqual([0xfe, 0x80]);
    expect(b[16]).toBe(0x0b);
    expect(readIpv6(b, 1)).toBe(ip);
    expect(formatIp(ip)).toBe('fe80::24e:53ff:fe00:b');
    expect(formatIp(parseIpv4('10.77.0.1')!)).toBe('10.77.0.1');
    const set = new Set<Ipv6>([ip]);
    expect(set.has(readIpv6(b, 1))).toBe(true);
  });
});
