// The DHCP client per state transition on a manual clock: a scripted server answers (or does
// not) with frames built by wire/'s emitters, so every byte the client sees is one a real server
// (or an attacker) could send.
import { describe, expect, it } from 'vitest';
import {
  ArpOperation,
  ArpPacket,
  ArpRepr,
  DhcpMessageType,
  DhcpOp,
  DhcpPacket,
  EtherType,
  EthernetFrame,
  IpProtocol,
  Ipv4Packet,
  MAC_BROADCAST,
  UdpPacket,
  dhcpReprLen,
  emitDhcp,
  isWireError,
  parseDhcpRepr,
} from '../wire/index.js';
import type { DhcpRepr, Ipv4, Mac } from '../wire/index.js';
import { DHCP_CLIENT, dhcpProtocol } from './dhcp.js';
import type { DhcpConfig } from './dhcp.js';
import type { NetConfig, NetEvent } from './iface.js';
import { NetStack } from './stack.js';
import { ManualNow, OUR_MAC, RecordingDevice, arpFrame, icmpBytes, ip, ipv4Frame, udpFrame } from './testing.js';

const S = 1_000_000;
const SERVER_MAC: Mac = 0x02_aa_bb_cc_dd_01;
const SERVER = ip('10.77.0.1');
const SERVER2_MAC: Mac = 0x02_aa_bb_cc_dd_02;
const SERVER2 = ip('10.77.0.2');
const OFFERED = ip('10.77.0.150');
const OTHER_MAC: Mac = 0x02_aa_bb_cc_dd_99;
const MASK24 = ip('255.255.255.0');

function setup(cfg: DhcpConfig = { hostName: 'gpos' }, net: Partial<NetConfig> = {}) {
  const dev = new RecordingDevice();
  const clock = new ManualNow();
  const stack = new NetStack({ mac: OUR_MAC, ipv4: { addr: 0, prefixLen: 0 }, ...net }, dev, clock.now);
  stack.install(dhcpProtocol(cfg));
  const dhcp = stack.sockets.require(DHCP_CLIENT);
  const events: NetEvent[] = [];
  stack.onEvent((e) => events.push(e));
  /** Run every timer due up to now + us. */
  const advance = (us: number): void => {
    const end = clock.t + us;
    for (let at = stack.pollAt(); at !== undefined && at <= end; at = stack.pollAt()) {
      clock.t = Math.max(clock.t, at);
      stack.poll();
    }
    clock.t = end;
  };
  return { dev, clock, stack, dhcp, events, advance };
}

interface SentDhcp {
  ethDst: Mac;
  src: Ipv4;
  dst: Ipv4;
  srcPort: number;
  dstPort: number;
  r: DhcpRepr;
}

/** The DHCP messages among `frames` (other frames, ARP say, left out). */
function dhcpOut(frames: Uint8Array[]): SentDhcp[] {
  const out: SentDhcp[] = [];
  for (const f of frames) {
    const eth = EthernetFrame.checked(f);
    if (isWireError(eth) || eth.etherType() !== EtherType.Ipv4) continue;
    const ipp = Ipv4Packet.checked(eth.payload());
    if (isWireError(ipp) || ipp.protocol() !== IpProtocol.Udp) continue;
    const u = UdpPacket.checked(ipp.payload(), ipp.srcAddr(), ipp.dstAddr());
    if (isWireError(u)) throw new Error(u.message);
    const d = DhcpPacket.checked(u.payload());
    if (isWireError(d)) throw new Error(d.message);
    const r = parseDhcpRepr(d);
    if (isWireError(r)) throw new Error(r.message);
    out.push({ ethDst: eth.dstAddr(), src: ipp.srcAddr(), dst: ipp.dstAddr(), srcPort: u.srcPort(), dstPort: u.dstPort(), r });
  }
  return out;
}

function arpOut(frames: Uint8Array[]): ArpRepr[] {
  const out: ArpRepr[] = [];
  for (const f of frames) {
    const eth = EthernetFrame.checked(f);
    if (isWireError(eth) || eth.etherType() !== EtherType.Arp) continue;
    const a = ArpPacket.checked(eth.payload());
    if (!isWireError(a)) out.push(ArpRepr.parse(a));
  }
  return out;
}

/** One message from the client, and only one. */
function one(dev: RecordingDevice): SentDhcp {
  const m = dhcpOut(dev.take());
  expect(m).toHaveLength(1);
  return m[0]!;
}

/** A server's reply to `xid`, as a frame unicast to our MAC and the offered address unless told. */
function reply(type: number, xid: number, o: Partial<DhcpRepr> & { from?: Ipv4; fromMac?: Mac; to?: Ipv4; srcPort?: number } = {}): Uint8Array {
  const { from = SERVER, fromMac = SERVER_MAC, to = OFFERED, srcPort = 67, ...fields } = o;
  const r: DhcpRepr = {
    op: DhcpOp.Reply, messageType: type, xid, secs: 0, broadcast: false, clientMac: OUR_MAC,
    ciaddr: 0, yiaddr: OFFERED, siaddr: 0, giaddr: 0, serverId: SERVER, leaseTime: 3600, subnetMask: MASK24, router: SERVER,
    ...fields,
  };
  for (const k of Object.keys(r) as Array<keyof DhcpRepr>) if (r[k] === undefined) delete r[k];
  const b = new Uint8Array(dhcpReprLen(r));
  emitDhcp(r, b);
  return udpFrame(OUR_MAC, fromMac, from, to, srcPort, 68, b);
}

