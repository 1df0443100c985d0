// Test doubles for code built on net/: a recording NetDevice, a manual clock, a wire between
// two stacks, and frame builders that use only wire/'s emitters (so a test's bytes are what a
// real peer would send, checksums included).

import {
  ARP_PACKET_LEN,
  ArpOperation,
  ArpRepr,
  MAC_BROADCAST,
  EtherType,
  EthernetRepr,
  IPV4_HEADER_LEN,
  IpProtocol,
  Ipv4Repr,
  UDP_HEADER_LEN,
  UdpRepr,
  emitIcmpv4,
  internetChecksum,
  parseIpv4,
  icmpv4ReprLen,
  IPV6_HEADER_LEN,
  Ipv6NextHeader,
  Ipv6Repr,
  emitIcmpv6,
  icmpv6ReprLen,
  EthernetFrame,
  Icmpv6Packet,
  Ipv6Packet,
  isWireError,
  parseIcmpv6Repr,
} from '../wire/index.js';
import type { Icmpv4Repr, Icmpv6Repr, IpAddr, Ipv4, Ipv6, Mac } from '../wire/index.js';
import type { NetConfig, NetDevice } from './iface.js';
import { NetStack } from './stack.js';

/** A NetDevice that keeps what it is given; set `accept = false` to play a full queue. */
/** The addresses the stack tests use: the stack under test, and the host it talks to. */
export const ip = (s: string): Ipv4 => parseIpv4(s)!;
export const OUR_MAC: Mac = 0x02_4e_53_00_00_0a;
export const OUR_IP: Ipv4 = ip('10.77.0.10');
export const PEER_MAC: Mac = 0x02_aa_bb_cc_dd_01;
export const PEER_IP: Ipv4 = ip('10.77.0.1');

export class RecordingDevice implements NetDevice {
  frames: Uint8Array[] = [];
  accept = true;
  /** Multicast MACs subscribed, and the address set last published. */
  readonly groups = new Set<Mac>();
  addresses: readonly IpAddr[] = [];
  /** Addresses the "nanokernel" refuses (another local guest holds them). */
  readonly refuse = new Set<IpAddr>();

  subscribe(group: Mac): void {
    this.groups.add(group);
  }

  unsubscribe(group: Mac): void {
    this.groups.delete(group);
  }

  setAddresses(addrs: readonly IpAddr[]): boolean {
    if (addrs.some((a) => this.refuse.has(a))) return false;
    this.addresses = [...addrs];
    return true;
  }

  transmit(frame: Uint8Array): boolean {
    if (!this.accept) return false;
    this.frames.push(frame);
    return true;
  }

  /** The frames sent since the last take(). */
  take(): Uint8Array[] {
    const out = this.frames;
    this.frames = [];
    return out;
  }
}

/** A monotonic µs clock moved by hand. */
export class ManualNow {
  t: number;
  constructor(start = 1_000_000) {
    this.t = start;
  }
  readonly now = (): number => this.t;
  advance(us: number): void {
    this.t += us;
  }
}

/** Frames from one end of a cable to a receiver, delivered when pumped (as a driver would, later). */
export class QueuedWire implements NetDevice {
  private queue: Uint8Array[] = [];
  sent = 0;
  constructor(private readonly deliver: (frame: Uint8Array) => void) {}

  transmit(frame: Uint8Array): boolean {
    this.queue.push(frame);
    this.sent++;
    return true;
  }

  /** Deliver everything queued; returns how many frames were delivered. */
  pump(): number {
    const q = this.queue;
    this.queue = [];
    for (const f of q) this.deliver(f);
    return q.length;
  }
}

function frameWith(ethDst: Mac, ethSrc: Mac, etherType: number, bodyLen: number, vlanId?: number): { frame: Uint8Array; body: Uint8Array } {
  const eth = new EthernetRepr(ethDst, ethSrc, etherType, vlanId);
  const hl = eth.bufferLen();
  const frame = new Uint8Array(Math.max(60, hl + bodyLen));
  eth.emit(frame);
  return { frame, body: frame.subarray(hl, hl + bodyLen) };
}

export function arpFrame(ethDst: Mac, ethSrc: Mac, repr: ArpRepr, vlanId?: number): Uint8Array {
  const { frame, body } = frameWith(ethDst, ethSrc, EtherType.Arp, ARP_PACKET_LEN, vlanId);
  repr.emit(body);
  return frame;
}

export interface Ipv4FrameOpts {
  ident?: number;
  ttl?: number;
  /** Raw flags+fragment-offset word to patch in (header checksum recomputed). */
  flagsFrag?: number;
  vlanId?: number;
}

/** An IPv4 frame with `l4` bytes as payload (already complete, checksum included). */
export function ipv4Frame(ethDst: Mac, ethSrc: Mac, src: Ipv4, dst: Ipv4, protocol: number, l4: Uint8Array, o: Ipv4FrameOpts = {}): Uint8Array {
  const { frame, body } = frameWith(ethDst, ethSrc, EtherType.Ipv4, IPV4_HEADER_LEN + l4.length, o.vlanId);
  body.set(l4, IPV4_HEADER_LEN);
  const repr = new Ipv4Repr(src, dst, protocol, l4.length, o.ttl ?? 64, o.ident ?? 0x1234, o.flagsFrag === undefined);
  repr.emit(body);
  if (o.flagsFrag !== undefined) {
    body[6] = o.flagsFrag >>> 8;
    body[7] = o.flagsFrag & 0xff;
    body[10] = 0;
    body[11] = 0;
    const ck = internetChecksum(body.subarray(0, IPV4_HEADER_LEN));
    body[10] = ck >>> 8;
    body[11] = ck & 0xff;
  }
  return frame;
}

