import { describe, expect, it } from 'vitest';
import { parseIpv4, parseMac } from './address.js';
import { DhcpMessageType, DhcpOp, DhcpPacket, dhcpReprLen, emitDhcp, parseDhcpRepr, type DhcpRepr } from './dhcp.js';
import { isWireError, type WireError } from './error.js';

const ip = (s: string): number => parseIpv4(s)!;

const OFFER: DhcpRepr = {
  op: DhcpOp.Reply,
  messageType: DhcpMessageType.Offer,
  xid: 0xdeadbeef,
  secs: 3,
  broadcast: true,
  clientMac: parseMac('02:4e:53:00:00:0b')!,
  ciaddr: 0,
  yiaddr: ip('10.77.0.150'),
  siaddr: 0,
  giaddr: 0,
  serverId: ip('10.77.0.1'),
  leaseTime: 3600,
  renewalTime: 1800,
  rebindingTime: 3150,
  subnetMask: ip('255.255.255.0'),
  router: ip('10.77.0.1'),
};

function emit(r: DhcpRepr): Uint8Array {
  const b = new Uint8Array(dhcpReprLen(r));
  emitDhcp(r, b);
  return b;
}

describe('DHCP messages', () => {
  it('lays out the BOOTP header, the magic cookie and the options as RFC 2131 says', () => {
    const b = emit(OFFER);
    expect(b.length).toBe(300); // BOOTP's minimum
    expect(Array.from(b.subarray(0, 4))).toEqual([2, 1, 6, 0]); // op reply, Ethernet, hlen 6, hops
    expect(Array.from(b.subarray(4, 8))).toEqual([0xde, 0xad, 0xbe, 0xef]); // xid
    expect(Array.from(b.subarray(10, 12))).toEqual([0x80, 0]); // broadcast flag
    expect(Array.from(b.subarray(16, 20))).toEqual([10, 77, 0, 150]); // yiaddr
    expect(Array.from(b.subarray(28, 34))).toEqual([2, 0x4e, 0x53, 0, 0, 0x0b]); // chaddr
    expect(Array.from(b.subarray(236, 243))).toEqual([0x63, 0x82, 0x53, 0x63, 53, 1, 2]); // cookie, type OFFER
  });

  it('round-trips every option it names', () => {
    const p = DhcpPacket.checked(emit(OFFER));
    if (isWireError(p)) throw new Error(p.message);
    expect(parseDhcpRepr(p)).toEqual(OFFER);
    const discover: DhcpRepr = { ...OFFER, op: DhcpOp.Request, messageType: DhcpMessageType.Discover, yiaddr: 0, serverId: undefined, paramRequestList: [1, 3, 51], maxMessageSize: 1500, requestedIp: ip('10.77.0.150') };
    for (const k of Object.keys(discover) as Array<keyof DhcpRepr>) if (discover[k] === undefined) delete discover[k];
    const q = DhcpPacket.checked(emit(discover));
    if (isWireError(q)) throw new Error(q.message);
    expect(parseDhcpRepr(q)).toEqual(discover);
  });

  it('refuses a short message, plain BOOTP, an option past the end, and a missing or bad message type', () => {
    const b = emit(OFFER);
    expect((DhcpPacket.checked(b.subarray(0, 239)) as WireError).reason).toBe('truncated');
    const bootp = b.slice();
    bootp[236] = 0;
    expect((DhcpPacket.checked(bootp) as WireError).reason).toBe('unsupported');
    const long = b.slice();
    long[241] = 200; // the message type option claims 200 bytes
    expect((DhcpPacket.checked(long) as WireError).reason).toBe('truncated');
    const noType = b.slice();
    noType.fill(0, 240, 243); // the message type option becomes three pads
    const p = DhcpPacket.checked(noType);
    if (isWireError(p)) throw new Error(p.message);
    expect((parseDhcpRepr(p) as WireError).message).toMatch(/no message type/);
    const badType = b.slice();
    badType[242] = 9;
    const p2 = DhcpPacket.checked(badType);
    if (isWireError(p2)) throw new Error(p2.message);
    expect((parseDhcpRepr(p2) as WireError).message).toMatch(/message type 9/);
  });

  it('writes the client identifier (type 1 + MAC) and host name as a client sends them, and reads them back', () => {
    const r: DhcpRepr = { ...OFFER, op: DhcpOp.Request, messageType: DhcpMessageType.Discover, clientId: Uint8Array.of(1, 2, 0x4e, 0x53, 0, 0, 0x0b), hostName: 'gpos' };
    const b = emit(r);
    const text = Array.from(b.subarray(240));
    const at = (code: number): number[] => {
      for (let i = 0; i < text.length; ) {
        if (text[i] === code) return text.slice(i + 2, i + 2 + text[i + 1]!);
        i += text[i] === 0 ? 1 : 2 + text[i + 1]!;
      }
      return [];
    };
    expect(at(61)).toEqual([1, 2, 0x4e, 0x53, 0, 0, 0x0b]);
    expect(at(12)).toEqual([0x67, 0x70, 0x6f, 0x73]); // "gpos"
    const p = DhcpPacket.checked(b);
    if (isWireError(p)) throw new Error(p.message);
    const back = parseDhcpRepr(p) as DhcpRepr;
    expect(Array.from(back.clientId!)).toEqual([1, 2, 0x4e, 0x53, 0, 0, 0x0b]);
    expect(back.hostName).toBe('gpos');
    const q = DhcpPacket.checked(emit({ ...r, clientId: Uint8Array.of(1) })); // a type byte and no identifier
    if (isWireError(q)) throw new Error(q.message);
    expect((parseDhcpRepr(q) as WireError).reason).toBe('bad-length');
  });
});
