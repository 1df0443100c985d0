// Ingress dispatch tables: EtherType → handler and IPv4 protocol number → handler. The core
// checks Ethernet and IPv4 and then looks the next layer up here, so a protocol module (TCP,
// IPv6, ...) adds itself by registering a handler, never by editing a switch. A number with no
// handler is dropped and counted by the layer that looked it up ('unknown-ethertype', or
// 'unknown-protocol' plus an ICMP protocol unreachable).

import type { Ipv4Packet, Mac } from '../wire/index.js';
import type { InterfaceInner } from './iface.js';

/**
 * What the link layer knew about a received frame, passed up with its payload. The object is
 * the interface's, filled in again for the next frame: a handler that keeps a field copies it.
 */
export interface RxMeta {
  /** Ethernet source address (ARP checks its sender against it). */
  readonly srcMac: Mac;
  /** The frame came to a broadcast or multicast MAC (RFC 1122 3.3.6, no ICMP errors about it). */
  readonly l2Group: boolean;
}

/**
 * Handles one Ethernet payload of the EtherType it is registered for: frame[off..] (possibly
 * padded), given as the whole frame and an offset so that no view is made per frame. The frame
 * is the receive path's: a handler that keeps bytes past its call copies them.
 */
export type EtherTypeHandler = (inner: InterfaceInner, frame: Uint8Array, off: number, rx: RxMeta) => void;

/**
 * Handles one IPv4 packet that processIpv4 accepted (ours, not a fragment, sane source). The
 * view is the interface's, pointed at the next packet after the call: keep none of it.
 */
export type Ipv4ProtocolHandler = (inner: InterfaceInner, ip: Ipv4Packet, rx: RxMeta) => void;

/** A number → handler table; each number registered once. */
export class DispatchTable<H> {
  private readonly handlers = new Map<number, H>();

  constructor(readonly what: string) {}

  /** Register `handler` for `n`; throws if `n` already has one (two modules claiming it: a caller's bug). */
  register(n: number, handler: H): void {
    if (this.handlers.has(n)) throw new Error(`${this.what} ${n} already has a handler`);
    this.handlers.set(n, handler);
  }

  /** The handler for `n`, or undefined. */
  get(n: number): H | undefined {
    return this.handlers.get(n);
  }

  /** The registered numbers, in registration order. */
  numbers(): number[] {
    return [...this.handlers.keys()];
  }
}

/**
 * A protocol module: installs itself on an interface by registering its state in the socket
 * set (inner.sockets) and its ingress handlers in the dispatch tables (inner.etherTypes,
 * inner.ipv4Protocols). NetStack installs ARP, IPv4, ICMPv4 and UDP; an OS adds more with
 * NetStack.install().
 */
export interface NetProtocol {
  /** Short name shown in stats ("tcp", "ipv6", ...). */
  readonly name: string;
  install(inner: InterfaceInner): void;
}
