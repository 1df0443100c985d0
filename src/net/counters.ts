// Named counters of one stack. Every frame that arrives ends in exactly one place: handled
// (`rxHandled`) or dropped with a named reason (`rxDropped`), so
// rxFrames === rxHandled + sum(rxDropped) holds after every processFrame().

/** Why a received frame was dropped. */
export const RX_DROP_REASONS = [
  'malformed', // a wire/ parser refused it; the WireError is counted in rxMalformed
  'not-for-us', // L2 or L3 destination not ours, or an ARP packet about other hosts
  'vlan', // 802.1Q-tagged with a non-zero VID: this interface is untagged
  'multicast-not-joined', // to a multicast MAC of a group we have not joined (broadcast is always taken)
  'oversize', // longer than the MTU plus the Ethernet and 802.1Q headers
  'unknown-ethertype', // no protocol registered for it (IPv6 on the rtos, LLC/802.3 length, ...)
  'bad-src', // Ethernet source cannot be a single host (a group MAC) or is our own; ARP sender MAC zero or group
  // IPv4 sources no single host can have (RFC 1122 3.2.1.3, Linux's martians): never answered.
  'src-unspecified', // 0.0.0.0
  'src-broadcast', // 255.255.255.255 or our subnet's directed broadcast
  'src-multicast', // 224/4
  'src-loopback', // 127/8
  'src-self', // our own address, from the wire: a loop or a spoofer
  'src-reserved', // 0/8 other than 0.0.0.0, 240/4
  'arp-sha-mismatch', // ARP sender MAC differs from the frame's Ethernet source
  'arp-conflict', // another MAC claims our IPv4 address (also in arpConflicts; defended per RFC 5227 2.4)
  'unsupported', // well-formed but not handled: ARP op other than request/reply, ICMP types we ignore
  // IPv4 fragments refused on arrival (reassembly.ts); a fragment that is held counts as handled,
  // and the one that completes a datagram carries the datagram's own outcome.
  'frag-overlap', // overlaps a fragment already held: the whole datagram is dropped (RFC 5722)
  'frag-bad-length', // a non-last fragment not a multiple of 8 bytes, or an empty one
  'frag-too-big', // would end past 65535 bytes
  'frag-conflict', // disagrees with the end the last fragment set
  'broadcast-echo', // echo request to a broadcast address (Linux's icmp_echo_ignore_broadcasts)
  'udp-no-port', // no socket bound to the destination port (also in udpNoPort)
  'udp-port-zero', // source or destination port 0: reserved, and a reply to it cannot be sent
  'unknown-protocol', // no handler registered for the IPv4 protocol, e.g. TCP on the rtos (answered with protocol unreachable), or an IPv6 next header we do not implement (extension headers included)
  'tcp', // refused by TCP: the named reason is in the TCP layer's counters (drops)
  // IPv6 and Neighbor Discovery (ipv6.ts, ndp.ts).
  'tentative', // addressed to an address still under duplicate address detection (RFC 4862 5.4) or RFC 5227 probing
  'multicast-echo', // echo request to a multicast group (no amplification, as for IPv4 broadcast)
  'nd-invalid', // NDP message failing RFC 4861's validity checks (hop limit not 255, bad source, ...)
  'nd-conflict', // another host advertises one of our preferred addresses (also in ndpConflicts)
  'nd-full', // more prefixes or autoconfigured addresses than we keep
] as const;
export type RxDropReason = (typeof RX_DROP_REASONS)[number];

/** Why an outgoing packet was dropped before reaching the device. */
export const TX_DROP_REASONS = [
  'no-route', // destination outside the subnet and no gateway (or an unroutable address)
  'too-big', // larger than the MTU with DF asked for, or than a datagram can be (65535)
  'arp-failed', // next hop did not answer arpMaxRequests requests
  'arp-queue-full', // more than arpPendingMax packets waiting for one address
  'arp-pending-evicted', // queued for the oldest of arpPendingAddrMax addresses being resolved, evicted for a new one
  'bad-port', // a datagram to or from port 0, or a port outside 0..65535
  'tx-full', // the device refused the frame (its queue is full)
  'tentative', // our IPv4 address is still being probed (RFC 5227): nothing is sent from it yet
  'nd-failed', // IPv6 next hop did not answer ndMaxSolicits solicitations
  'nd-queue-full', // more than arpPendingMax packets waiting for one IPv6 neighbour
  'nd-pending-full', // more than arpPendingAddrMax IPv6 neighbours being resolved at once
] as const;
export type TxDropReason = (typeof TX_DROP_REASONS)[number];

