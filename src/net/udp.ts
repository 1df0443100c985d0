// UDP over the interface: the port table (UdpSockets, this protocol's entry in the socket set),
// ingress processUdp (checksum verified, delivered to the bound socket or answered with port
// unreachable) and egress dispatchUdp (payload written once into a PacketBuffer, the UDP header
// pushed in front of it).

import { Icmpv4DstUnreachable, IpProtocol, UDP_HEADER_LEN, UdpPacket, copyBytes, emitUdpHeader, isWireError } from '../wire/index.js';
import type { Ipv4, Ipv4Packet, Mac } from '../wire/index.js';
import type { NetProtocol, RxMeta } from './dispatch.js';
import { dispatchIcmpUnreachable } from './icmp.js';
import type { InterfaceInner } from './iface.js';
import { IPV4_HEADROOM, dispatchIpv4 } from './ipv4.js';
import type { L4Header } from './ipv4.js';
import { PacketBuffer } from './packet-buffer.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

/** IANA's dynamic range (RFC 6335), where port 0 binds land. */
export const EPHEMERAL_FIRST = 49152;
export const EPHEMERAL_LAST = 65535;

export interface UdpDatagram {
  src: Ipv4;
  srcPort: number;
  dst: Ipv4;
  dstPort: number;
  /** Ethernet source of the frame (the sender, or the router or relay it came through). */
  srcMac: Mac;
  /** A view of the received frame: copy it if you keep it beyond the callback. */
  payload: Uint8Array;
}

export type UdpHandler = (d: UdpDatagram) => void;

/** A bound UDP port. Received datagrams go to the handler given to udpBind. */
export interface UdpSocket {
  readonly port: number;
  /** Send from this socket's port; false (counted) if it could not be sent or queued, or the socket is closed. */
  send(dst: Ipv4, dstPort: number, payload: Uint8Array): boolean;
  /** Release the port. Idempotent. */
  close(): void;
}

/** UDP's state in the socket set: bound ports and the next ephemeral port to try. No timers. */
export class UdpSockets implements ProtocolState {
  readonly ports = new Map<number, UdpHandler>();
  nextEphemeralPort = EPHEMERAL_FIRST;
  /** What dispatchUdp builds every datagram in (reset per datagram; see there). */
  readonly out = PacketBuffer.alloc(0, 0);
  readonly header = new UdpHeader();
  pollAt(): undefined {
    return undefined;
  }
  poll(): void {}
}

export const UDP_SOCKETS = new SocketKey<UdpSockets>('udp');

/** The UDP module: its port table in the socket set, its handler for IPv4 protocol 17. */
export const udpProtocol: NetProtocol = {
  name: 'udp',
  install(inner: InterfaceInner): void {
    inner.sockets.add(UDP_SOCKETS, new UdpSockets());
    inner.ipv4Protocols.register(IpProtocol.Udp, processUdp);
  },
};

function checkPort(what: string, port: number, min: number): void {
  if (!Number.isInteger(port) || port < min || port > 0xffff) throw new RangeError(`udp ${what} ${port} out of range ${min}..65535`);
}

class BoundUdpSocket implements UdpSocket {
  private open = true;

  constructor(
    private readonly inner: InterfaceInner,
    private readonly table: UdpSockets,
    readonly port: number,
    private readonly handler: UdpHandler,
  ) {}

  send(dst: Ipv4, dstPort: number, payload: Uint8Array): boolean {
    return this.open && dispatchUdp(this.inner, this.port, dst, dstPort, payload);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.table.ports.get(this.port) === this.handler) this.table.ports.delete(this.port);
  }
}

