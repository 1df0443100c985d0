// VXLAN header codec against RFC 7348 section 5, byte by byte.
import { describe, expect, it } from 'vitest';
import { isWireError } from './error.js';
import { VXLAN_HEADER_LEN, VxlanPacket, VxlanRepr } from './vxlan.js';

// What the kernel's vxlan device sends for VNI 42 (`ip link add ... type vxlan id 42`), followed
// by the first bytes of an inner Ethernet frame.
const HEADER = Uint8Array.from([
  0x08, // flags: I (VNI valid)
  0x00, 0x00, 0x00, // reserved
  0x00, 0x00, 0x2a, // VNI 42
  0x00, // reserved
]);
const INNER = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x4e, 0x53, 0x00, 0x00, 0x0a, 0x08, 0x06]);
const DATAGRAM = Uint8Array.from([...HEADER, ...INNER]);

function view(b: Uint8Array): VxlanPacket {
  const p = VxlanPacket.checked(b);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

describe('VxlanPacket', () => {
  it('reads the VNI and gives the inner frame as a view', () => {
    const p = view(DATAGRAM);
    expect(p.vni()).toBe(42);
    expect([...p.payload()]).toEqual([...INNER]);
    expect(p.payload().buffer).toBe(DATAGRAM.buffer);
  });

  it('reads all 24 bits of the VNI', () => {
    const b = DATAGRAM.slice();
    b.set([0xab, 0xcd, 0xef], 4);
    expect(view(b).vni()).toBe(0xabcdef);
  });

  it('rejects every length below 8 as truncated', () => {
    for (let n = 0; n < VXLAN_HEADER_LEN; n++) expect(VxlanPacket.checked(DATAGRAM.subarray(0, n))).toMatchObject({ protocol: 'vxlan', reason: 'truncated', offset: n });
  });

  it('rejects a header without the I flag', () => {
    for (const flags of [0x00, 0xf7, 0x80]) {
      const b = DATAGRAM.slice();
      b[0] = flags;
      expect(VxlanPacket.checked(b)).toMatchObject({ protocol: 'vxlan', reason: 'unsupported', offset: 0 });
    }
  });

  it('ignores other flag bits and the reserved fields (RFC 7348: ignored on receipt)', () => {
    const b = DATAGRAM.slice();
    b[0] = 0xff;
    b.set([0xaa, 0xbb, 0xcc], 1);
    b[7] = 0xdd;
    expect(view(b).vni()).toBe(42);
  });

  it('an empty inner frame is a value (the link drops it by length, not the codec)', () => {
    expect(view(HEADER).payload().length).toBe(0);
  });
});

describe('VxlanRepr', () => {
  it('emits exactly the kernel header: I flag, zero reserved, VNI', () => {
    const b = new Uint8Array(8).fill(0x55);
    new VxlanRepr(42).emit(b);
    expect([...b]).toEqual([...HEADER]);
  });

  it('round trips', () => {
    const b = new Uint8Array(8);
    new VxlanRepr(0xfedcba).emit(b);
    expect(VxlanRepr.parse(view(b)).vni).toBe(0xfedcba);
    expect(new VxlanRepr(1).bufferLen()).toBe(8);
  });

  it('refuses a VNI over 24 bits or a short buffer (caller bugs)', () => {
    expect(() => new VxlanRepr(0x1000000).emit(new Uint8Array(8))).toThrow(RangeError);
    expect(() => new VxlanRepr(1).emit(new Uint8Array(7))).toThrow(RangeError);
  });
});
