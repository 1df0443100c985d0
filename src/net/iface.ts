// The interface's shared state (smoltcp's InterfaceInner): configuration with defaults
// applied, the device, the clock, counters, the ARP cache and pending queue (the neighbour
// cache is the interface's, as in smoltcp), the IPv4 ident, the ingress dispatch tables and the
// socket set where each protocol keeps its own state. Protocol files (arp.ts, ipv4.ts,
// icmp.ts, udp.ts) are functions over this state plus their own entry in the socket set;
// stack.ts is the public face.

import { ETHERNET_HEADER_LEN, EtherType, EthernetFrame, Icmpv4Packet, Ipv4Packet, MAC_BROADCAST, UdpPacket, emitEthernetHeader, isMulticastMac, prefixMask, readMac, subnetBroadcast } from '../wire/index.js';
import type { IpAddr, Ipv4, Ipv4Cidr, Mac, WireError } from '../wire/index.js';
import { ArpCache } from './arp-cache.js';
import { newNetCounters } from './counters.js';
import type { NetCounters, RxDropReason, TxDropReason } from './counters.js';
import { DEFAULT_REASSEMBLY_LIMITS, Ipv4Reassembler } from './reassembly.js';
import { DispatchTable } from './dispatch.js';
import type { EtherTypeHandler, Ipv4ProtocolHandler, RxMeta } from './dispatch.js';
import { SocketSet } from './socket-set.js';
import { DEFAULT_IPV6_CONFIG } from './ipv6-config.js';
import type { Ipv6Config } from './ipv6-config.js';

export interface NetConfig {
  mac: Mac;
  ipv4: Ipv4Cidr;
  gateway?: Ipv4;
  /** Entry lifetime, default 60 s. */
  arpTtlUs?: number;
  /** Time between requests for an unresolved address, default 1 s. */
  arpRetryUs?: number;
  /** Requests sent for one address before its queued packets are dropped ('arp-failed'), default 3. */
  arpMaxRequests?: number;
  /** Packets queued per unresolved address, default 4; more are dropped ('arp-queue-full'). */
  arpPendingMax?: number;
  /** Addresses being resolved at once, default 16; a new one evicts the oldest ('arp-pending-evicted'). */
  arpPendingAddrMax?: number;
  /** Entries in the ARP cache, default 256; the oldest is evicted. */
  arpCacheMax?: number;
  /** IP MTU, default 1500; larger datagrams are sent as fragments. */
  mtu?: number;
  /** IPv4 datagrams in reassembly at once, default 16; a new one evicts the oldest. */
  fragMaxDatagrams?: number;
  /** Fragment payload bytes held for reassembly, default 256 KiB (at least 65535). */
  fragMaxBytes?: number;
  /** An incomplete datagram is dropped this long after its first fragment, default 30 s. */
  fragTimeoutUs?: number;
  /** Neighbor Discovery timers and bounds when IPv6 is installed (see DEFAULT_IPV6_CONFIG). */
  nd?: Partial<Ipv6Config>;
  /**
   * Start with the IPv4 address tentative (RFC 5227: being probed): not answered for, not sent
   * from, not published to the device, until NetStack.takeAddress(). Default false.
   */
  tentative?: boolean;
  /** ICMP error token bucket: at most this many back to back, default 10. */
  icmpErrorBurst?: number;
  /** ICMP error token bucket: one token back every this many µs, default 100 ms. */
  icmpErrorIntervalUs?: number;
}

/** What sits below the stack: the guest's virtual NIC driver. */
export interface NetDevice {
  /** Hand over one whole Ethernet frame (no FCS); false if the device dropped it. */
  transmit(frame: Uint8Array): boolean;
  /** Receive frames sent to this multicast MAC (IPv6's all-nodes and solicited-node groups). */
  subscribe?(group: Mac): void;
  unsubscribe?(group: Mac): void;
  /** The addresses we now use as sources; false if the device refuses them (another local host holds one). */
  setAddresses?(addrs: readonly IpAddr[]): boolean;
}

export type ResolvedConfig = Required<Omit<NetConfig, 'gateway' | 'nd' | 'tentative'>> & { gateway: Ipv4 | undefined; nd: Ipv6Config };