/** Client booted, OFFER answered, REQUEST sent: returns that REQUEST. */
function toRequesting(s: ReturnType<typeof setup>): SentDhcp {
  s.dhcp.start();
  const disc = one(s.dev);
  s.stack.processFrame(reply(DhcpMessageType.Offer, disc.r.xid));
  return one(s.dev);
}

/** All the way to BOUND with a lease of `leaseTime` s (T1/T2 as given). */
function toBound(s: ReturnType<typeof setup>, extra: Partial<DhcpRepr> = {}): SentDhcp {
  const req = toRequesting(s);
  s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid, extra));
  s.advance(10 * S); // the probe: at most 1 + 2 + 2 + 2 s
  expect(s.dhcp.state).toBe('bound');
  s.dev.take();
  return req;
}

describe('DHCP client: DISCOVER, OFFER, REQUEST, ACK, probe, BOUND', () => {
  it('sends a DISCOVER as a real client does: broadcast from 0.0.0.0:68 to :67, client id 1+MAC, hostname, parameter list', () => {
    const { dev, dhcp, stack } = setup();
    expect(dhcp.state).toBe('stopped');
    expect(dhcp.info().lease).toBeUndefined();
    dhcp.start();
    const d = one(dev);
    expect(d.ethDst).toBe(MAC_BROADCAST);
    expect([d.src, d.dst, d.srcPort, d.dstPort]).toEqual([0, 0xffff_ffff, 68, 67]);
    expect(d.r.op).toBe(DhcpOp.Request);
    expect(d.r.messageType).toBe(DhcpMessageType.Discover);
    expect(d.r.clientMac).toBe(OUR_MAC);
    expect(Array.from(d.r.clientId!)).toEqual([1, 0x02, 0x4e, 0x53, 0, 0, 0x0a]);
    expect(d.r.hostName).toBe('gpos');
    expect(d.r.paramRequestList).toEqual([1, 3, 51, 54, 58, 59]);
    expect(d.r.ciaddr).toBe(0);
    expect(d.r.broadcast).toBe(false); // we take unicast OFFER/ACK to our MAC (anyDstUdpPort)
    expect(dhcp.state).toBe('selecting');
    expect(stack.ipv4.addr).toBe(0);
  });

  it('takes a unicast OFFER, REQUESTs it by broadcast from 0.0.0.0 with the same xid, server id and requested address', () => {
    const s = setup();
    s.dhcp.start();
    const disc = one(s.dev);
    s.stack.processFrame(reply(DhcpMessageType.Offer, disc.r.xid));
    const req = one(s.dev);
    expect(req.ethDst).toBe(MAC_BROADCAST);
    expect([req.src, req.dst]).toEqual([0, 0xffff_ffff]);
    expect(req.r.messageType).toBe(DhcpMessageType.Request);
    expect(req.r.xid).toBe(disc.r.xid);
    expect(req.r.requestedIp).toBe(OFFERED);
    expect(req.r.serverId).toBe(SERVER);
    expect(req.r.ciaddr).toBe(0);
    expect(s.dhcp.state).toBe('requesting');
    expect(s.dhcp.counters.offersRx).toBe(1);
  });

  it('probes the ACKed address (3 ARP probes from 0.0.0.0), has no address until then, then binds, publishes, announces and answers ping', () => {
    const s = setup();
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    expect(s.dhcp.state).toBe('probing');
    s.advance(1 * S + 2 * S + 2 * S); // wait + two gaps: all three probes out
    const probes = arpOut(s.dev.take());
    expect(probes).toHaveLength(3);
    for (const p of probes) {
      expect(p.operation).toBe(ArpOperation.Request);
      expect(p.senderIp).toBe(0);
      expect(p.senderHw).toBe(OUR_MAC);
      expect(p.targetIp).toBe(OFFERED);
    }
    // Still probing: no address, nothing in the nanokernel's set, a ping to it unanswered.
    expect(s.stack.ipv4.addr).toBe(0);
    expect(s.dev.addresses).toEqual([]);
    s.advance(2 * S); // ANNOUNCE_WAIT
    expect(s.dhcp.state).toBe('bound');
    expect(s.stack.ipv4).toEqual({ addr: OFFERED, prefixLen: 24 });
    expect(s.dev.addresses).toEqual([OFFERED]);
    const announce = arpOut(s.dev.take());
    expect(announce).toHaveLength(1);
    expect([announce[0]!.senderIp, announce[0]!.targetIp]).toEqual([OFFERED, OFFERED]);
    const lease = s.dhcp.info().lease!;
    expect(lease.server).toBe(SERVER);
    expect(lease.router).toBe(SERVER);
    expect(lease.leaseTimeS).toBe(3600);
    expect(lease.t1At! - s.clock.t).toBeGreaterThan(1790 * S);
    expect(lease.t2At! - lease.t1At!).toBe(1350 * S); // 0.875 and 0.5 of 3600 s
    expect(s.events.some((e) => e.kind === 'dhcp' && e.state === 'bound' && e.addr === OFFERED)).toBe(true);
    s.stack.processFrame(ipv4Frame(OUR_MAC, SERVER_MAC, SERVER, OFFERED, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) })));
    expect(s.stack.counters.icmpEchoRepliesTx).toBe(1);
  });

  it('uses the server\'s T1 and T2 when they make sense, and RFC 2131\'s 0.5 and 0.875 when not', () => {
    const s = setup();
    toBound(s, { leaseTime: 1000, renewalTime: 300, rebindingTime: 600 });
    const l = s.dhcp.info().lease!;
    expect(l.t2At! - l.t1At!).toBe(300 * S);
    expect(l.expiresAt! - l.t2At!).toBe(400 * S);
    const s2 = setup();
    toBound(s2, { leaseTime: 1000, renewalTime: 900, rebindingTime: 600 }); // T1 after T2: ignored
    const l2 = s2.dhcp.info().lease!;
    expect(l2.t2At! - l2.t1At!).toBe(375 * S);
  });
});