/** Bind `port` (0: the next free ephemeral port). Throws on a port in use or out of range: a caller's bug. */
export function udpBind(inner: InterfaceInner, port: number, handler: UdpHandler): UdpSocket {
  checkPort('port', port, 0);
  const t = inner.sockets.require(UDP_SOCKETS);
  let p = port;
  if (p === 0) {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    for (let i = 0; i < span && p === 0; i++) {
      const cand = t.nextEphemeralPort;
      t.nextEphemeralPort = cand === EPHEMERAL_LAST ? EPHEMERAL_FIRST : cand + 1;
      if (!t.ports.has(cand)) p = cand;
    }
    if (p === 0) throw new Error('udp: no free ephemeral port');
  } else if (t.ports.has(p)) {
    throw new Error(`udp port ${p} in use`);
  }
  // Each bind gets its own function identity so a stale socket's close() cannot unbind a successor.
  const h: UdpHandler = (d) => handler(d);
  t.ports.set(p, h);
  return new BoundUdpSocket(inner, t, p, h);
}

/** Ingress: one UDP datagram in a packet processIpv4 accepted. */
export function processUdp(inner: InterfaceInner, ip: Ipv4Packet, rx: RxMeta): void {
  const src = ip.srcAddr();
  const dst = ip.dstAddr();
  const u = UdpPacket.checked(ip.bytes, src, dst, ip.payloadStart(), ip.payloadEnd(), inner.rxViews()?.udp);
  if (isWireError(u)) return inner.malformed(u);
  const dstPort = u.dstPort();
  const srcPort = u.srcPort();
  // Port 0 is reserved (RFC 768 makes a zero source port "none"): nothing listens on it, and a
  // reply to it could not be sent. Dropped before any socket or ICMP error sees it.
  if (srcPort === 0 || dstPort === 0) return inner.dropRx('udp-port-zero');
  const handler = inner.sockets.require(UDP_SOCKETS).ports.get(dstPort);
  if (handler === undefined) {
    inner.counters.udpNoPort++;
    inner.dropRx('udp-no-port');
    dispatchIcmpUnreachable(inner, ip, rx.l2Group, Icmpv4DstUnreachable.PortUnreachable);
    return;
  }
  inner.counters.udpRx++;
  inner.handled();
  handler({ src, srcPort, dst, dstPort, srcMac: rx.srcMac, payload: u.payload() });
}

/**
 * Egress: one datagram from `srcPort` (1..65535) to `dstPort` (1..65535), to the next hop's MAC
 * `via` when given (no ARP: a DHCP RELEASE at shutdown). Never throws: a port
 * out of range (0 included) is a counted 'bad-port', everything else a counted false too.
 */
export function dispatchUdp(inner: InterfaceInner, srcPort: number, dst: Ipv4, dstPort: number, payload: Uint8Array, via?: Mac): boolean {
  if (!validPort(srcPort) || !validPort(dstPort)) return inner.dropTx('bad-port');
  const t = inner.sockets.require(UDP_SOCKETS);
  // One PacketBuffer and one header for every datagram: dispatchIpv4 emits the header before it
  // transmits and keeps neither, so a send nested in a transmit (stacks back to back) finds
  // them free again.
  const pb = t.out.reset(payload.length, UDP_HEADER_LEN + IPV4_HEADROOM, true);
  copyBytes(pb.buf, pb.start, payload, 0, payload.length);
  const h = t.header;
  h.srcPort = srcPort;
  h.dstPort = dstPort;
  const ok = dispatchIpv4(inner, dst, IpProtocol.Udp, pb, h, via);
  if (ok) inner.counters.udpTx++;
  return ok;
}

/** The UDP header dispatchIpv4 pushes in front of a datagram's payload (the ports set per send). */
class UdpHeader implements L4Header {
  readonly len = UDP_HEADER_LEN;
  srcPort = 0;
  dstPort = 0;

  emit(pb: PacketBuffer, src: Ipv4, dst: Ipv4): void {
    const off = pb.pushAt(UDP_HEADER_LEN);
    emitUdpHeader(pb.buf, off, pb.end, this.srcPort, this.dstPort, src, dst);
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 0xffff;
}