const SECOND = 1_000_000;
/** Where the source MAC is in an Ethernet header. */
export const ETHERNET_SRC = 6;

function resolveConfig(c: NetConfig): ResolvedConfig {
  const r: ResolvedConfig = {
    mac: c.mac,
    ipv4: { addr: c.ipv4.addr >>> 0, prefixLen: c.ipv4.prefixLen },
    gateway: c.gateway === undefined ? undefined : c.gateway >>> 0,
    arpTtlUs: c.arpTtlUs ?? 60 * SECOND,
    arpRetryUs: c.arpRetryUs ?? SECOND,
    arpMaxRequests: c.arpMaxRequests ?? 3,
    arpPendingMax: c.arpPendingMax ?? 4,
    arpPendingAddrMax: c.arpPendingAddrMax ?? 16,
    arpCacheMax: c.arpCacheMax ?? 256,
    mtu: c.mtu ?? 1500,
    fragMaxDatagrams: c.fragMaxDatagrams ?? DEFAULT_REASSEMBLY_LIMITS.maxDatagrams,
    fragMaxBytes: c.fragMaxBytes ?? DEFAULT_REASSEMBLY_LIMITS.maxBytes,
    fragTimeoutUs: c.fragTimeoutUs ?? DEFAULT_REASSEMBLY_LIMITS.timeoutUs,
    nd: { ...DEFAULT_IPV6_CONFIG, ...c.nd },
    icmpErrorBurst: c.icmpErrorBurst ?? 10,
    icmpErrorIntervalUs: c.icmpErrorIntervalUs ?? SECOND / 10,
  };
  const bad = (what: string): never => {
    throw new RangeError(`NetConfig: ${what}`);
  };
  if (!Number.isInteger(r.mac) || r.mac <= 0 || r.mac > 0xffff_ffff_ffff || isMulticastMac(r.mac)) bad('mac must be a unicast MAC');
  if (!Number.isInteger(r.ipv4.prefixLen) || r.ipv4.prefixLen < 0 || r.ipv4.prefixLen > 32) bad('prefixLen must be 0..32');
  if (!(r.arpRetryUs > 0)) bad('arpRetryUs must be > 0');
  if (!(r.icmpErrorIntervalUs > 0)) bad('icmpErrorIntervalUs must be > 0');
  for (const k of ['arpMaxRequests', 'arpPendingMax', 'arpPendingAddrMax', 'icmpErrorBurst'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) bad(`${k} must be an integer >= 1`);
  }
  if (!Number.isInteger(r.mtu) || r.mtu < 68 || r.mtu > 9000) bad('mtu must be 68..9000');
  if (!(r.nd.retransUs > 0) || !(r.nd.neighbourTtlUs > 0) || !(r.nd.rsIntervalUs > 0)) bad('nd timers must be > 0');
  for (const k of ['dadTransmits', 'neighbourMax', 'ndMaxSolicits', 'slaacMax', 'prefixMax'] as const) {
    if (!Number.isInteger(r.nd[k]) || r.nd[k] < 1) bad(`nd.${k} must be an integer >= 1`);
  }
  return r;
}

/** The rx drop reasons of martianSrc(). */
export type MartianSrc = Extract<RxDropReason, `src-${string}`>;

/** Something the stack saw that the OS may log (each also counted). */
export type NetEvent =
  | {
      /** Another host claims our address (RFC 5227); `defended`: we answered with a gratuitous ARP. */
      readonly kind: 'arp-conflict';
      readonly ip: Ipv4;
      readonly mac: Mac;
      readonly defended: boolean;
      readonly at: number;
    }
  | {
      /** The DHCP client changed state (bound, renewing, rebinding, init after expiry or NAK), or declined `addr` (`reason`). */
      readonly kind: 'dhcp';
      readonly state: string;
      readonly addr: Ipv4;
      readonly server: Ipv4;
      readonly reason?: string;
      readonly at: number;
    };

/** Packets waiting for one next hop's MAC. */
export interface PendingResolution {
  /** Whole frames, built at final size; only the destination MAC is left to write. */
  frames: Uint8Array[];
  requestsSent: number;
  nextRetryAt: number;
}

