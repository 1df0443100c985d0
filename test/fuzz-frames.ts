// Frame generators for the receive-path fuzz (fast-check arbitraries): random bytes, and
// structure-aware Ethernet (optionally 802.1Q-tagged) carrying ARP, IPv4 (ICMP, UDP, anything)
// or IPv6, with every field drawn over its whole range, the interesting values (the guests' and
// the host's identities, ports 0 and the reflectors, broadcast and multicast addresses) drawn
// often, and checksums fixed unless the case asks for a wrong one, so frames reach the services.
import fc from 'fast-check';
import { internetChecksum, pseudoHeaderSum } from '../src/wire/checksum.js';
import { MAC_BROADCAST, parseIpv4, parseMac, writeIpv4, writeMac, type Ipv4, type Mac } from '../src/wire/address.js';

export const HOST = { mac: parseMac('02:00:00:00:00:01')!, ip: parseIpv4('10.77.0.1')! };
export const RTOS = { mac: parseMac('02:4e:53:00:00:0a')!, ip: parseIpv4('10.77.0.10')! };
export const GPOS = { mac: parseMac('02:4e:53:00:00:0b')!, ip: parseIpv4('10.77.0.11')! };
export const ATTACKER = { mac: parseMac('02:66:66:66:66:66')!, ip: parseIpv4('10.77.0.66')! };

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

export const macArb: fc.Arbitrary<Mac> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(RTOS.mac, GPOS.mac, HOST.mac, ATTACKER.mac, MAC_BROADCAST) },
  { weight: 1, arbitrary: fc.constantFrom(0, parseMac('01:00:5e:00:00:01')!, parseMac('01:00:5e:7f:ff:fa')!, parseMac('33:33:00:00:00:01')!) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 48 - 1 }) },
);

export const ipArb: fc.Arbitrary<Ipv4> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(RTOS.ip, GPOS.ip, HOST.ip, ATTACKER.ip) },
  // Unspecified, limited and subnet broadcast, the network, loopback, multicast, class E.
  { weight: 1, arbitrary: fc.constantFrom(0, 0xffff_ffff, parseIpv4('10.77.0.255')!, parseIpv4('10.77.0.0')!, parseIpv4('127.0.0.1')!, parseIpv4('224.0.0.1')!, parseIpv4('240.0.0.1')!) },
  { weight: 1, arbitrary: u32 },
);

/** Ports of 0, the reflectors (echo, discard, daytime, qotd, chargen, time) and other services. */
export const portArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0, 7, 9, 13, 17, 19, 37, 53, 67, 68, 80, 123, 9000, 65535) },
  { weight: 1, arbitrary: u16 },
);

/** Mostly the honest value(s), one time in `weight + 1` a drawn one. */
function usually<T>(honest: fc.Arbitrary<T>, drawn: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T> {
  return fc.oneof({ weight, arbitrary: honest }, { weight: 1, arbitrary: drawn });
}

/** Mostly the honest value (null: derived from the rest of the frame), sometimes a drawn one. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}
const rareTrue = fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

/** Where frames go: mostly a guest or everyone, so they reach the stacks. */
const dstMacArb: fc.Arbitrary<Mac> = usually(fc.constantFrom(RTOS.mac, GPOS.mac, MAC_BROADCAST), macArb, 6);
/** Who frames claim to be: mostly the host or another LAN host, sometimes a guest or anyone. */
const srcMacArb: fc.Arbitrary<Mac> = usually(fc.constantFrom(HOST.mac, ATTACKER.mac), macArb, 6);
const dstIpArb: fc.Arbitrary<Ipv4> = usually(fc.constantFrom(RTOS.ip, GPOS.ip), ipArb, 6);
const srcIpArb: fc.Arbitrary<Ipv4> = usually(fc.constantFrom(HOST.ip, ATTACKER.ip), ipArb, 6);

const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 0, maxLength: max });

/** The Ethernet header: addresses from the identities, an optional 802.1Q tag. */
const ethArb = fc.record({ dst: dstMacArb, src: srcMacArb, tag: rarely(u16) });
type Eth = { dst: Mac; src: Mac; tag: number | null };