describe('DHCP client: loss and retransmission (RFC 2131 4.1)', () => {
  it('retransmits a lost DISCOVER after 4, 8, 16, 32, 64, 64 s, each +-1 s, same xid, secs counting', () => {
    const s = setup();
    s.dhcp.start();
    const first = one(s.dev);
    const t0 = s.clock.t;
    let last = s.clock.t;
    for (const base of [4, 8, 16, 32, 64, 64]) {
      s.advance((base - 1) * S - 1);
      expect(dhcpOut(s.dev.take())).toHaveLength(0);
      const at = s.dhcp.pollAt()!;
      expect(at - last).toBeGreaterThanOrEqual((base - 1) * S);
      expect(at - last).toBeLessThanOrEqual((base + 1) * S);
      s.advance(at - s.clock.t);
      const d = one(s.dev);
      expect(d.r.messageType).toBe(DhcpMessageType.Discover);
      expect(d.r.xid).toBe(first.r.xid);
      expect(d.r.secs).toBe(Math.floor((at - t0) / S));
      last = at;
    }
    expect(s.dhcp.counters.discoversTx).toBe(7);
    expect(s.dhcp.state).toBe('selecting');
  });

  it('after a lost ACK retransmits the REQUEST, and after 4 REQUESTs starts over with a new DISCOVER and xid', () => {
    const s = setup();
    const req = toRequesting(s);
    const sent = [req];
    for (let i = 0; i < 3; i++) {
      s.advance(s.dhcp.pollAt()! - s.clock.t);
      sent.push(one(s.dev));
    }
    for (const r of sent) {
      expect(r.r.messageType).toBe(DhcpMessageType.Request);
      expect(r.r.xid).toBe(req.r.xid);
    }
    s.advance(s.dhcp.pollAt()! - s.clock.t);
    const d = one(s.dev);
    expect(d.r.messageType).toBe(DhcpMessageType.Discover);
    expect(d.r.xid).not.toBe(req.r.xid);
    expect(s.dhcp.state).toBe('selecting');
  });
});

describe('DHCP client: NAK, conflict, DECLINE', () => {
  it('a NAK while requesting starts over at once with a new transaction; a NAK from another server is ignored', () => {
    const s = setup();
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Nak, req.r.xid, { serverId: SERVER2, from: SERVER2, fromMac: SERVER2_MAC }));
    expect(s.dhcp.counters.drops['wrong-server']).toBe(1);
    expect(s.dhcp.state).toBe('requesting');
    expect(s.dev.take()).toHaveLength(0);
    s.stack.processFrame(reply(DhcpMessageType.Nak, req.r.xid, { yiaddr: 0, leaseTime: undefined }));
    expect(s.dhcp.counters.naksRx).toBe(1);
    const d = one(s.dev);
    expect(d.r.messageType).toBe(DhcpMessageType.Discover);
    expect(d.r.xid).not.toBe(req.r.xid);
  });

  it('an ARP reply from the offered address during the probe: DECLINE from 0.0.0.0, no address, DISCOVER again after 10 s', () => {
    const s = setup();
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    s.advance(1.5 * S);
    s.stack.processFrame(arpFrame(OUR_MAC, OTHER_MAC, new ArpRepr(ArpOperation.Reply, OTHER_MAC, OFFERED, OUR_MAC, 0)));
    const dec = one(s.dev);
    expect(dec.ethDst).toBe(MAC_BROADCAST);
    expect([dec.src, dec.dst]).toEqual([0, 0xffff_ffff]);
    expect(dec.r.messageType).toBe(DhcpMessageType.Decline);
    expect(dec.r.requestedIp).toBe(OFFERED);
    expect(dec.r.serverId).toBe(SERVER);
    expect(dec.r.ciaddr).toBe(0);
    expect(s.dhcp.counters.declinesTx).toBe(1);
    expect(s.dhcp.counters.conflicts).toBe(1);
    expect(s.stack.ipv4.addr).toBe(0);
    expect(s.dev.addresses).toEqual([]);
    expect(s.events.some((e) => e.kind === 'dhcp' && e.state === 'declined' && e.reason === 'in-use')).toBe(true);
    s.advance(10 * S - 1);
    expect(dhcpOut(s.dev.take())).toHaveLength(0);
    s.advance(1);
    const again = one(s.dev);
    expect(again.r.messageType).toBe(DhcpMessageType.Discover);
    expect(again.r.xid).not.toBe(req.r.xid);
    expect(s.dhcp.state).toBe('selecting');
  });

  it('another host probing for the same address (RFC 5227 2.1.1) is a conflict too', () => {
    const s = setup();
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    s.stack.processFrame(arpFrame(MAC_BROADCAST, OTHER_MAC, new ArpRepr(ArpOperation.Request, OTHER_MAC, 0, 0, OFFERED)));
    expect(one(s.dev).r.messageType).toBe(DhcpMessageType.Decline);
  });

  it('an address the nanokernel refuses (another local guest holds it) is DECLINEd and never used', () => {
    const s = setup();
    s.dev.refuse.add(OFFERED);
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    s.advance(10 * S);
    const dec = dhcpOut(s.dev.take());
    expect(dec.map((m) => m.r.messageType)).toEqual([DhcpMessageType.Decline]);
    expect(dec[0]!.src).toBe(0);
    expect(s.stack.ipv4.addr).toBe(0);
    expect(s.dhcp.state).toBe('init');
    expect(s.events.some((e) => e.kind === 'dhcp' && e.reason === 'refused')).toBe(true);
  });
});