/**
 * The objects a received frame is looked at through (views of its bytes, its link-layer facts),
 * re-pointed per frame so the receive path makes none per frame. Valid while the frame is in
 * hand only: a handler keeps none of them, and copies what it keeps.
 */
export class RxScratch {
  readonly eth = EthernetFrame.scratch();
  readonly ipv4 = Ipv4Packet.scratch();
  readonly icmpv4 = Icmpv4Packet.scratch();
  readonly udp = UdpPacket.scratch();
  readonly rx = new RxFrame(EMPTY_FRAME, false);
}

const EMPTY_FRAME = new Uint8Array(ETHERNET_HEADER_LEN);

/**
 * RxMeta of a received frame, its source MAC read from the frame only when a handler asks (a
 * MAC above 2^31 is a heap object once it crosses a call, and most handlers never ask).
 */
export class RxFrame implements RxMeta {
  constructor(
    /** The frame whose Ethernet header this describes. */
    public frame: Uint8Array,
    public l2Group: boolean,
  ) {}

  get srcMac(): Mac {
    return readMac(this.frame, ETHERNET_SRC);
  }
}

export class InterfaceInner {
  readonly cfg: ResolvedConfig;
  /**
   * The Ethernet header of an IPv4 frame from us, destination zero: copied per frame, no MAC
   * passed as a number (Linux's hh_cache, one per interface). Our MAC is its bytes
   * [ETHERNET_SRC, ETHERNET_SRC + 6), where a received frame's destination is compared with it.
   */
  readonly ipv4Header = new Uint8Array(ETHERNET_HEADER_LEN);
  readonly counters: NetCounters = newNetCounters();
  readonly arp: ArpCache;
  readonly reassembly: Ipv4Reassembler;
  readonly pending = new Map<Ipv4, PendingResolution>();
  /** Each protocol's own state (UDP ports, ICMP, ARP timers, ...), see socket-set.ts. */
  readonly sockets = new SocketSet();
  /** Ingress by EtherType, see dispatch.ts. */
  readonly etherTypes = new DispatchTable<EtherTypeHandler>('EtherType');
  /** Ingress by IPv4 protocol number, see dispatch.ts. */
  readonly ipv4Protocols = new DispatchTable<Ipv4ProtocolHandler>('IPv4 protocol');
  /** Multicast MACs this interface accepts besides broadcast (joined by IPv6/NDP, say). */
  readonly multicastMacs = new Set<Mac>();
  eventHandler: ((e: NetEvent) => void) | undefined;
  /** Protocols that give the interface addresses (IPv6, DHCP) list them here, for publishAddresses(). */
  readonly addressSources: Array<() => readonly IpAddr[]> = [];
  /**
   * While set, a unicast UDP datagram to this port is taken whatever its destination address:
   * a DHCP client before its lease (servers unicast OFFER and ACK to the offered address and
   * our MAC, RFC 2131 4.1). The DHCP client checks xid and chaddr.
   */
  anyDstUdpPort: number | undefined;
  /** Frames in hand: processFrame nests when two stacks wired back to back answer each other at once. */
  rxDepth = 0;
  private readonly rxScratch = new RxScratch();
  private ident = 0;
  /** The IPv4 address is still being probed (RFC 5227): `addr` is 0.0.0.0 until it is taken. */
  tentative: boolean;
  private seed: number;

  constructor(
    cfg: NetConfig,
    readonly dev: NetDevice,
    readonly now: () => number,
  ) {
    this.cfg = resolveConfig(cfg);
    this.tentative = cfg.tentative === true;
    emitEthernetHeader(this.ipv4Header, 0, 0, this.cfg.mac, EtherType.Ipv4);
    // Not a cryptographic source: it spreads probe and retransmission times and picks DHCP
    // xids, so two guests (different MACs) booted at once do not move in step.
    this.seed = (Math.floor(cfg.mac / 0x1_0000) ^ (cfg.mac & 0xffff) * 0x9e37 ^ Math.floor(now())) >>> 0 || 0x9e3779b9;
    this.arp = new ArpCache(this.cfg.arpTtlUs, this.cfg.arpCacheMax);
    this.reassembly = new Ipv4Reassembler({
      maxDatagrams: this.cfg.fragMaxDatagrams,
      maxBytes: this.cfg.fragMaxBytes,
      timeoutUs: this.cfg.fragTimeoutUs,
    }, this.counters);
  }