function ethernet(h: Eth, etherType: number, body: Uint8Array): Uint8Array {
  const hl = h.tag === null ? 14 : 18;
  const f = new Uint8Array(Math.max(60, hl + body.length));
  writeMac(f, 0, h.dst);
  writeMac(f, 6, h.src);
  let off = 12;
  if (h.tag !== null) {
    f[12] = 0x81;
    f[13] = 0x00;
    f[14] = h.tag >>> 8;
    f[15] = h.tag & 0xff;
    off = 16;
  }
  f[off] = etherType >>> 8;
  f[off + 1] = etherType & 0xff;
  f.set(body, hl);
  return f;
}

/** The MAC a well-behaved sender would put in front of `ip`. */
function macFor(ip: Ipv4, otherwise: Mac): Mac {
  if (ip === RTOS.ip) return RTOS.mac;
  if (ip === GPOS.ip) return GPOS.mac;
  if (ip === 0xffff_ffff || ip === parseIpv4('10.77.0.255')) return MAC_BROADCAST;
  return otherwise;
}

const arpArb = fc
  .record({
    eth: ethArb,
    htype: usually(fc.constant(1), u16, 6),
    ptype: usually(fc.constant(0x0800), u16, 6),
    hlen: usually(fc.constant(6), u8, 6),
    plen: usually(fc.constant(4), u8, 6),
    op: usually(fc.constantFrom(1, 2), u16, 6),
    sha: srcMacArb,
    spa: srcIpArb,
    tha: macArb,
    tpa: dstIpArb,
    senderIsEthSrc: usually(fc.constant(true), fc.constant(false), 3),
  })
  .map((a) => {
    const b = new Uint8Array(28);
    b[0] = a.htype >>> 8;
    b[1] = a.htype & 0xff;
    b[2] = a.ptype >>> 8;
    b[3] = a.ptype & 0xff;
    b[4] = a.hlen;
    b[5] = a.plen;
    b[6] = a.op >>> 8;
    b[7] = a.op & 0xff;
    // Mostly the sender MAC is the Ethernet source, as an honest host's is.
    writeMac(b, 8, a.senderIsEthSrc ? a.eth.src : a.sha);
    writeIpv4(b, 14, a.spa);
    writeMac(b, 18, a.tha);
    writeIpv4(b, 24, a.tpa);
    return ethernet(a.eth, 0x0806, b);
  });

const icmpArb = fc
  .record({ type: usually(fc.constantFrom(8, 0, 3, 5, 11, 13), u8, 4), code: usually(fc.constant(0), u8, 3), rest: u32, data: bytes(64), badSum: rareTrue })
  .map((m) => {
    const b = new Uint8Array(8 + m.data.length);
    b[0] = m.type;
    b[1] = m.code;
    b[4] = m.rest >>> 24;
    b[5] = (m.rest >>> 16) & 0xff;
    b[6] = (m.rest >>> 8) & 0xff;
    b[7] = m.rest & 0xff;
    b.set(m.data, 8);
    const ck = m.badSum ? 0x1234 : internetChecksum(b);
    b[2] = ck >>> 8;
    b[3] = ck & 0xff;
    return { proto: 1, l4: b };
  });

const udpArb = fc
  .record({
    src: portArb,
    // Often the echo service, so datagrams get answers (and meet its reflector and rate checks).
    dst: fc.oneof({ weight: 1, arbitrary: fc.constant(7) }, { weight: 1, arbitrary: portArb }),
    data: fc.oneof({ weight: 8, arbitrary: bytes(64) }, { weight: 1, arbitrary: bytes(1472) }),
    len: rarely(u16),
    sum: fc.constantFrom('fixed', 'fixed', 'fixed', 'none', 'wrong'),
  })
  .map((u) => ({ proto: 17, l4: u, udp: true as const }));

const rawL4Arb = fc.record({ proto: fc.oneof(fc.constantFrom(6, 2, 47, 50, 58, 132), u8), l4: bytes(80) });

