// NetStack: the public face of one guest's interface. Ingress enters at processFrame (Ethernet
// checks, then ARP or IPv4 and its protocols); egress leaves through the NetDevice; timers run
// in poll(), and pollAt() says when.

import { EtherType, EthernetFrame, Icmpv4DstUnreachable, IpProtocol, isMulticastMac, isWireError } from '../wire/index.js';
import type { Ipv4, Ipv4Cidr, Mac } from '../wire/index.js';
import { arpPollAt, dispatchAnnouncement, pollArp, processArp } from './arp.js';
import type { ArpCache } from './arp-cache.js';
import type { NetCounters } from './counters.js';
import { dispatchIcmpUnreachable, dispatchIcmpv4, processIcmpv4 } from './icmp.js';
import { InterfaceInner } from './iface.js';
import type { EchoReplyHandler, NetConfig, NetDevice, UdpDatagram } from './iface.js';
import { processIpv4 } from './ipv4.js';
import { dispatchUdp, processUdp, udpBind } from './udp.js';
import type { UdpSocket } from './udp.js';

/** One guest's IPv4 network stack on one Ethernet interface. */
export class NetStack {
  private readonly inner: InterfaceInner;

  /** `now`: monotonic microseconds. Throws RangeError on an invalid config. */
  constructor(cfg: NetConfig, dev: NetDevice, now: () => number) {
    this.inner = new InterfaceInner(cfg, dev, now);
  }

  get mac(): Mac {
    return this.inner.mac;
  }

  get ipv4(): Ipv4Cidr {
    return this.inner.cfg.ipv4;
  }

  /** Named counters; see counters.ts for the invariant they keep. */
  get counters(): NetCounters {
    return this.inner.counters;
  }

  /** The neighbour cache, for inspection (entries(now)). */
  get arp(): ArpCache {
    return this.inner.arp;
  }

  /** Ingress: one whole Ethernet frame (no FCS). Never throws on its bytes; every outcome is counted. */
  processFrame(frame: Uint8Array): void {
    const inner = this.inner;
    inner.counters.rxFrames++;
    inner.counters.rxBytes += frame.length;
    const f = EthernetFrame.checked(frame);
    if (isWireError(f)) return inner.malformed(f);
    // We are untagged. VID 0 is a priority tag only and means "this LAN" (802.1Q 9.6), so keep it.
    const vid = f.vlanId();
    if (vid !== undefined && vid !== 0) return inner.dropRx('vlan');
    const dst = f.dstAddr();
    const l2Group = isMulticastMac(dst);
    if (dst !== inner.mac && !l2Group) return inner.dropRx('not-for-us');
    const src = f.srcAddr();
    // A group address cannot send; our own MAC as source is a loop or a MAC clash.
    if (isMulticastMac(src) || src === inner.mac) return inner.dropRx('bad-src');
    switch (f.etherType()) {
      case EtherType.Arp:
        return processArp(inner, f.payload());
      case EtherType.Ipv4:
        return this.processIpv4(f.payload(), l2Group);
      default:
        return inner.dropRx('unknown-ethertype');
    }
  }

  private processIpv4(payload: Uint8Array, l2Group: boolean): void {
    const inner = this.inner;
    const ip = processIpv4(inner, payload, l2Group);
    if (ip === undefined) return;
    switch (ip.protocol()) {
      case IpProtocol.Icmp:
        return processIcmpv4(inner, ip);
      case IpProtocol.Udp:
        return processUdp(inner, ip, l2Group);
      default:
        // TCP included, until there is one: a host without the protocol says so (RFC 1122 3.2.2.1).
        inner.dropRx('unknown-protocol');
        return dispatchIcmpUnreachable(inner, ip, l2Group, Icmpv4DstUnreachable.ProtocolUnreachable);
    }
  }

  /** Run due timers: ARP retries and give-ups, cache expiry, reassembly deadlines. */
  poll(): void {
    const now = this.inner.now();
    pollArp(this.inner, now);
    this.inner.reassembly.expire(now);
  }

  /** When poll() next has work (monotonic µs), or undefined if nothing is scheduled. */
  pollAt(): number | undefined {
    const arp = arpPollAt(this.inner);
    const frag = this.inner.reassembly.pollAt();
    if (arp === undefined) return frag;
    return frag === undefined || arp < frag ? arp : frag;
  }

  /** One gratuitous ARP announcement of our address (at boot, after an address change). */
  announce(): void {
    dispatchAnnouncement(this.inner);
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
    this.inner.echoReplyHandler = handler;
  }
}