describe('DHCP client: T1, T2, expiry, RELEASE', () => {
  it('at T1 unicasts a REQUEST to its server from its address (ciaddr set, no server id), and an ACK extends the lease', () => {
    const s = setup();
    toBound(s, { leaseTime: 1000 });
    const t1 = s.dhcp.info().lease!.t1At!;
    s.advance(t1 - s.clock.t - 1);
    expect(s.dev.take()).toHaveLength(0);
    s.advance(1);
    expect(s.dhcp.state).toBe('renewing');
    // The server is on-link and not yet in the ARP cache: resolved first.
    const arp = arpOut(s.dev.frames);
    expect(arp.map((a) => [a.senderIp, a.targetIp])).toEqual([[OFFERED, SERVER]]);
    s.dev.take();
    s.stack.processFrame(arpFrame(OUR_MAC, SERVER_MAC, new ArpRepr(ArpOperation.Reply, SERVER_MAC, SERVER, OUR_MAC, OFFERED)));
    const renew = one(s.dev);
    expect(renew.ethDst).toBe(SERVER_MAC);
    expect([renew.src, renew.dst]).toEqual([OFFERED, SERVER]);
    expect(renew.r.ciaddr).toBe(OFFERED);
    expect(renew.r.requestedIp).toBeUndefined();
    expect(renew.r.serverId).toBeUndefined();
    s.stack.processFrame(reply(DhcpMessageType.Ack, renew.r.xid, { leaseTime: 1000 }));
    expect(s.dhcp.state).toBe('bound');
    expect(s.dhcp.info().lease!.expiresAt).toBe(s.clock.t + 1000 * S);
    expect(s.dhcp.counters.leases).toBe(2);
    expect(s.stack.ipv4.addr).toBe(OFFERED);
  });

  it('in RENEWING retransmits after half the time to T2 (at least 60 s); at T2 broadcasts, and takes another server\'s ACK', () => {
    const s = setup();
    toBound(s, { leaseTime: 1000 }); // T1 500 s, T2 875 s
    /** The unicast REQUEST, once the server's MAC is resolved (the cache entry lives 60 s). */
    const unicastRequest = (): SentDhcp => {
      expect(arpOut(s.dev.take()).map((a) => a.targetIp)).toEqual([SERVER]);
      s.stack.processFrame(arpFrame(OUR_MAC, SERVER_MAC, new ArpRepr(ArpOperation.Reply, SERVER_MAC, SERVER, OUR_MAC, OFFERED)));
      return one(s.dev);
    };
    const l = s.dhcp.info().lease!;
    s.advance(l.t1At! - s.clock.t);
    expect(unicastRequest().dst).toBe(SERVER);
    expect(s.dhcp.pollAt()! - s.clock.t).toBe(187.5 * S); // (875 - 500) / 2
    s.advance(187.5 * S - 1);
    expect(s.dev.take()).toHaveLength(0);
    s.advance(1);
    expect(unicastRequest().dst).toBe(SERVER);
    expect(s.dhcp.pollAt()! - s.clock.t).toBe(93.75 * S); // half of the 187.5 s left
    s.advance(93.75 * S);
    expect(unicastRequest().dst).toBe(SERVER);
    // 93.75 s left: half is under 60 s, so wait 60 s; then 33.75 s left, under 60 s: T2 itself.
    expect(s.dhcp.pollAt()! - s.clock.t).toBe(60 * S);
    s.advance(60 * S);
    expect(unicastRequest().dst).toBe(SERVER);
    expect(s.dhcp.pollAt()).toBe(l.t2At);
    s.advance(l.t2At! - s.clock.t);
    expect(s.dhcp.state).toBe('rebinding');
    const rebind = dhcpOut(s.dev.take()).at(-1)!;
    expect(rebind.ethDst).toBe(MAC_BROADCAST);
    expect([rebind.src, rebind.dst]).toEqual([OFFERED, 0xffff_ffff]);
    expect(rebind.r.ciaddr).toBe(OFFERED);
    s.stack.processFrame(reply(DhcpMessageType.Ack, rebind.r.xid, { serverId: SERVER2, from: SERVER2, fromMac: SERVER2_MAC }));
    expect(s.dhcp.state).toBe('bound');
    expect(s.dhcp.info().lease!.server).toBe(SERVER2);
  });

  it('when the lease expires unanswered the address is dropped (stack and nanokernel set) and a DISCOVER goes out', () => {
    const s = setup();
    toBound(s, { leaseTime: 100 });
    const exp = s.dhcp.info().lease!.expiresAt!;
    s.advance(exp - s.clock.t - 1);
    expect(s.stack.ipv4.addr).toBe(OFFERED);
    s.dev.take();
    s.advance(1);
    expect(s.dhcp.counters.expiries).toBe(1);
    expect(s.stack.ipv4.addr).toBe(0);
    expect(s.dev.addresses).toEqual([]);
    const d = one(s.dev);
    expect(d.r.messageType).toBe(DhcpMessageType.Discover);
    expect(d.src).toBe(0);
    // A ping to the old address is no longer ours.
    s.stack.processFrame(ipv4Frame(OUR_MAC, SERVER_MAC, SERVER, OFFERED, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) })));
    expect(s.stack.counters.icmpEchoRepliesTx).toBe(0);
  });

  it('stop() RELEASEs the lease by unicast to the MAC its ACK came from (no ARP), and drops the address', () => {
    const s = setup();
    toBound(s);
    s.clock.t += 3000 * S; // long past the ARP cache's memory of anyone
    s.dhcp.stop();
    const rel = one(s.dev);
    expect(rel.ethDst).toBe(SERVER_MAC);
    expect([rel.src, rel.dst]).toEqual([OFFERED, SERVER]);
    expect(rel.r.messageType).toBe(DhcpMessageType.Release);
    expect(rel.r.ciaddr).toBe(OFFERED);
    expect(rel.r.serverId).toBe(SERVER);
    expect(s.dhcp.counters.releasesTx).toBe(1);
    expect(s.stack.ipv4.addr).toBe(0);
    // The nanokernel's set still holds it until the queued RELEASE has passed its source check.
    expect(s.dev.addresses).toEqual([OFFERED]);
    expect(s.dhcp.state).toBe('stopped');
    expect(s.dhcp.pollAt()).toBeUndefined();
  });

  it('stop() without a lease sends nothing', () => {
    const s = setup();
    s.dhcp.start();
    s.dev.take();
    s.dhcp.stop();
    expect(s.dev.take()).toHaveLength(0);
    expect(s.dhcp.counters.releasesTx).toBe(0);
  });
});

