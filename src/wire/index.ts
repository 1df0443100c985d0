// wire/: pure packet codecs — Ethernet (+802.1Q), ARP, IPv4, ICMPv4, UDP, TCP, VXLAN, IPv6,
// ICMPv6 with NDP, the Internet checksum.
//
// Contract:
// - Two levels per protocol (smoltcp style): a zero-copy view `XPacket.checked(bytes)` with
//   accessors named after the RFC fields, and a plain value `XRepr` with parse(view),
//   bufferLen() and emit(buf). Lengths (and checksums where cheap) are checked once, in checked().
// - Parsers never throw on hostile bytes: checked() returns the view or a WireError value with a
//   reason fit for a drop counter. Emitters throw RangeError only on a caller's bug (short buffer).
// - Unknown EtherType / IP protocol / ICMP type / ARP opcode is a number passed on, not an error.
// - Views use subarray, never slice. Addresses are plain numbers (see address.ts).
// - Imports nothing of ours and no node:* module; no state, no I/O, no clock.

export * from './address.js';
export * from './arp.js';
export * from './bytes.js';
export * from './checksum.js';
export * from './dhcp.js';
export * from './describe.js';
export * from './error.js';
export * from './ethernet.js';
export * from './icmpv4.js';
export * from './icmpv6.js';
export * from './ipv4.js';
export * from './tcp.js';
export * from './ipv6.js';
export * from './udp.js';
export * from './vxlan.js';
