// net/: the guests' network stack — one Ethernet interface with ARP, IPv4, ICMPv4 and UDP, and
// a registration API through which more protocols (TCP, IPv6/ICMPv6/NDP, DHCP) plug in.
// The same code runs in both guest OSes; each OS chooses what it installs.
//
// Contract:
// - Shape after smoltcp's iface/: ingress `process*`, egress `dispatch*`, timers in `poll()`
//   with `pollAt()` saying when. One file per protocol over the shared InterfaceInner
//   (iface.ts); NetStack (stack.ts) is the public face.
// - Pure: imports only ../wire/; no node:* module, no timers, no Date. Time is the injected
//   `now()` (monotonic µs); the OS layer calls poll() when pollAt() says.
// - Never throws on received bytes. Every received frame is either handled or dropped with a
//   named reason (counters.rxDropped, WireError details in rxMalformed); every outgoing drop
//   too (counters.txDropped). Throws only on a caller's bug (bad config, port in use or out of
//   range, a protocol or number registered twice).
// - Every queue is bounded: ARP cache (arpCacheMax, oldest evicted), packets per unresolved
//   address (arpPendingMax), unresolved addresses (arpPendingAddrMax, oldest evicted so a real
//   destination always resolves), ICMP errors (token bucket).
// - A careful host: frames longer than the MTU, to unjoined multicast MACs, or from a zero,
//   group or own MAC are dropped; nothing from a martian IPv4 source (0.0.0.0, broadcast,
//   multicast, loopback, 0/8, 240/4, our own address) is answered by anything; UDP port 0 is
//   dropped either way and sending never throws; ARP's sender MAC must be the Ethernet source;
//   a claim on our address is defended once per DEFEND_INTERVAL_US (RFC 5227 2.4), counted and
//   reported as a NetEvent (NetStack.onEvent). Reflector services use ReflectorGuard.
// - RFC 5227 probing (arp-probe.ts, NetStack.probeAddress / startProbe): ARP probes from 0.0.0.0
//   ask whether an address is in use before it is taken (boot, DHCP); the ARP state's timers
//   drive a probe and processArp feeds it every ARP packet; it reports available or conflict.
// - Frames are built once, with headroom (packet-buffer.ts): the payload is written at an
//   offset, each layer pushes its header in front; checksums are taken over ranges.
// - IPv4 fragments: reassembly bounded in datagrams and bytes with a deadline, any overlap
//   drops the datagram (reassembly.ts); datagrams larger than the MTU are sent as fragments.
// - TCP (tcp.ts): installed per OS with tcpProtocol(); state machine in TcpLayer.
// - IPv6 when the OS installs ipv6Protocol (ipv6.ts, ndp.ts): link-local from the MAC, DAD,
//   NS/NA with a bounded neighbour cache, SLAAC from router advertisements, ICMPv6 echo; groups
//   joined and addresses published through the NetDevice (subscribe, setAddresses).
// - DHCP client (dhcp.ts, RFC 2131) when the OS installs dhcpProtocol(): the address comes from
//   a lease, ARP-probed first (arp-probe.ts's RFC 5227 probe, startProbe).
// - Not here yet: IP options, IPv6 extension headers and MLD, a loopback device. Received payloads are views of the received frame: copy to keep.
//
// Adding a protocol (how tcp.ts, ipv6.ts, dhcp.ts plug in; see udp.ts and icmp.ts as examples):
// 1. State: a class implementing ProtocolState (pollAt()/poll(now): its timers; a state without
//    timers returns undefined and does nothing) and a key `export const TCP_SOCKETS = new
//    SocketKey<TcpSockets>('tcp')`. The socket set (inner.sockets / NetStack.sockets) holds one
//    state per protocol; find it with `inner.sockets.require(TCP_SOCKETS)`.
// 2. Ingress: a handler in a dispatch table (dispatch.ts). Above IPv4:
//    `inner.ipv4Protocols.register(IpProtocol.Tcp, processTcp)` with
//    `processTcp(inner, ip: Ipv4Packet, rx: RxMeta)`, called for packets processIpv4 accepted
//    (for us, not a fragment, source not a martian). A new EtherType:
//    `inner.etherTypes.register(EtherType.Ipv6, processIpv6)` with `(inner, frame, off, rx)`
//    (the payload is frame[off..]), called after the Ethernet checks (our MAC or a group MAC,
//    sane source, untagged). The frame, the Ipv4Packet view and `rx` are the receive path's,
//    re-pointed for the next frame: a handler that keeps anything copies it.
//    `rx.srcMac` is the Ethernet source, `rx.l2Group` says it came to a broadcast/multicast MAC.
//    Multicast MACs other than broadcast reach no handler until joined: NetStack.joinMulticastMac
//    (or inner.multicastMacs.add) for 33:33:00:00:00:01, a solicited-node group, ...
//    A handler ends every packet in exactly one of inner.handled() or inner.dropRx(reason)/
//    inner.malformed(err) (add new reasons to counters.ts), and never throws.
// 3. Egress: `const pb = PacketBuffer.alloc(payloadLen)` (MAX_HEADROOM in front),
//    write the payload into `pb.view()`, then `dispatchIpv4(inner, dst, proto, pb, { len,
//    emit(pb, src, dst) { const b = pb.push(len); ...write header, checksum over
//    pb.checksum(pseudo) or internetChecksum(buf, initial, start, end)... } })`; IPv4 and Ethernet
//    push theirs. A kept segment can pb.pull() its headers and push them again.
// 4. Module: `export const tcpProtocol: NetProtocol = { name: 'tcp', install(inner) { ...1 and 2 } }`,
//    exported here; the OS calls `net.install(tcpProtocol)` (gpos only, say). NetStack installs
//    arp, ipv4, icmp, udp itself; `net.protocols` lists what runs. poll()/pollAt() cover every
//    registered state, so the driver's timer already serves the new protocol's timers.

