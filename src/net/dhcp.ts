// The DHCP client (RFC 2131 section 4.4) of one interface, kept small so the rtos can run it:
// INIT -> SELECTING (DISCOVER, first OFFER taken) -> REQUESTING (REQUEST) -> PROBING (the offered
// address ARP-probed per RFC 5227, arp-probe.ts) -> BOUND (address set, published to the
// nanokernel's address set, announced) -> RENEWING at T1 (REQUEST unicast to the server) ->
// REBINDING at T2 (REQUEST broadcast) -> the lease expires: the address is dropped and the
// client starts again. A NAK sends it back to INIT; a conflict found by the probe (or an address
// the nanokernel refuses) is DECLINEd, then INIT after 10 s (RFC 2131 3.1.5). stop() RELEASEs.
// Retransmissions back off 4, 8, 16, 32, 64 s, each +-1 s (RFC 2131 4.1). Every reply is
// someone else's choice: wrong port, xid or chaddr, a malformed option, an offer of an address no
// host can have, a server other than the one chosen: each dropped and counted by name.

import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessageType, DhcpOp, DhcpPacket, dhcpReprLen, emitDhcp, isWireError, parseDhcpRepr, prefixMask } from '../wire/index.js';
import type { DhcpRepr, Ipv4, Mac } from '../wire/index.js';
import { dispatchAnnouncement, startProbe } from './arp.js';
import type { AddressProbe, ProbeOutcome, ProbeTiming } from './arp-probe.js';
import type { NetProtocol } from './dispatch.js';
import type { InterfaceInner } from './iface.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';
import { dispatchUdp, udpBind } from './udp.js';
import type { UdpDatagram } from './udp.js';

export type DhcpState = 'init' | 'selecting' | 'requesting' | 'probing' | 'bound' | 'renewing' | 'rebinding' | 'stopped';

export interface DhcpConfig {
  /** Option 12: the name the server may put in its DNS (a real client sends its hostname). */
  hostName?: string;
  /** First retransmission wait, doubled up to maxRetransUs, each +-1 s (RFC 2131 4.1: 4 s and 64 s). */
  retransUs?: number;
  maxRetransUs?: number;
  /** REQUESTs sent in REQUESTING before starting over with a DISCOVER, default 4. */
  requestTries?: number;
  /** Wait after a DECLINE before starting over, default 10 s (RFC 2131 3.1.5). */
  declineWaitUs?: number;
  /** A shorter lease is taken as this long (a hostile 0 s lease would spin), default 20 s. */
  minLeaseS?: number;
  /** The probe of the offered address (RFC 5227's timings by default). */
  probe?: Partial<ProbeTiming>;
}

const SECOND = 1_000_000;
const INFINITE_LEASE = 0xffff_ffff;
/** RFC 2131 4.4.5: in RENEWING and REBINDING, wait half the time left, but at least 60 s. */
const MIN_RENEW_RETRANS_US = 60 * SECOND;
/** Options we ask for: subnet mask, router, lease time, server id, T1, T2. */
const PARAMS = [1, 3, 51, 54, 58, 59];

/** Why a received DHCP message was dropped (each a counter). */
export const DHCP_DROP_REASONS = [
  'malformed', // the wire parser refused it (length, cookie, option framing or an option's length)
  'not-server', // not from port 67, or not a BOOTREPLY
  'wrong-xid', // not the transaction we are in
  'wrong-chaddr', // for another client's hardware address
  'unexpected', // a type or message this state does not take (an ACK while selecting, ...)
  'wrong-server', // from a server other than the one we chose
  'bad-address', // an address no host can have (0, broadcast, multicast, loopback, class E, the subnet's own), a bad mask
] as const;
export type DhcpDropReason = (typeof DHCP_DROP_REASONS)[number];

export interface DhcpCounters {
  discoversTx: number;
  requestsTx: number;
  declinesTx: number;
  releasesTx: number;
  offersRx: number;
  acksRx: number;
  naksRx: number;
  /** Leases taken (first bind and every renewal or rebinding). */
  leases: number;
  expiries: number;
  conflicts: number;
  drops: Record<DhcpDropReason, number>;
}

/** The lease as stats show it (times monotonic µs). */
export interface DhcpLease {
  addr: Ipv4;
  prefixLen: number;
  server: Ipv4;
  /** The Ethernet source of the server's last ACK (the server, or its relay): where RELEASE goes. */
  serverMac: Mac;
  router: Ipv4 | undefined;
  leaseTimeS: number;
  /** Monotonic µs, undefined for an infinite lease. */
  t1At: number | undefined;
  t2At: number | undefined;
  expiresAt: number | undefined;
}

