// NetStack: the public face of one guest's interface. Ingress enters at processFrame (Ethernet
// checks, then ARP or IPv4 and its protocols); egress leaves through the NetDevice; timers run
// in poll(), and pollAt() says when.

import { ETHERNET_HEADER_LEN, EthernetFrame, MAC_BROADCAST, VLAN_TAG_LEN, isMulticastMac, isMulticastMacAt, isWireError, isZeroMacAt, sameMacAt } from '../wire/index.js';
import type { IpAddr, Ipv4, Ipv4Cidr, Mac } from '../wire/index.js';
import { arpProtocol, defendAddress, dispatchAnnouncement, startProbe } from './arp.js';
import type { AddressProbe, ProbeOptions } from './arp-probe.js';
import type { ArpCache } from './arp-cache.js';
import type { NetCounters } from './counters.js';
import type { NetProtocol } from './dispatch.js';
import { ICMP_SOCKETS, dispatchIcmpv4, icmpv4Protocol } from './icmp.js';
import type { EchoReplyHandler } from './icmp.js';
import { ETHERNET_SRC, InterfaceInner, RxFrame, RxScratch } from './iface.js';
import type { NetConfig, NetDevice, NetEvent } from './iface.js';
import { ipv4Protocol } from './ipv4.js';
import type { SocketSet } from './socket-set.js';
import { dispatchUdp, udpBind, udpProtocol } from './udp.js';
import type { UdpDatagram, UdpSocket } from './udp.js';

/** Ethernet header with one 802.1Q tag: a frame is at most the MTU plus this. */
const MAX_L2_HEADER = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;

/** What every stack runs: ARP, IPv4, ICMPv4, UDP. More are added with NetStack.install(). */
const BASE_PROTOCOLS: readonly NetProtocol[] = [arpProtocol, ipv4Protocol, icmpv4Protocol, udpProtocol];

/** One guest's IPv4 network stack on one Ethernet interface. */
export class NetStack {
  private readonly inner: InterfaceInner;

  private readonly installed: string[] = [];

  /** `now`: monotonic microseconds. Throws RangeError on an invalid config. */
  constructor(cfg: NetConfig, dev: NetDevice, now: () => number) {
    this.inner = new InterfaceInner(cfg, dev, now);
    for (const p of BASE_PROTOCOLS) this.install(p);
  }

  /**
   * Add a protocol module (see index.ts): it registers its state in the socket set and its
   * ingress handlers in the dispatch tables. Throws if it, or a number it claims, is taken.
   */
  install(p: NetProtocol): void {
    if (this.installed.includes(p.name)) throw new Error(`net: protocol ${p.name} already installed`);
    p.install(this.inner);
    this.installed.push(p.name);
  }

  /** Names of the installed protocols, in installation order (for stats and the ready line). */
  get protocols(): readonly string[] {
    return this.installed;
  }

  /** Every protocol's state, by key (UDP_SOCKETS, ICMP_SOCKETS, a new protocol's own key). */
  get sockets(): SocketSet {
    return this.inner.sockets;
  }

  get mac(): Mac {
    return this.inner.mac;
  }

  get ipv4(): Ipv4Cidr {
    return this.inner.cfg.ipv4;
  }

  /** The IPv4 address is still tentative (being probed, RFC 5227): see takeAddress(). */
  get tentative(): boolean {
    return this.inner.tentative;
  }

  /**
   * Take the configured IPv4 address after its probe found no one else on it: from now on it is
   * answered for, sent from and published to the device (the nanokernel's source checks).
   * Announcing it is the caller's (announce()). False if the device refused the address.
   */
  takeAddress(): boolean {
    this.inner.tentative = false;
    return this.inner.publishAddresses();
  }

  /** Named counters; see counters.ts for the invariant they keep. */
  get counters(): NetCounters {
    return this.inner.counters;
  }

  /** The neighbour cache, for inspection (entries(now)). */
  get arp(): ArpCache {
    return this.inner.arp;
  }

  /**
   * Ingress: the frames of one receive (one interrupt's worth), in order. Answers that can wait
   * for the batch's end do (TCP acknowledges the batch's segments once, not every second one).
   */
  processFrames(next: () => Uint8Array | undefined): number {
    let n = 0;
    this.inner.sockets.batch(true);
    try {
      for (let f = next(); f !== undefined; f = next()) {
        n++;
        this.processFrame(f);
      }
    } finally {
      this.inner.sockets.batch(false);
    }
    return n;
  }

  /** Ingress: one whole Ethernet frame (no FCS). Never throws on its bytes; every outcome is counted. */
  processFrame(frame: Uint8Array): void {
    const inner = this.inner;
    // The views and link-layer facts of a frame are the interface's scratch objects, re-pointed
    // per frame (see RxScratch); a frame that arrives while another is in hand (two stacks wired
    // back to back answer each other at once) gets its own.
    inner.rxDepth++;
    try {
      this.ingress(inner, frame, inner.rxViews());
    } finally {
      inner.rxDepth--;
    }
  }