describe('DHCP client: hostile replies', () => {
  function selecting() {
    const s = setup();
    s.dhcp.start();
    return { ...s, xid: one(s.dev).r.xid };
  }
  const expectIgnored = (s: ReturnType<typeof selecting>, state = 'selecting') => {
    expect(s.dhcp.state).toBe(state);
    expect(s.dev.take()).toHaveLength(0);
  };

  it('drops a reply with the wrong xid or for another client\'s MAC', () => {
    const s = selecting();
    s.stack.processFrame(reply(DhcpMessageType.Offer, (s.xid + 1) >>> 0));
    expect(s.dhcp.counters.drops['wrong-xid']).toBe(1);
    s.stack.processFrame(reply(DhcpMessageType.Offer, s.xid, { clientMac: OTHER_MAC, to: 0xffff_ffff }));
    expect(s.dhcp.counters.drops['wrong-chaddr']).toBe(1);
    expectIgnored(s);
  });

  it('drops malformed options, a truncated message, a BOOTREQUEST and a reply not from port 67', () => {
    const s = selecting();
    const bad = reply(DhcpMessageType.Offer, s.xid);
    // The lease-time option (51, length 4) claims 3 bytes: the parser refuses the message.
    const at = bad.indexOf(51, 14 + 20 + 8 + 240);
    bad[at + 1] = 3;
    // The UDP checksum no longer matches; zero means "none" (RFC 768), so the bytes reach DHCP.
    bad[14 + 20 + 6] = 0;
    bad[14 + 20 + 7] = 0;
    s.stack.processFrame(bad);
    expect(s.dhcp.counters.drops.malformed).toBe(1);
    s.stack.processFrame(udpFrame(OUR_MAC, SERVER_MAC, SERVER, OFFERED, 67, 68, new Uint8Array(100)));
    expect(s.dhcp.counters.drops.malformed).toBe(2);
    s.stack.processFrame(reply(DhcpMessageType.Offer, s.xid, { op: DhcpOp.Request }));
    expect(s.dhcp.counters.drops['not-server']).toBe(1);
    s.stack.processFrame(reply(DhcpMessageType.Offer, s.xid, { srcPort: 1067 }));
    expect(s.dhcp.counters.drops['not-server']).toBe(2);
    expectIgnored(s);
  });

  it('drops an OFFER of an address no host can have, or whose server claims the offered address', () => {
    const s = selecting();
    const offers: Array<Partial<DhcpRepr>> = [
      { yiaddr: 0 },
      { yiaddr: 0xffff_ffff },
      { yiaddr: ip('127.0.0.1') },
      { yiaddr: ip('224.0.0.1') },
      { yiaddr: ip('10.77.0.255') }, // the /24's broadcast
      { yiaddr: ip('10.77.0.0') }, // the /24's network address
      { subnetMask: ip('255.0.255.0') }, // not a contiguous mask
      { serverId: OFFERED }, // the server says it is the address it offers
    ];
    for (const o of offers) s.stack.processFrame(reply(DhcpMessageType.Offer, s.xid, { ...o, to: 0xffff_ffff }));
    expect(s.dhcp.counters.drops['bad-address']).toBe(offers.length);
    expect(s.dhcp.counters.offersRx).toBe(0);
    expectIgnored(s);
  });

  it('drops an ACK or NAK while selecting, and an OFFER while requesting', () => {
    const s = selecting();
    s.stack.processFrame(reply(DhcpMessageType.Ack, s.xid));
    s.stack.processFrame(reply(DhcpMessageType.Nak, s.xid));
    expect(s.dhcp.counters.drops.unexpected).toBe(2);
    expectIgnored(s);
    s.stack.processFrame(reply(DhcpMessageType.Offer, s.xid));
    s.dev.take();
    s.stack.processFrame(reply(DhcpMessageType.Offer, s.xid, { yiaddr: ip('10.77.0.151') }));
    expect(s.dhcp.counters.drops.unexpected).toBe(3);
    expectIgnored(s, 'requesting');
  });

  it('drops an ACK for an address other than the one requested', () => {
    const s = setup();
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid, { yiaddr: ip('10.77.0.151') }));
    expect(s.dhcp.counters.drops['bad-address']).toBe(1);
    expect(s.dhcp.state).toBe('requesting');
  });

  it('before its lease takes unicast only on port 68: other unicast to any address is not for us, and nothing but DHCP leaves from 0.0.0.0', () => {
    const s = selecting();
    s.stack.processFrame(udpFrame(OUR_MAC, SERVER_MAC, SERVER, OFFERED, 5000, 7, new Uint8Array(4)));
    expect(s.stack.counters.rxDropped['not-for-us']).toBe(1);
    s.stack.processFrame(ipv4Frame(OUR_MAC, SERVER_MAC, SERVER, 0, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) })));
    expect(s.stack.counters.rxDropped['not-for-us']).toBe(2);
    expect(s.stack.sendUdp(5000, SERVER, 9, new Uint8Array(4))).toBe(false);
    expect(s.stack.counters.txDropped['no-route']).toBe(1);
    // Without an address nothing is ours to answer: an ARP request for 0.0.0.0 is not answered.
    s.stack.processFrame(arpFrame(MAC_BROADCAST, OTHER_MAC, new ArpRepr(ArpOperation.Request, OTHER_MAC, ip('10.77.0.9'), 0, 0)));
    s.stack.processFrame(arpFrame(MAC_BROADCAST, OTHER_MAC, new ArpRepr(ArpOperation.Request, OTHER_MAC, 0, 0, ip('10.77.0.9'))));
    expect(s.stack.counters.arpConflicts).toBe(0);
    s.stack.announce();
    expect(s.dev.take()).toHaveLength(0);
  });
});