interface Offer {
  readonly addr: Ipv4;
  readonly server: Ipv4;
}

export class DhcpClient implements ProtocolState {
  state: DhcpState = 'stopped';
  lease: DhcpLease | undefined;
  readonly counters: DhcpCounters = {
    discoversTx: 0, requestsTx: 0, declinesTx: 0, releasesTx: 0, offersRx: 0, acksRx: 0, naksRx: 0, leases: 0, expiries: 0, conflicts: 0,
    drops: Object.fromEntries(DHCP_DROP_REASONS.map((r) => [r, 0])) as Record<DhcpDropReason, number>,
  };
  private readonly cfg: Required<DhcpConfig>;
  private xid = 0;
  /** When this exchange began (the secs field), its retransmissions so far, and the next timer. */
  private exchangeStart = 0;
  private tries = 0;
  private timerAt: number | undefined;
  private offer: Offer | undefined;
  private probe: AddressProbe | undefined;
  private readonly clientId: Uint8Array;

  constructor(private readonly inner: InterfaceInner, cfg: DhcpConfig = {}) {
    this.cfg = {
      hostName: cfg.hostName ?? '',
      retransUs: cfg.retransUs ?? 4 * SECOND,
      maxRetransUs: cfg.maxRetransUs ?? 64 * SECOND,
      requestTries: cfg.requestTries ?? 4,
      declineWaitUs: cfg.declineWaitUs ?? 10 * SECOND,
      minLeaseS: cfg.minLeaseS ?? 20,
      probe: cfg.probe ?? {},
    };
    // Option 61 as Linux clients send it: hardware type 1 (Ethernet), then the MAC.
    const m = inner.mac;
    this.clientId = Uint8Array.of(1, Math.floor(m / 2 ** 40) & 0xff, Math.floor(m / 2 ** 32) & 0xff, (m >>> 24) & 0xff, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff);
    // The leased address becomes the interface's own (inner.addr), published with it.
    udpBind(inner, DHCP_CLIENT_PORT, (d) => this.process(d));
  }

  /** Begin (at boot): a DISCOVER now. Idempotent while running. */
  start(): void {
    if (this.state === 'stopped') this.discover();
  }

  /**
   * RELEASE a held lease and stop; nothing more is sent. The RELEASE goes unicast to the MAC the
   * server's ACK came from (no ARP round trip at shutdown). The interface drops the address, but
   * the nanokernel's address set is left as it is: the RELEASE just queued still has to pass its
   * source check, and a machine stop or a guest reboot resets the set anyway.
   */
  stop(): void {
    const l = this.lease;
    if (l !== undefined && (this.state === 'bound' || this.state === 'renewing' || this.state === 'rebinding')) {
      this.xid = this.newXid();
      this.exchangeStart = this.inner.now();
      if (this.send(l.server, { messageType: DhcpMessageType.Release, ciaddr: l.addr, serverId: l.server }, l.serverMac)) this.counters.releasesTx++;
    }
    this.probe?.cancel();
    this.probe = undefined;
    if (l !== undefined && this.inner.addr === l.addr) this.inner.cfg.ipv4 = { addr: 0, prefixLen: 0 };
    this.lease = undefined;
    this.offer = undefined;
    this.state = 'stopped';
    this.timerAt = undefined;
    this.inner.anyDstUdpPort = undefined;
  }

  pollAt(): number | undefined {
    return this.timerAt;
  }

  poll(now: number): void {
    if (this.timerAt === undefined || now < this.timerAt) return;
    this.timerAt = undefined;
    const l = this.lease;
    switch (this.state) {
      case 'init':
        return this.discover();
      case 'selecting':
        return this.sendDiscover();
      case 'requesting':
        if (this.tries >= this.cfg.requestTries) return this.discover();
        return this.sendRequest();
      case 'bound':
      case 'renewing':
      case 'rebinding': {
        if (l === undefined || l.expiresAt === undefined) return;
        if (now >= l.expiresAt) {
          this.counters.expiries++;
          this.dropAddress();
          this.event();
          return this.discover();
        }
        if (now >= l.t2At! && this.state !== 'rebinding') this.enterRenew('rebinding');
        else if (now >= l.t1At! && this.state === 'bound') this.enterRenew('renewing');
        else return this.sendRenew();
        return;
      }
      default:
        return;
    }
  }