  private ingress(inner: InterfaceInner, frame: Uint8Array, scratch: RxScratch | undefined): void {
    inner.counters.rxFrames++;
    inner.counters.rxBytes += frame.length;
    // A NIC with this MTU takes nothing longer (the link and the NIC drop them too; local
    // delivery from another guest does not pass them).
    if (frame.length > inner.cfg.mtu + MAX_L2_HEADER) return inner.dropRx('oversize');
    const f = EthernetFrame.checked(frame, scratch?.eth);
    if (isWireError(f)) return inner.malformed(f);
    // We are untagged. VID 0 is a priority tag only and means "this LAN" (802.1Q 9.6), so keep it.
    const vid = f.vlanId();
    if (vid !== undefined && vid !== 0) return inner.dropRx('vlan');
    // The MACs are compared where they lie in the frame (see RxFrame).
    const us = inner.ipv4Header;
    const l2Group = isMulticastMacAt(frame, 0);
    if (l2Group) {
      // Broadcast always; a multicast group only once joined (joinMulticastMac).
      if (!inner.acceptsGroup(f.dstAddr())) return inner.dropRx('multicast-not-joined');
    } else if (!sameMacAt(frame, 0, us, ETHERNET_SRC)) {
      return inner.dropRx('not-for-us');
    }
    // A group address cannot send, nor can no address; our own MAC as source is a loop or a MAC clash.
    if (isZeroMacAt(frame, ETHERNET_SRC) || isMulticastMacAt(frame, ETHERNET_SRC) || sameMacAt(frame, ETHERNET_SRC, us, ETHERNET_SRC)) return inner.dropRx('bad-src');
    const handler = inner.etherTypes.get(f.etherType());
    if (handler === undefined) return inner.dropRx('unknown-ethertype');
    let rx: RxFrame;
    if (scratch === undefined) rx = new RxFrame(frame, l2Group);
    else {
      rx = scratch.rx;
      rx.frame = frame;
      rx.l2Group = l2Group;
    }
    handler(inner, frame, f.headerLen(), rx);
  }

  /** Accept frames to multicast MAC `mac` (a protocol joining a group: IPv6's solicited-node, say). */
  joinMulticastMac(mac: Mac): void {
    if (isMulticastMac(mac) && mac !== MAC_BROADCAST) this.inner.multicastMacs.add(mac);
  }

  /** Stop accepting frames to multicast MAC `mac`. */
  leaveMulticastMac(mac: Mac): void {
    this.inner.multicastMacs.delete(mac);
  }

  /** Receive the stack's events (an ARP conflict, ...) to log; undefined: stop. Each is also counted. */
  onEvent(handler: ((e: NetEvent) => void) | undefined): void {
    this.inner.eventHandler = handler;
  }

  /** Run every protocol's due timers (ARP retries and give-ups, cache expiry, and whatever installed protocols schedule). */
  poll(): void {
    this.inner.sockets.poll(this.inner.now());
  }

  /** When poll() next has work (monotonic µs): the earliest of every protocol's timers, or undefined. */
  pollAt(): number | undefined {
    return this.inner.sockets.pollAt();
  }

  /** One gratuitous ARP announcement of our address (at boot, after an address change). */
  announce(): void {
    if (this.inner.addr !== 0) dispatchAnnouncement(this.inner);
  }

  /**
   * Ask the LAN whether anyone has `ip` (RFC 5227 2.1: ARP probes from 0.0.0.0, PROBE_NUM of
   * them, then ANNOUNCE_WAIT of silence); `opts.onDone` hears 'available' or 'conflict' once.
   * The probe only asks: taking the address and announcing it is the caller's.
   */
  probeAddress(ip: Ipv4, opts: ProbeOptions): AddressProbe {
    return startProbe(this.inner, ip, opts);
  }

  /**
   * Another host (`mac`) claims `ip`: evidence from below (the nanokernel dropped the claiming
   * frame at its switch, so the stack never saw it). If `ip` is our IPv4 address, defend it as
   * for a claim we received (RFC 5227 2.4: once per DEFEND_INTERVAL_US, counted, an event).
   * False if `ip` is not our address.
   */
  addressClaimed(ip: IpAddr, mac: Mac): boolean {
    const inner = this.inner;
    if (typeof ip !== 'number' || ip === 0 || ip !== inner.addr || mac === inner.mac) return false;
    defendAddress(inner, mac);
    return true;
  }

  /** Bind a UDP port (0: ephemeral, 49152..65535). Throws Error('udp port N in use') if taken. */
  udpBind(port: number, onDatagram: (d: UdpDatagram) => void): UdpSocket {
    return udpBind(this.inner, port, onDatagram);
  }

  /** Send one datagram from any source port; true if sent or queued behind ARP, false (counted) if dropped. */
  sendUdp(srcPort: number, dst: Ipv4, dstPort: number, payload: Uint8Array): boolean {
    return dispatchUdp(this.inner, srcPort, dst, dstPort, payload);
  }

  /** Send an ICMP echo request (ping); replies go to the handler set with onEchoReply. */
  sendEchoRequest(dst: Ipv4, ident: number, seqNo: number, data: Uint8Array): boolean {
    const ok = dispatchIcmpv4(this.inner, dst, { kind: 'echo-request', ident: ident & 0xffff, seqNo: seqNo & 0xffff, data });
    if (ok) this.inner.counters.icmpEchoRequestsTx++;
    return ok;
  }

  /** Receive echo replies addressed to us (undefined: stop; they are then dropped as 'unsupported'). */
  onEchoReply(handler: EchoReplyHandler | undefined): void {
    this.inner.sockets.require(ICMP_SOCKETS).echoReplyHandler = handler;
  }
}
