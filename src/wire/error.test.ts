import { describe, expect, it } from 'vitest';
import { isWireError, WireError } from './error.js';

describe('WireError', () => {
  it('names protocol, field and byte in its message', () => {
    const e = new WireError('ipv4', 'bad-checksum', 10, 'bad header checksum');
    expect(e.message).toBe('ipv4: bad header checksum (byte 10)');
    expect(String(e)).toBe(e.message);
  });

  it('falls back to the reason when there is no detail', () => {
    expect(new WireError('udp', 'bad-length', 4).message).toBe('udp: bad length (byte 4)');
  });

  it('is recognised by isWireError and nothing else is', () => {
    expect(isWireError(new WireError('arp', 'truncated', 0))).toBe(true);
    expect(isWireError(new Error('x'))).toBe(false);
    expect(isWireError(undefined)).toBe(false);
    expect(isWireError({ protocol: 'arp', reason: 'truncated', offset: 0 })).toBe(false);
  });
});