  /** Stats' view: the state, and the lease with its times. */
  info(): { state: DhcpState; lease: DhcpLease | undefined; xid: number } {
    return { state: this.state, lease: this.lease && { ...this.lease }, xid: this.xid };
  }

  // --- transitions -------------------------------------------------------------------------

  /** INIT -> SELECTING: a fresh transaction, a DISCOVER now. */
  private discover(): void {
    this.state = 'selecting';
    this.offer = undefined;
    this.xid = this.newXid();
    this.exchangeStart = this.inner.now();
    this.tries = 0;
    this.inner.anyDstUdpPort = DHCP_CLIENT_PORT;
    this.sendDiscover();
  }

  private sendDiscover(): void {
    if (this.send(0xffff_ffff, { messageType: DhcpMessageType.Discover, requestedIp: this.lease?.addr })) this.counters.discoversTx++;
    this.backoff();
  }

  /** SELECTING: the first acceptable OFFER is taken (RFC 2131 4.4.1 lets the client choose). */
  private takeOffer(r: DhcpRepr, src: Ipv4): void {
    const server = r.serverId ?? src;
    if (!this.usableAddress(r.yiaddr, r.subnetMask) || server === r.yiaddr) return this.drop('bad-address');
    this.counters.offersRx++;
    this.offer = { addr: r.yiaddr, server };
    this.state = 'requesting';
    this.tries = 0;
    this.sendRequest();
  }

  /** REQUESTING: broadcast, from 0.0.0.0, naming the offer and its server. */
  private sendRequest(): void {
    const o = this.offer!;
    if (this.send(0xffff_ffff, { messageType: DhcpMessageType.Request, requestedIp: o.addr, serverId: o.server })) this.counters.requestsTx++;
    this.backoff();
  }

  /** Wait before retransmitting: 4, 8, ... 64 s, each +-1 s. */
  private backoff(): void {
    const base = Math.min(this.cfg.retransUs * 2 ** this.tries, this.cfg.maxRetransUs);
    this.tries++;
    this.timerAt = this.inner.now() + Math.max(SECOND / 10, base + (this.inner.random() * 2 - 1) * SECOND);
  }

  /** REQUESTING: the ACK. Probe the address before using it (RFC 2131 4.4.1, RFC 5227). */
  private takeAck(r: DhcpRepr, server: Ipv4, serverMac: Mac): void {
    const o = this.offer!;
    if (r.yiaddr !== o.addr || !this.usableAddress(r.yiaddr, r.subnetMask)) return this.drop('bad-address');
    this.counters.acksRx++;
    const lease = this.leaseOf(r, server, serverMac);
    this.state = 'probing';
    this.timerAt = undefined;
    this.inner.anyDstUdpPort = undefined;
    this.probe = startProbe(this.inner, o.addr, { timing: this.cfg.probe, random: () => this.inner.random(), onDone: (res) => this.probed(res, lease) });
  }

  private probed(res: ProbeOutcome, lease: DhcpLease): void {
    this.probe = undefined;
    if (this.state !== 'probing' || this.offer?.addr !== lease.addr) return;
    if (res.kind === 'conflict') return this.decline(this.offer, 'in-use');
    // The probe took time: the lease runs from the ACK, as the server counts it.
    const inner = this.inner;
    inner.cfg.ipv4 = { addr: lease.addr, prefixLen: lease.prefixLen };
    const gw = inner.cfg.gateway;
    if (lease.router !== undefined && inner.inSubnet(lease.router)) inner.cfg.gateway = lease.router;
    if (!inner.publishAddresses()) {
      // Another local guest holds it: the nanokernel refused it.
      inner.cfg.ipv4 = { addr: 0, prefixLen: 0 };
      inner.cfg.gateway = gw;
      inner.publishAddresses();
      return this.decline(this.offer, 'refused');
    }
    this.bind(lease);
    dispatchAnnouncement(inner);
  }

  private bind(lease: DhcpLease): void {
    this.lease = lease;
    this.offer = undefined;
    this.state = 'bound';
    this.counters.leases++;
    this.timerAt = lease.t1At;
    this.event();
  }

