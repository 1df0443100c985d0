// Neighbor Discovery's timers and bounds (RFC 4861 section 10's constants, our bounds), apart
// from the IPv6 state so the interface's config can name them without importing the protocol.

export interface Ipv6Config {
  /** DAD solicitations per address (RFC 4862 DupAddrDetectTransmits), default 1. */
  dadTransmits: number;
  /** Time between solicitations, and DAD's wait (RFC 4861 RetransTimer), default 1 s. */
  retransUs: number;
  /** Neighbour entry lifetime, default 30 s (RFC 4861 ReachableTime; no NUD probing). */
  neighbourTtlUs: number;
  /** Entries in the neighbour cache, default 64; the oldest is evicted. */
  neighbourMax: number;
  /** Solicitations for one unresolved neighbour before its packets are dropped, default 3. */
  ndMaxSolicits: number;
  /** Addresses formed by SLAAC, default 4; prefixes on-link, default 8. */
  slaacMax: number;
  prefixMax: number;
  /** Router solicitations at start (RFC 4861 MAX_RTR_SOLICITATIONS 3, 4 s apart). */
  rsMax: number;
  rsIntervalUs: number;
}

export const DEFAULT_IPV6_CONFIG: Ipv6Config = {
  dadTransmits: 1,
  retransUs: 1_000_000,
  neighbourTtlUs: 30_000_000,
  neighbourMax: 64,
  ndMaxSolicits: 3,
  slaacMax: 4,
  prefixMax: 8,
  rsMax: 3,
  rsIntervalUs: 4_000_000,
};