describe('DHCP client: what each message carries', () => {
  it('names its host only in DISCOVER and REQUEST, asks for parameters only there, and not at all without a host name', () => {
    const s = setup();
    const req = toRequesting(s);
    expect(req.r.hostName).toBe('gpos');
    expect(req.r.paramRequestList).toEqual([1, 3, 51, 54, 58, 59]);
    expect(req.r.maxMessageSize).toBe(576);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    s.advance(1.5 * S);
    s.stack.processFrame(arpFrame(OUR_MAC, OTHER_MAC, new ArpRepr(ArpOperation.Reply, OTHER_MAC, OFFERED, OUR_MAC, 0)));
    const dec = one(s.dev);
    expect(dec.r.messageType).toBe(DhcpMessageType.Decline);
    expect([dec.r.hostName, dec.r.paramRequestList, dec.r.maxMessageSize]).toEqual([undefined, undefined, undefined]);
    const b = setup();
    toBound(b);
    b.dhcp.stop();
    const rel = one(b.dev);
    expect(rel.r.messageType).toBe(DhcpMessageType.Release);
    expect([rel.r.hostName, rel.r.paramRequestList]).toEqual([undefined, undefined]);
    const anon = setup({});
    anon.dhcp.start();
    const disc = one(anon.dev);
    expect(disc.r.hostName).toBeUndefined();
    expect(disc.r.paramRequestList).toEqual([1, 3, 51, 54, 58, 59]);
    expect(disc.r.requestedIp).toBeUndefined();
  });

  it('starts once: a second start() while running sends nothing, and nothing goes out before a timer is due', () => {
    const s = setup();
    s.dhcp.start();
    s.dhcp.start();
    expect(dhcpOut(s.dev.take())).toHaveLength(1);
    s.clock.t += 2 * S;
    s.stack.poll();
    expect(s.dev.take()).toHaveLength(0);
    const b = setup();
    toBound(b);
    b.dhcp.start();
    expect(b.dev.take()).toHaveLength(0);
    expect(b.dhcp.state).toBe('bound');
  });

  it('probes with the timing it is given', () => {
    const s = setup({ probe: { probeWaitUs: 1, probeNum: 1, probeMinUs: 1, probeMaxUs: 1, announceWaitUs: 1_000 } });
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    s.advance(10_000);
    expect(s.dhcp.state).toBe('bound');
    expect(s.dhcp.counters.acksRx).toBe(1);
    expect(s.dhcp.counters.requestsTx).toBe(1);
    expect(s.dhcp.counters.offersRx).toBe(1);
    expect(s.stack.protocols).toContain('dhcp');
    expect(s.stack.sockets.names()).toContain('dhcp');
  });

  it('spreads the first retransmission of guests booted together over 3 to 5 s, on both sides of 4 s', () => {
    const waits: number[] = [];
    for (let i = 1; i <= 16; i++) {
      const dev = new RecordingDevice();
      const clock = new ManualNow();
      const stack = new NetStack({ mac: OUR_MAC + i * 2, ipv4: { addr: 0, prefixLen: 0 } }, dev, clock.now);
      stack.install(dhcpProtocol());
      stack.sockets.require(DHCP_CLIENT).start();
      waits.push(stack.pollAt()! - clock.t);
    }
    for (const w of waits) {
      expect(w).toBeGreaterThanOrEqual(3 * S);
      expect(w).toBeLessThanOrEqual(5 * S);
    }
    expect(waits.some((w) => w < 3.5 * S)).toBe(true);
    expect(waits.some((w) => w > 4.5 * S)).toBe(true);
  });
});