  /** The address is taken: DECLINE (broadcast, from 0.0.0.0), then start over after a pause. */
  private decline(o: Offer, why: 'in-use' | 'refused'): void {
    this.counters.conflicts++;
    if (this.send(0xffff_ffff, { messageType: DhcpMessageType.Decline, requestedIp: o.addr, serverId: o.server })) this.counters.declinesTx++;
    this.inner.emit({ kind: 'dhcp', state: 'declined', addr: o.addr, server: o.server, reason: why, at: this.inner.now() });
    this.offer = undefined;
    this.state = 'init';
    this.timerAt = this.inner.now() + this.cfg.declineWaitUs;
  }

  /** BOUND -> RENEWING (T1) or -> REBINDING (T2): a new transaction, a REQUEST now. */
  private enterRenew(to: 'renewing' | 'rebinding'): void {
    this.state = to;
    this.xid = this.newXid();
    this.exchangeStart = this.inner.now();
    this.event();
    this.sendRenew();
  }

  /** RENEWING: unicast to the server; REBINDING: broadcast. From our address, ciaddr set (RFC 2131 4.3.2). */
  private sendRenew(): void {
    const l = this.lease!;
    const dst = this.state === 'renewing' ? l.server : 0xffff_ffff;
    if (this.send(dst, { messageType: DhcpMessageType.Request, ciaddr: l.addr })) this.counters.requestsTx++;
    const now = this.inner.now();
    const until = this.state === 'renewing' ? l.t2At! : l.expiresAt!;
    this.timerAt = Math.min(until, now + Math.max(MIN_RENEW_RETRANS_US, (until - now) / 2));
  }

  /** RENEWING/REBINDING: an ACK extends the lease (of the same address only). */
  private takeRenewAck(r: DhcpRepr, server: Ipv4, serverMac: Mac): void {
    const l = this.lease!;
    if (r.yiaddr !== l.addr) return this.drop('bad-address');
    this.counters.acksRx++;
    const lease = this.leaseOf(r, server, serverMac);
    // The mask and router stay as bound: changing them under a live address is not a renewal.
    this.bind({ ...lease, prefixLen: l.prefixLen, router: l.router });
  }

  /** A NAK: whatever we held or asked for is not ours. Start over at once (RFC 2131 3.1.4, 4.4.4). */
  private takeNak(): void {
    this.counters.naksRx++;
    this.dropAddress();
    this.event();
    this.discover();
  }

  /** The lease of an ACK, its times from now; T1 and T2 from the server when they make sense. */
  private leaseOf(r: DhcpRepr, server: Ipv4, serverMac: Mac): DhcpLease {
    const now = this.inner.now();
    const raw = r.leaseTime ?? INFINITE_LEASE;
    const infinite = raw === INFINITE_LEASE;
    const leaseS = infinite ? raw : Math.max(raw, this.cfg.minLeaseS);
    let t1 = r.renewalTime ?? leaseS * 0.5;
    let t2 = r.rebindingTime ?? leaseS * 0.875;
    if (!(t1 > 0 && t1 < t2 && t2 < leaseS)) {
      t1 = leaseS * 0.5;
      t2 = leaseS * 0.875;
    }
    return {
      addr: r.yiaddr,
      prefixLen: r.subnetMask === undefined ? classfulPrefix(r.yiaddr) : maskLength(r.subnetMask)!,
      server,
      serverMac,
      router: r.router,
      leaseTimeS: leaseS,
      t1At: infinite ? undefined : now + t1 * SECOND,
      t2At: infinite ? undefined : now + t2 * SECOND,
      expiresAt: infinite ? undefined : now + leaseS * SECOND,
    };
  }

  /** Give the address back to nobody: the interface and the nanokernel's address set drop it. */
  private dropAddress(): void {
    const inner = this.inner;
    if (this.lease !== undefined && inner.addr === this.lease.addr) {
      inner.cfg.ipv4 = { addr: 0, prefixLen: 0 };
      inner.publishAddresses();
      inner.pending.clear();
    }
    this.lease = undefined;
  }

  // --- ingress -----------------------------------------------------------------------------

