// UDP over the interface: the port table, ingress processUdp (checksum verified, delivered to
// the bound socket or answered with port unreachable) and egress dispatchUdp.

import { Icmpv4DstUnreachable, IpProtocol, UDP_HEADER_LEN, UdpPacket, UdpRepr, isWireError } from '../wire/index.js';
import type { Ipv4, Ipv4Packet } from '../wire/index.js';
import { dispatchIcmpUnreachable } from './icmp.js';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST } from './iface.js';
import type { InterfaceInner, UdpHandler } from './iface.js';
import { dispatchIpv4 } from './ipv4.js';

/** A bound UDP port. Received datagrams go to the handler given to udpBind. */
export interface UdpSocket {
  readonly port: number;
  /** Send from this socket's port; false (counted) if it could not be sent or queued, or the socket is closed. */
  send(dst: Ipv4, dstPort: number, payload: Uint8Array): boolean;
  /** Release the port. Idempotent. */
  close(): void;
}

function checkPort(what: string, port: number, min: number): void {
  if (!Number.isInteger(port) || port < min || port > 0xffff) throw new RangeError(`udp ${what} ${port} out of range ${min}..65535`);
}

class BoundUdpSocket implements UdpSocket {
  private open = true;

  constructor(
    private readonly inner: InterfaceInner,
    readonly port: number,
    private readonly handler: UdpHandler,
  ) {}

  send(dst: Ipv4, dstPort: number, payload: Uint8Array): boolean {
    return this.open && dispatchUdp(this.inner, this.port, dst, dstPort, payload);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.inner.udpPorts.get(this.port) === this.handler) this.inner.udpPorts.delete(this.port);
  }
}

/** Bind `port` (0: the next free ephemeral port). Throws on a port in use or out of range: a caller's bug. */
export function udpBind(inner: InterfaceInner, port: number, handler: UdpHandler): UdpSocket {
  checkPort('port', port, 0);
  let p = port;
  if (p === 0) {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    for (let i = 0; i < span && p === 0; i++) {
      const cand = inner.nextEphemeralPort;
      inner.nextEphemeralPort = cand === EPHEMERAL_LAST ? EPHEMERAL_FIRST : cand + 1;
      if (!inner.udpPorts.has(cand)) p = cand;
    }
    if (p === 0) throw new Error('udp: no free ephemeral port');
  } else if (inner.udpPorts.has(p)) {
    throw new Error(`udp port ${p} in use`);
  }
  // Each bind gets its own function identity so a stale socket's close() cannot unbind a successor.
  const h: UdpHandler = (d) => handler(d);
  inner.udpPorts.set(p, h);
  return new BoundUdpSocket(inner, p, h);
}

/** Ingress: one UDP datagram in a packet processIpv4 accepted. `l2Group`: it came to a group MAC. */
export function processUdp(inner: InterfaceInner, ip: Ipv4Packet, l2Group: boolean): void {
  const src = ip.srcAddr();
  const dst = ip.dstAddr();
  const u = UdpPacket.checked(ip.payload(), src, dst);
  if (isWireError(u)) return inner.malformed(u);
  const dstPort = u.dstPort();
  const handler = inner.udpPorts.get(dstPort);
  if (handler === undefined) {
    inner.counters.udpNoPort++;
    inner.dropRx('udp-no-port');
    dispatchIcmpUnreachable(inner, ip, l2Group, Icmpv4DstUnreachable.PortUnreachable);
    return;
  }
  inner.counters.udpRx++;
  inner.handled();
  handler({ src, srcPort: u.srcPort(), dst, dstPort, payload: u.payload() });
}

/** Egress: one datagram. Ports out of range throw (a caller's bug); everything else is a counted false. */
export function dispatchUdp(inner: InterfaceInner, srcPort: number, dst: Ipv4, dstPort: number, payload: Uint8Array): boolean {
  checkPort('source port', srcPort, 0);
  checkPort('destination port', dstPort, 1);
  const repr = new UdpRepr(srcPort, dstPort);
  const ok = dispatchIpv4(inner, dst, IpProtocol.Udp, UDP_HEADER_LEN + payload.length, (l4, s, d) => {
    l4.set(payload, UDP_HEADER_LEN);
    repr.emit(l4, s, d);
  });
  if (ok) inner.counters.udpTx++;
  return ok;
}