/** One fragment of a datagram whose whole layer-4 bytes are `l4`: bytes [offset, offset+len), MF as given. */
export function fragmentFrame(src: Ipv4, protocol: number, l4: Uint8Array, offset: number, len: number, more: boolean, ident = 0x4242): Uint8Array {
  const flagsFrag = (more ? 0x2000 : 0) | (offset / 8);
  return ipv4Frame(OUR_MAC, PEER_MAC, src, OUR_IP, protocol, l4.subarray(offset, offset + len), { ident, flagsFrag });
}

/** An IPv6 frame carrying one ICMPv6 message (checksum over the pseudo-header). Hop limit 255 unless given. */
export function icmpv6Frame(ethDst: Mac, ethSrc: Mac, src: Ipv6, dst: Ipv6, r: Icmpv6Repr, hopLimit = 255): Uint8Array {
  const l4Len = icmpv6ReprLen(r);
  const { frame, body } = frameWith(ethDst, ethSrc, EtherType.Ipv6, IPV6_HEADER_LEN + l4Len);
  new Ipv6Repr(src, dst, Ipv6NextHeader.Icmpv6, l4Len, hopLimit).emit(body);
  emitIcmpv6(r, body.subarray(IPV6_HEADER_LEN), src, dst);
  return frame;
}

/** What a test sees of one sent IPv6 frame carrying ICMPv6: throws if any layer is malformed. */
export interface SentIcmpv6 {
  ethDst: Mac;
  src: Ipv6;
  dst: Ipv6;
  hopLimit: number;
  msg: Icmpv6Repr;
}

export function decodeIcmpv6(frames: Uint8Array[]): SentIcmpv6[] {
  return frames.map((f) => {
    const eth = EthernetFrame.checked(f);
    if (isWireError(eth)) throw new Error(eth.message);
    const ip = Ipv6Packet.checked(eth.payload());
    if (isWireError(ip)) throw new Error(ip.message);
    const m = Icmpv6Packet.checked(ip.payload(), ip.srcAddr(), ip.dstAddr());
    if (isWireError(m)) throw new Error(m.message);
    const msg = parseIcmpv6Repr(m);
    if (isWireError(msg)) throw new Error(msg.message);
    return { ethDst: eth.dstAddr(), src: ip.srcAddr(), dst: ip.dstAddr(), hopLimit: ip.hopLimit(), msg };
  });
}

/** One prefix information option of routerAdvert(): lifetimes in seconds, /64, on-link and autonomous unless said. */
export interface PrefixOpt {
  prefix: Ipv6;
  valid: number;
  preferred: number;
  len?: number;
  onLink?: boolean;
  autonomous?: boolean;
}

/** A router advertisement from PEER_MAC (its source link-layer option) with these prefixes. */
export function routerAdvert(prefixes: PrefixOpt[], routerLifetime = 1800): Extract<Icmpv6Repr, { kind: 'router-advert' }> {
  return {
    kind: 'router-advert',
    curHopLimit: 64,
    managed: false,
    other: false,
    routerLifetime,
    reachableTime: 0,
    retransTimer: 0,
    options: [
      { kind: 'source-lladdr', mac: PEER_MAC },
      ...prefixes.map((p) => ({
        kind: 'prefix-info' as const,
        prefixLen: p.len ?? 64,
        onLink: p.onLink ?? true,
        autonomous: p.autonomous ?? true,
        validLifetime: p.valid,
        preferredLifetime: p.preferred,
        prefix: p.prefix,
      })),
    ],
  };
}

export function icmpBytes(r: Icmpv4Repr): Uint8Array {
  const b = new Uint8Array(icmpv4ReprLen(r));
  emitIcmpv4(r, b);
  return b;
}

export function udpBytes(src: Ipv4, dst: Ipv4, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(UDP_HEADER_LEN + payload.length);
  b.set(payload, UDP_HEADER_LEN);
  new UdpRepr(srcPort, dstPort).emit(b, src, dst);
  return b;
}

export function udpFrame(ethDst: Mac, ethSrc: Mac, src: Ipv4, dst: Ipv4, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  return ipv4Frame(ethDst, ethSrc, src, dst, IpProtocol.Udp, udpBytes(src, dst, srcPort, dstPort, payload));
}

/** A stack at OUR_MAC / OUR_IP (a /24) on a recording device and a manual clock. */
export function newStack(extra: Partial<NetConfig> = {}): { dev: RecordingDevice; clock: ManualNow; stack: NetStack } {
  const dev = new RecordingDevice();
  const clock = new ManualNow();
  const stack = new NetStack({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 }, ...extra }, dev, clock.now);
  return { dev, clock, stack };
}

/** The same, having learnt the peer from its ARP request for us, as a host that is pinged has. */
export function stackKnowingPeer(extra: Partial<NetConfig> = {}): ReturnType<typeof newStack> {
  const s = newStack(extra);
  s.stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, OUR_IP)));
  s.dev.take();
  return s;
}