  /** Every datagram to port 68. */
  private process(d: UdpDatagram): void {
    if (d.srcPort !== DHCP_SERVER_PORT) return this.drop('not-server');
    const p = DhcpPacket.checked(d.payload);
    if (isWireError(p)) return this.drop('malformed');
    const r = parseDhcpRepr(p);
    if (isWireError(r)) return this.drop('malformed');
    if (r.op !== DhcpOp.Reply) return this.drop('not-server');
    if (r.xid !== this.xid) return this.drop('wrong-xid');
    if (r.clientMac !== this.inner.mac) return this.drop('wrong-chaddr');
    const t = r.messageType;
    switch (this.state) {
      case 'selecting':
        if (t === DhcpMessageType.Offer) return this.takeOffer(r, d.src);
        break;
      case 'requesting': {
        if (t !== DhcpMessageType.Ack && t !== DhcpMessageType.Nak) break;
        // Only the server we asked speaks for this transaction (RFC 2131 4.4.1).
        const server = r.serverId ?? d.src;
        if (server !== this.offer!.server) return this.drop('wrong-server');
        return t === DhcpMessageType.Ack ? this.takeAck(r, server, d.srcMac) : this.takeNak();
      }
      case 'renewing':
      case 'rebinding': {
        if (t !== DhcpMessageType.Ack && t !== DhcpMessageType.Nak) break;
        const server = r.serverId ?? d.src;
        // RENEWING talks to its server; REBINDING takes any server's answer.
        if (this.state === 'renewing' && server !== this.lease!.server) return this.drop('wrong-server');
        return t === DhcpMessageType.Ack ? this.takeRenewAck(r, server, d.srcMac) : this.takeNak();
      }
      default:
        break;
    }
    this.drop('unexpected');
  }

  /** An address a host can be given: unicast, not ours to refuse, not the subnet's own. */
  private usableAddress(a: Ipv4, mask: Ipv4 | undefined): boolean {
    const top = a >>> 24;
    if (a === 0 || top === 0 || top === 127 || top >= 224) return false;
    if (mask === undefined) return true;
    const len = maskLength(mask);
    if (len === undefined || len === 0) return false;
    if (len >= 31) return true; // no network or broadcast address to avoid (RFC 3021)
    const host = (a & ~mask) >>> 0;
    return host !== 0 && host !== (~mask >>> 0);
  }

  private drop(reason: DhcpDropReason): void {
    this.counters.drops[reason]++;
  }

  private event(): void {
    const l = this.lease;
    this.inner.emit({ kind: 'dhcp', state: this.state, addr: l?.addr ?? 0, server: l?.server ?? 0, at: this.inner.now() });
  }

  private newXid(): number {
    return Math.floor(this.inner.random() * 0x1_0000_0000) >>> 0;
  }

  /** One client message (RFC 2131 table 5's fields) to `dst`:67 from :68. */
  private send(dst: Ipv4, m: Pick<DhcpRepr, 'messageType'> & Partial<DhcpRepr>, via?: Mac): boolean {
    const t = m.messageType;
    const r: DhcpRepr = {
      op: DhcpOp.Request,
      xid: this.xid,
      secs: Math.min(0xffff, Math.floor((this.inner.now() - this.exchangeStart) / SECOND)),
      broadcast: false,
      clientMac: this.inner.mac,
      ciaddr: 0,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      clientId: this.clientId,
      ...(t === DhcpMessageType.Discover || t === DhcpMessageType.Request ? { paramRequestList: PARAMS, maxMessageSize: 576 } : {}),
      ...(this.cfg.hostName !== '' && t !== DhcpMessageType.Decline && t !== DhcpMessageType.Release ? { hostName: this.cfg.hostName } : {}),
      ...m,
    };
    if (r.requestedIp === undefined) delete r.requestedIp;
    const b = new Uint8Array(dhcpReprLen(r));
    emitDhcp(r, b);
    return dispatchUdp(this.inner, DHCP_CLIENT_PORT, dst, DHCP_SERVER_PORT, b, via);
  }
}

/** The prefix length of a contiguous mask, or undefined. */
function maskLength(mask: Ipv4): number | undefined {
  for (let n = 0; n <= 32; n++) if (prefixMask(n) >>> 0 === mask >>> 0) return n;
  return undefined;
}

/** RFC 2131 leaves the mask to option 1; without it, the address's class (as RFC 1122 3.3.1.1's default). */
function classfulPrefix(a: Ipv4): number {
  const top = a >>> 24;
  return top < 128 ? 8 : top < 192 ? 16 : 24;
}

export const DHCP_CLIENT = new SocketKey<DhcpClient>('dhcp');

/** The DHCP client module: its state in the socket set, bound to UDP port 68. The OS calls start() at boot. */
export function dhcpProtocol(cfg: DhcpConfig = {}): NetProtocol {
  return {
    name: 'dhcp',
    install(inner: InterfaceInner): void {
      inner.sockets.add(DHCP_CLIENT, new DhcpClient(inner, cfg));
    },
  };
}
