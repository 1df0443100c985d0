import { describe, expect, it } from 'vitest';
import { ARP_REQUEST_FRAME, hex, UDP_VLAN_FRAME } from '../../test/fixtures/wire-frames.js';
import { MAC_BROADCAST, parseMac } from './address.js';
import { isWireError, WireError } from './error.js';
import { ETHERNET_HEADER_LEN, EtherType, EthernetFrame, EthernetRepr, VLAN_TAG_LEN } from './ethernet.js';

function frame(buf: Uint8Array): EthernetFrame {
  const f = EthernetFrame.checked(buf);
  if (isWireError(f)) throw new Error(f.message);
  return f;
}

describe('EthernetFrame', () => {
  it('reads an untagged frame', () => {
    const f = frame(ARP_REQUEST_FRAME);
    expect(f.dstAddr()).toBe(MAC_BROADCAST);
    expect(f.srcAddr()).toBe(parseMac('02:4e:53:00:00:0a'));
    expect(f.etherType()).toBe(EtherType.Arp);
    expect(f.isTagged()).toBe(false);
    expect(f.vlanId()).toBeUndefined();
    expect(f.vlanPcp()).toBeUndefined();
    expect(f.headerLen()).toBe(ETHERNET_HEADER_LEN);
    expect(f.payload().length).toBe(ARP_REQUEST_FRAME.length - 14);
  });

  it('reads an 802.1Q-tagged frame and reports the inner type', () => {
    const f = frame(UDP_VLAN_FRAME);
    expect(f.dstAddr()).toBe(parseMac('02:4e:53:00:00:0b'));
    expect(f.etherType()).toBe(EtherType.Ipv4);
    expect(f.vlanId()).toBe(42);
    expect(f.vlanPcp()).toBe(5);
    expect(f.headerLen()).toBe(ETHERNET_HEADER_LEN + VLAN_TAG_LEN);
    expect(f.payload()[0]).toBe(0x45);
  });

  it('payload is a view, not a copy', () => {
    const buf = ARP_REQUEST_FRAME.slice();
    const p = frame(buf).payload();
    expect(p.buffer).toBe(buf.buffer);
    expect(p.byteOffset).toBe(buf.byteOffset + 14);
  });

  it('passes an unknown EtherType through as a value', () => {
    const buf = ARP_REQUEST_FRAME.slice();
    buf[12] = 0x88;
    buf[13] = 0xb5; // local experimental
    expect(frame(buf).etherType()).toBe(0x88b5);
  });

  it('accepts a header-only frame', () => {
    expect(frame(ARP_REQUEST_FRAME.subarray(0, 14)).payload().length).toBe(0);
  });

  it('rejects truncation at each boundary', () => {
    for (let n = 0; n < 14; n++) {
      const e = EthernetFrame.checked(ARP_REQUEST_FRAME.subarray(0, n));
      expect(e).toBeInstanceOf(WireError);
      expect((e as WireError).reason).toBe('truncated');
      expect((e as WireError).protocol).toBe('ethernet');
    }
    for (let n = 14; n < 18; n++) {
      const e = EthernetFrame.checked(UDP_VLAN_FRAME.subarray(0, n));
      expect((e as WireError).reason).toBe('truncated');
      expect((e as WireError).message).toMatch(/802\.1Q/);
    }
    expect(isWireError(EthernetFrame.checked(UDP_VLAN_FRAME.subarray(0, 18)))).toBe(false);
  });
});

describe('EthernetRepr', () => {
  it('round trips an untagged header', () => {
    const r = EthernetRepr.parse(frame(ARP_REQUEST_FRAME));
    expect(r.bufferLen()).toBe(14);
    const out = new Uint8Array(r.bufferLen());
    r.emit(out);
    expect(out).toEqual(ARP_REQUEST_FRAME.subarray(0, 14));
  });

  it('round trips a tagged header', () => {
    const r = EthernetRepr.parse(frame(UDP_VLAN_FRAME));
    expect(r).toMatchObject({ etherType: EtherType.Ipv4, vlanId: 42, vlanPcp: 5 });
    expect(r.bufferLen()).toBe(18);
    const out = new Uint8Array(18);
    r.emit(out);
    expect(out).toEqual(UDP_VLAN_FRAME.subarray(0, 18));
  });

  it('emits known bytes', () => {
    const r = new EthernetRepr(MAC_BROADCAST, parseMac('02:4e:53:00:00:0a')!, EtherType.Arp);
    const out = new Uint8Array(14);
    r.emit(out);
    expect(out).toEqual(hex('ff ff ff ff ff ff | dst\n 02 4e 53 00 00 0a | src\n 08 06 | ARP'));
  });

  it('refuses to emit into a short buffer', () => {
    expect(() => new EthernetRepr(0, 0, 0x0800, 1).emit(new Uint8Array(14))).toThrow(RangeError);
  });
});