export type DropReason = RxDropReason | TxDropReason;

/** Plain object of named numbers; read it, never write it. */
export interface NetCounters {
  rxFrames: number;
  rxBytes: number;
  /** Frames consumed by the stack (answered, learned from, delivered to a socket). */
  rxHandled: number;
  rxDropped: Record<RxDropReason, number>;
  /** Malformed frames by "protocol:reason" of their WireError, e.g. "ipv4:bad-checksum". */
  rxMalformed: Record<string, number>;
  txFrames: number;
  txBytes: number;
  txDropped: Record<TxDropReason, number>;

  arpRequestsRx: number;
  arpRepliesRx: number;
  arpRequestsTx: number;
  arpRepliesTx: number;
  arpAnnouncementsTx: number;
  arpConflicts: number;
  /** Gratuitous ARPs sent to defend our address (RFC 5227 2.4: at most one per DEFEND_INTERVAL). */
  arpDefences: number;
  /** RFC 5227 probes sent (sender IP 0.0.0.0) to check an address before taking it. */
  arpProbesTx: number;

  ipv4Rx: number;
  ipv4Tx: number;
  /** Fragments received (every outcome). */
  ipv4FragmentsRx: number;
  /** Datagrams rebuilt from fragments and handed up. */
  ipv4Reassembled: number;
  /** Incomplete datagrams dropped at their deadline (fragments already counted as handled). */
  ipv4ReassemblyTimeouts: number;
  /** Incomplete datagrams dropped to make room (maxDatagrams, maxBytes). */
  ipv4ReassemblyEvicted: number;
  /** Datagrams larger than the MTU sent as fragments, and the fragments sent. */
  ipv4Fragmented: number;
  ipv4FragmentsTx: number;

  ipv6Rx: number;
  ipv6Tx: number;
  icmpv6EchoRequestsRx: number;
  icmpv6EchoRepliesTx: number;
  ndpSolicitsRx: number;
  ndpAdvertsRx: number;
  ndpRouterAdvertsRx: number;
  ndpSolicitsTx: number;
  ndpAdvertsTx: number;
  ndpRouterSolicitsTx: number;
  /** Addresses given up because duplicate address detection (or the nanokernel) found them in use. */
  dadFailures: number;
  /** Another host advertised one of our preferred IPv6 addresses. */
  ndpConflicts: number;

  icmpEchoRequestsRx: number;
  icmpEchoRepliesTx: number;
  icmpEchoRequestsTx: number;
  icmpEchoRepliesRx: number;
  icmpDstUnreachableTx: number;
  /** ICMP errors not sent because the token bucket was empty. */
  icmpErrorsRateLimited: number;

  udpRx: number;
  udpTx: number;
  udpNoPort: number;
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  const r = {} as Record<K, number>;
  for (const k of keys) r[k] = 0;
  return r;
}

export function newNetCounters(): NetCounters {
  return {
    rxFrames: 0,
    rxBytes: 0,
    rxHandled: 0,
    rxDropped: zeroes(RX_DROP_REASONS),
    rxMalformed: {},
    txFrames: 0,
    txBytes: 0,
    txDropped: zeroes(TX_DROP_REASONS),
    arpRequestsRx: 0,
    arpRepliesRx: 0,
    arpRequestsTx: 0,
    arpRepliesTx: 0,
    arpAnnouncementsTx: 0,
    arpConflicts: 0,
    arpDefences: 0,
    arpProbesTx: 0,
    ipv4Rx: 0,
    ipv4Tx: 0,
    ipv4FragmentsRx: 0,
    ipv4Reassembled: 0,
    ipv4ReassemblyTimeouts: 0,
    ipv4ReassemblyEvicted: 0,
    ipv4Fragmented: 0,
    ipv4FragmentsTx: 0,
    ipv6Rx: 0,
    ipv6Tx: 0,
    icmpv6EchoRequestsRx: 0,
    icmpv6EchoRepliesTx: 0,
    ndpSolicitsRx: 0,
    ndpAdvertsRx: 0,
    ndpRouterAdvertsRx: 0,
    ndpSolicitsTx: 0,
    ndpAdvertsTx: 0,
    ndpRouterSolicitsTx: 0,
    dadFailures: 0,
    ndpConflicts: 0,
    icmpEchoRequestsRx: 0,
    icmpEchoRepliesTx: 0,
    icmpEchoRequestsTx: 0,
    icmpEchoRepliesRx: 0,
    icmpDstUnreachableTx: 0,
    icmpErrorsRateLimited: 0,
    udpRx: 0,
    udpTx: 0,
    udpNoPort: 0,
  };
}