describe('DHCP client: leases and addresses', () => {
  /** OFFER and ACK of `yiaddr` with these fields; the probe passes; returns the lease. */
  function bindTo(yiaddr: Ipv4, fields: Partial<DhcpRepr>) {
    const s = setup();
    s.dhcp.start();
    const disc = one(s.dev);
    s.stack.processFrame(reply(DhcpMessageType.Offer, disc.r.xid, { yiaddr, to: 0xffff_ffff, ...fields }));
    const req = one(s.dev);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid, { yiaddr, to: 0xffff_ffff, ...fields }));
    s.advance(10 * S);
    return s;
  }

  it('takes the classful prefix when the server sends no mask', () => {
    const cases: Array<[string, number]> = [['10.1.2.3', 8], ['128.0.0.5', 16], ['191.255.0.5', 16], ['192.0.0.5', 24], ['223.1.1.1', 24]];
    for (const [a, len] of cases) {
      const s = bindTo(ip(a), { subnetMask: undefined, router: undefined, serverId: undefined });
      expect(s.dhcp.state).toBe('bound');
      expect(s.stack.ipv4).toEqual({ addr: ip(a), prefixLen: len });
    }
  });

  it('takes /31 and /32 leases (no network or broadcast address to avoid) and refuses a 0.0.0.0 mask', () => {
    const even = ip('10.77.0.150');
    expect(bindTo(even, { subnetMask: ip('255.255.255.254') }).stack.ipv4).toEqual({ addr: even, prefixLen: 31 });
    expect(bindTo(even, { subnetMask: ip('255.255.255.255'), router: undefined }).stack.ipv4).toEqual({ addr: even, prefixLen: 32 });
    const s = setup();
    s.dhcp.start();
    const xid = one(s.dev).r.xid;
    for (const o of [{ subnetMask: 0 }, { yiaddr: ip('0.1.2.3') }, { yiaddr: ip('240.0.0.1') }, { yiaddr: ip('127.0.0.9') }]) {
      s.stack.processFrame(reply(DhcpMessageType.Offer, xid, { ...o, to: 0xffff_ffff }));
    }
    expect(s.dhcp.counters.drops['bad-address']).toBe(4);
    expect(s.dhcp.state).toBe('selecting');
  });

  it('uses the router as gateway only when it is in the leased subnet', () => {
    const far = ip('10.99.0.1');
    const on = bindTo(OFFERED, {});
    on.dev.take();
    expect(on.stack.sendUdp(5000, far, 9, new Uint8Array(1))).toBe(true);
    expect(arpOut(on.dev.take()).map((a) => a.targetIp)).toEqual([SERVER]);
    const off = bindTo(OFFERED, { router: ip('10.88.0.1') });
    expect(off.dhcp.state).toBe('bound');
    expect(off.stack.sendUdp(5000, far, 9, new Uint8Array(1))).toBe(false);
    const none = bindTo(OFFERED, { router: undefined });
    expect(none.dhcp.info().lease!.router).toBeUndefined();
    expect(none.stack.sendUdp(5000, far, 9, new Uint8Array(1))).toBe(false);
    expect(none.stack.counters.txDropped['no-route']).toBe(1);
  });

  it('takes a lease without a lease time, or of 0xffffffff s, as infinite: no timers', () => {
    for (const leaseTime of [undefined, 0xffff_ffff]) {
      const s = bindTo(OFFERED, { leaseTime });
      const l = s.dhcp.info().lease!;
      expect([l.leaseTimeS, l.t1At, l.t2At, l.expiresAt]).toEqual([0xffff_ffff, undefined, undefined, undefined]);
      expect(s.dhcp.pollAt()).toBeUndefined();
    }
  });

  it('refuses T1 of 0, T1 equal to T2, and T2 equal to the lease, using 0.5 and 0.875', () => {
    for (const [t1, t2] of [[0, 600], [600, 600], [300, 1000]] as const) {
      const s = setup();
      toBound(s, { leaseTime: 1000, renewalTime: t1, rebindingTime: t2 });
      const l = s.dhcp.info().lease!;
      expect([l.expiresAt! - l.t1At!, l.expiresAt! - l.t2At!]).toEqual([500 * S, 125 * S]);
    }
  });

  it('reports its server in its events', () => {
    const s = setup();
    toBound(s);
    expect(s.events.filter((e) => e.kind === 'dhcp').map((e) => [e.state, e.addr, e.server])).toEqual([['bound', OFFERED, SERVER]]);
  });

  it('takes an ACK without a server id option from the server it asked (by its IP source)', () => {
    const s = setup();
    const req = toRequesting(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid, { serverId: undefined }));
    expect(s.dhcp.counters.acksRx).toBe(1);
    expect(s.dhcp.state).toBe('probing');
  });

  it('drops a message the parser refuses after the framing check (a non-Ethernet hardware type)', () => {
    const s = setup();
    s.dhcp.start();
    const f = reply(DhcpMessageType.Offer, one(s.dev).r.xid);
    f[14 + 20 + 8 + 1] = 6; // htype: IEEE 802
    f[14 + 20 + 6] = 0; // no UDP checksum
    f[14 + 20 + 7] = 0;
    s.stack.processFrame(f);
    expect(s.dhcp.counters.drops.malformed).toBe(1);
    expect(s.dhcp.counters.drops['not-server']).toBe(0);
  });
});