export { ArpCache } from './arp-cache.js';
export { ARP_STATE, ArpState, DEFEND_INTERVAL_US, startProbe } from './arp.js';
export { AddressProbe, RFC5227_TIMING, probeDurationUs, seededRandom } from './arp-probe.js';
export type { ProbeHost, ProbeOptions, ProbeOutcome, ProbeState, ProbeTiming } from './arp-probe.js';
export { DEFAULT_REASSEMBLY_LIMITS, Ipv4Reassembler, REASSEMBLY_DROP_REASONS } from './reassembly.js';
export type { ReassemblyDropReason, ReassemblyLimits, ReassemblyResult } from './reassembly.js';
export type { ArpCacheEntry } from './arp-cache.js';
export { RX_DROP_REASONS, TX_DROP_REASONS, newNetCounters } from './counters.js';
export type { DropReason, NetCounters, RxDropReason, TxDropReason } from './counters.js';
export { DispatchTable } from './dispatch.js';
export type { EtherTypeHandler, Ipv4ProtocolHandler, NetProtocol, RxMeta } from './dispatch.js';
export { ICMP_SOCKETS, IcmpSockets } from './icmp.js';
export type { EchoReplyHandler } from './icmp.js';
export { InterfaceInner } from './iface.js';
export type { MartianSrc, NetConfig, NetDevice, NetEvent } from './iface.js';
export { dispatchIpv4 } from './ipv4.js';
export type { L4Header } from './ipv4.js';
export { ETH_MIN_FRAME, MAX_HEADROOM, PacketBuffer } from './packet-buffer.js';
export { DEFAULT_REFLECTOR_LIMITS, REFLECTOR_PORTS, ReflectorGuard } from './reflector.js';
export type { ReflectorCounters, ReflectorLimits, ReflectorVerdict } from './reflector.js';
export { SocketKey, SocketSet } from './socket-set.js';
export type { ProtocolState } from './socket-set.js';
export { NetStack } from './stack.js';
export { DEFAULT_IPV6_CONFIG } from './ipv6-config.js';
export type { Ipv6Config } from './ipv6-config.js';
export { IPV6_SOCKETS, Ipv6Sockets } from './ipv6-iface.js';
export type { Ipv6AddrInfo, Ipv6AddrState } from './ipv6-iface.js';
export { ipv6Protocol } from './ipv6.js';
export { UDP_SOCKETS, UdpSockets } from './udp.js';
export { DHCP_CLIENT, DHCP_DROP_REASONS, DhcpClient, dhcpProtocol } from './dhcp.js';
export type { DhcpConfig, DhcpCounters, DhcpDropReason, DhcpLease, DhcpState } from './dhcp.js';
export type { UdpDatagram, UdpHandler, UdpSocket } from './udp.js';
export { TCP_DROP_REASONS, TCP_SOCKETS, TcpConnection, TcpLayer, processTcp, tcpProtocol } from './tcp.js';
export type { TcpCloseReason, TcpConfig, TcpCounters, TcpDropReason, TcpHandler, TcpIpLayer, TcpListenOptions, TcpListener, TcpState } from './tcp.js';