const ipv4Arb = fc
  .record({
    eth: ethArb,
    ihl: usually(fc.constant(5), fc.integer({ min: 0, max: 15 }), 8),
    version: usually(fc.constant(4), fc.integer({ min: 0, max: 15 }), 12),
    options: bytes(40),
    tos: u8,
    totalLen: rarely(u16),
    ident: u16,
    flagsFrag: usually(fc.constantFrom(0, 0x4000), u16, 6),
    ttl: u8,
    src: srcIpArb,
    dst: dstIpArb,
    badSum: rareTrue,
    /** Mostly the Ethernet destination agrees with the IP destination, as a router's would. */
    consistent: usually(fc.constant(true), fc.constant(false), 3),
    payload: fc.oneof({ weight: 3, arbitrary: icmpArb }, { weight: 4, arbitrary: udpArb }, { weight: 1, arbitrary: rawL4Arb }),
  })
  .map((p) => {
    // Mostly a plain IPv4 header: drawn IHL and version are the rare cases.
    const ihl = p.ihl;
    const hl = Math.max(20, ihl * 4);
    let l4: Uint8Array;
    if ('udp' in p.payload) {
      const u = p.payload.l4;
      l4 = new Uint8Array(8 + u.data.length);
      l4[0] = u.src >>> 8;
      l4[1] = u.src & 0xff;
      l4[2] = u.dst >>> 8;
      l4[3] = u.dst & 0xff;
      const len = u.len ?? l4.length;
      l4[4] = len >>> 8;
      l4[5] = len & 0xff;
      l4.set(u.data, 8);
      let ck = 0;
      if (u.sum === 'fixed') ck = internetChecksum(l4, pseudoHeaderSum(p.src, p.dst, 17, l4.length)) || 0xffff;
      else if (u.sum === 'wrong') ck = 0xbeef;
      l4[6] = ck >>> 8;
      l4[7] = ck & 0xff;
    } else {
      l4 = p.payload.l4;
    }
    const b = new Uint8Array(hl + l4.length);
    b[0] = (p.version << 4) | ihl;
    b[1] = p.tos;
    const total = p.totalLen ?? b.length;
    b[2] = total >>> 8;
    b[3] = total & 0xff;
    b[4] = p.ident >>> 8;
    b[5] = p.ident & 0xff;
    b[6] = p.flagsFrag >>> 8;
    b[7] = p.flagsFrag & 0xff;
    b[8] = p.ttl;
    b[9] = p.payload.proto;
    writeIpv4(b, 12, p.src);
    writeIpv4(b, 16, p.dst);
    b.set(p.options.subarray(0, hl - 20), 20);
    const ck = p.badSum ? 0x4242 : internetChecksum(b, 0, 0, hl);
    b[10] = ck >>> 8;
    b[11] = ck & 0xff;
    b.set(l4, hl);
    const eth = p.consistent ? { ...p.eth, dst: macFor(p.dst, p.eth.dst) } : p.eth;
    return ethernet(eth, 0x0800, b);
  });

const ipv6Arb = fc.record({ eth: ethArb, next: fc.oneof(fc.constantFrom(58, 17, 6, 0, 44), u8), src: bytes(16), dst: bytes(16), payload: bytes(64) }).map((p) => {
  const b = new Uint8Array(40 + p.payload.length);
  b[0] = 0x60;
  b[4] = p.payload.length >>> 8;
  b[5] = p.payload.length & 0xff;
  b[6] = p.next;
  b[7] = 255;
  b.set(p.src.length === 16 ? p.src : new Uint8Array(16), 8);
  b.set(p.dst.length === 16 ? p.dst : new Uint8Array(16), 24);
  b.set(p.payload, 40);
  return ethernet(p.eth, 0x86dd, b);
});

const otherTypeArb = fc.record({ eth: ethArb, type: u16, body: bytes(100) }).map((o) => ethernet(o.eth, o.type, o.body));

/** Cut a frame short somewhere (or not): parsers meet every truncation. */
function maybeTruncated(arb: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(arb, rarely(fc.nat())).map(([f, cut]) => (cut === null ? f : f.subarray(0, cut % (f.length + 1))));
}

export const randomFrameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 1600 }),
  // Random bytes behind an address the switch delivers, so they reach the guests' parsers.
  fc.tuple(fc.constantFrom(RTOS.mac, GPOS.mac, MAC_BROADCAST), fc.uint8Array({ minLength: 8, maxLength: 200 })).map(([dst, rest]) => {
    const f = new Uint8Array(6 + rest.length);
    writeMac(f, 0, dst);
    f.set(rest, 6);
    return f;
  }),
);
export const arpFrameArb = maybeTruncated(arpArb);
export const ipv4FrameArb = maybeTruncated(ipv4Arb);
export const anyFrameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: randomFrameArb },
  { weight: 3, arbitrary: arpFrameArb },
  { weight: 4, arbitrary: ipv4FrameArb },
  { weight: 1, arbitrary: maybeTruncated(ipv6Arb) },
  { weight: 1, arbitrary: otherTypeArb },
);