  get mac(): Mac {
    return this.cfg.mac;
  }

  /**
   * The scratch views for the frame in hand, or undefined (make new ones) when it is not the
   * outermost one: a nested frame must not re-point the views its caller is still reading.
   */
  rxViews(): RxScratch | undefined {
    return this.rxDepth === 1 ? this.rxScratch : undefined;
  }
  /** Our IPv4 address, or 0 while it is tentative: nothing answers for it or sends from it. */
  get addr(): Ipv4 {
    return this.tentative ? 0 : this.cfg.ipv4.addr;
  }

  /** The subnet's directed broadcast, or undefined for /31 and /32 which have none (RFC 3021). */
  get subnetBroadcast(): Ipv4 | undefined {
    return this.cfg.ipv4.prefixLen <= 30 ? subnetBroadcast(this.cfg.ipv4) : undefined;
  }

  /** 255.255.255.255 or our subnet's directed broadcast. */
  isBroadcast(ip: Ipv4): boolean {
    return ip === 0xffff_ffff || ip === this.subnetBroadcast;
  }

  /**
   * Why `ip` cannot be the source of a datagram from another host on this link, or undefined if
   * it can (RFC 1122 3.2.1.3, Linux's martians). Nothing from such a source is ever answered.
   */
  martianSrc(ip: Ipv4): MartianSrc | undefined {
    if (ip === 0) return 'src-unspecified';
    if (ip === 0xffff_ffff || ip === this.subnetBroadcast) return 'src-broadcast';
    if (ip === this.addr) return 'src-self';
    const top = ip >>> 24;
    if (top === 127) return 'src-loopback';
    if (top >= 224 && top < 240) return 'src-multicast';
    if (top === 0 || top >= 240) return 'src-reserved';
    return undefined;
  }

  /** Broadcast, or a multicast MAC this interface has joined. */
  acceptsGroup(mac: Mac): boolean {
    return mac === MAC_BROADCAST || this.multicastMacs.has(mac);
  }

  /** Tell whoever listens (NetStack.onEvent) something the OS may want to log. */
  emit(e: NetEvent): void {
    this.eventHandler?.(e);
  }

  inSubnet(ip: Ipv4): boolean {
    const m = prefixMask(this.cfg.ipv4.prefixLen);
    return ((this.addr & m) >>> 0) === ((ip & m) >>> 0);
  }

  /** A number in [0, 1) (xorshift32). */
  random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 0x1_0000_0000;
  }

  nextIdent(): number {
    const id = this.ident;
    this.ident = (this.ident + 1) & 0xffff;
    return id;
  }

  /**
   * Tell the device every address we use as a source now (the IPv4 address and whatever the
   * addressSources give), so the nanokernel's source checks follow DHCP, SLAAC and DAD.
   * False when the device refused the set (another local host holds one of them).
   */
  publishAddresses(): boolean {
    const dev = this.dev;
    if (dev.setAddresses === undefined) return true;
    const addrs: IpAddr[] = [];
    if (this.addr !== 0) addrs.push(this.addr);
    for (const src of this.addressSources) addrs.push(...src());
    return dev.setAddresses(addrs);
  }

  /** Hand a finished frame to the device, counting the outcome. */
  transmit(frame: Uint8Array): boolean {
    if (!this.dev.transmit(frame)) {
      this.counters.txDropped['tx-full']++;
      return false;
    }
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    return true;
  }

  dropRx(reason: RxDropReason): void {
    this.counters.rxDropped[reason]++;
  }

  dropTx(reason: TxDropReason, n = 1): false {
    this.counters.txDropped[reason] += n;
    return false;
  }

  malformed(e: WireError): void {
    this.counters.rxDropped.malformed++;
    const key = `${e.protocol}:${e.reason}`;
    this.counters.rxMalformed[key] = (this.counters.rxMalformed[key] ?? 0) + 1;
  }

  handled(): void {
    this.counters.rxHandled++;
  }
}
