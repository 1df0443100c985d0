// net/: the guests' network stack — one Ethernet interface with ARP, IPv4, ICMPv4 and UDP.
// The same code runs in both guest OSes.
//
// Contract:
// - Shape after smoltcp's iface/: ingress `process*` (processFrame → processArp / processIpv4 →
//   processIcmpv4 / processUdp), egress `dispatch*`, timers in `poll()` with `pollAt()` saying
//   when. One file per protocol over the shared InterfaceInner (iface.ts); NetStack (stack.ts)
//   is the public face.
// - Pure: imports only ../wire/; no node:* module, no timers, no Date. Time is the injected
//   `now()` (monotonic µs); the OS layer calls poll() when pollAt() says.
// - Never throws on received bytes. Every received frame is either handled or dropped with a
//   named reason (counters.rxDropped, WireError details in rxMalformed); every outgoing drop
//   too (counters.txDropped). Throws only on a caller's bug (bad config, port in use or out of range).
// - Every queue is bounded: ARP cache (arpCacheMax, oldest evicted), packets per unresolved
//   address (arpPendingMax), unresolved addresses (arpPendingAddrMax), ICMP errors (token bucket).
// - Frames are built once at final size: one Uint8Array, each layer emitted into its subarray.
// - IPv4 fragments: reassembly bounded in datagrams and bytes with a deadline, any overlap
//   drops the datagram (reassembly.ts); datagrams larger than the MTU are sent as fragments.
// - Not here: IP options, TCP, DHCP, IPv6, multicast groups,
//   a loopback device. Received payloads are views of the received frame: copy to keep.

export { ArpCache } from './arp-cache.js';
export { DEFAULT_REASSEMBLY_LIMITS, Ipv4Reassembler, REASSEMBLY_DROP_REASONS } from './reassembly.js';
export type { ReassemblyDropReason, ReassemblyLimits, ReassemblyResult } from './reassembly.js';
export type { ArpCacheEntry } from './arp-cache.js';
export { RX_DROP_REASONS, TX_DROP_REASONS, newNetCounters } from './counters.js';
export type { DropReason, NetCounters, RxDropReason, TxDropReason } from './counters.js';
export type { EchoReplyHandler, NetConfig, NetDevice, UdpDatagram, UdpHandler } from './iface.js';
export { NetStack } from './stack.js';
export type { UdpSocket } from './udp.js';