describe('DHCP client: renewing and rebinding in detail', () => {
  /** Bound with a 1000 s lease, then at T1 with the server's MAC resolved: returns the first unicast REQUEST. */
  function renewing(s: ReturnType<typeof setup>): SentDhcp {
    toBound(s, { leaseTime: 1000 });
    s.advance(s.dhcp.info().lease!.t1At! - s.clock.t);
    return resolved(s);
  }
  /** The unicast REQUEST that waited for the server's MAC (the ARP cache forgets it after 60 s). */
  function resolved(s: ReturnType<typeof setup>): SentDhcp {
    s.dev.take();
    s.stack.processFrame(arpFrame(OUR_MAC, SERVER_MAC, new ArpRepr(ArpOperation.Reply, SERVER_MAC, SERVER, OUR_MAC, OFFERED)));
    return one(s.dev);
  }

  it('keeps its xid across retransmissions in RENEWING and in REBINDING, and counts each REQUEST', () => {
    const s = setup();
    const first = renewing(s);
    expect(s.dhcp.counters.requestsTx).toBe(2); // REQUESTING's and this one
    s.advance(s.dhcp.pollAt()! - s.clock.t);
    const again = resolved(s);
    expect(again.r.xid).toBe(first.r.xid);
    expect(s.dhcp.counters.requestsTx).toBe(3);
    expect(s.dhcp.state).toBe('renewing');
    const l = s.dhcp.info().lease!;
    s.advance(l.t2At! - s.clock.t);
    s.dev.take();
    const rebind = s.dhcp.info().xid;
    expect(rebind).not.toBe(first.r.xid);
    s.advance(s.dhcp.pollAt()! - s.clock.t);
    const retrans = dhcpOut(s.dev.take());
    expect(retrans.map((m) => [m.r.xid, m.dst])).toEqual([[rebind, 0xffff_ffff]]);
    expect(s.dhcp.state).toBe('rebinding');
    expect(s.events.filter((e) => e.kind === 'dhcp').map((e) => e.state)).toEqual(['bound', 'renewing', 'rebinding']);
    // The answer to the first REQUEST of this transaction is still taken.
    s.stack.processFrame(reply(DhcpMessageType.Ack, rebind, { leaseTime: 1000 }));
    expect(s.dhcp.state).toBe('bound');
    expect(s.dhcp.counters.acksRx).toBe(2);
  });

  it('in RENEWING drops an ACK from another server or for another address, and an OFFER; takes a NAK', () => {
    const s = setup();
    const req = renewing(s);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid, { serverId: SERVER2, from: SERVER2, fromMac: SERVER2_MAC }));
    expect(s.dhcp.counters.drops['wrong-server']).toBe(1);
    s.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid, { yiaddr: ip('10.77.0.151') }));
    expect(s.dhcp.counters.drops['bad-address']).toBe(1);
    s.stack.processFrame(reply(DhcpMessageType.Offer, req.r.xid));
    expect(s.dhcp.counters.drops.unexpected).toBe(1);
    expect(s.dhcp.state).toBe('renewing');
    expect(s.dhcp.counters.acksRx).toBe(1);
    // Without a server id option the server is the IP source: ours, so its NAK counts.
    s.stack.processFrame(reply(DhcpMessageType.Nak, req.r.xid, { serverId: undefined, yiaddr: 0, leaseTime: undefined }));
    expect(s.dhcp.counters.naksRx).toBe(1);
    expect(s.dhcp.state).toBe('selecting');
    expect(s.stack.ipv4.addr).toBe(0);
  });

  it('stop() in RENEWING or REBINDING releases the lease; stop() while probing sends nothing more', () => {
    const s = setup();
    renewing(s);
    s.dhcp.stop();
    expect(one(s.dev).r.messageType).toBe(DhcpMessageType.Release);
    const r = setup();
    toBound(r, { leaseTime: 1000 });
    r.advance(r.dhcp.info().lease!.t2At! - r.clock.t);
    expect(r.dhcp.state).toBe('rebinding');
    r.dev.take();
    r.dhcp.stop();
    expect(one(r.dev).r.messageType).toBe(DhcpMessageType.Release);
    const p = setup();
    const req = toRequesting(p);
    p.stack.processFrame(reply(DhcpMessageType.Ack, req.r.xid));
    p.dhcp.stop();
    p.advance(20 * S);
    expect(p.dev.take()).toHaveLength(0);
    expect(p.dhcp.counters.releasesTx).toBe(0);
    expect(p.stack.ipv4.addr).toBe(0);
  });

  it('stop() before any lease leaves a configured address alone', () => {
    const s = setup({}, { ipv4: { addr: ip('10.77.0.10'), prefixLen: 24 } });
    s.dhcp.start();
    s.dhcp.stop();
    expect(s.stack.ipv4.addr).toBe(ip('10.77.0.10'));
  });
});

describe('DHCP client: a configured gateway', () => {
  it('keeps the configured gateway when the lease names no router', () => {
    const s = setup({}, { gateway: SERVER2 });
    s.dhcp.start();
    const disc = one(s.dev);
    s.stack.processFrame(reply(DhcpMessageType.Offer, disc.r.xid, { router: undefined }));
    s.stack.processFrame(reply(DhcpMessageType.Ack, one(s.dev).r.xid, { router: undefined }));
    s.advance(10 * S);
    expect(s.dhcp.state).toBe('bound');
    s.dev.take();
    expect(s.stack.sendUdp(5000, ip('10.99.0.1'), 9, new Uint8Array(1))).toBe(true);
    expect(arpOut(s.dev.take()).map((a) => a.targetIp)).toEqual([SERVER2]);
  });
});
