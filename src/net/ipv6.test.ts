// IPv6 ingress and egress on one interface (ipv6.ts): which destinations a packet may be sent
// to and by which next hop (on-link prefix, default router, their lifetimes to the µs), which
// source address is chosen for each scope, the MTU, and every ingress drop a peer can provoke
// (wrong destination, impossible source, bad checksum, messages we do not act on).
import { describe, expect, it } from 'vitest';
import { IPV6_ALL_NODES, IPV6_UNSPECIFIED, linkLocalFromMac, multicastMacIpv6, parseIpv6, solicitedNode } from '../wire/index.js';
import type { Icmpv6Repr, Ipv6 } from '../wire/index.js';
import { InterfaceInner } from './iface.js';
import type { NetConfig } from './iface.js';
import { IPV6_SOCKETS } from './ipv6-iface.js';
import { dispatchIcmpv6, ipv6Protocol, processIpv6, selectSource } from './ipv6.js';
import { ManualNow, OUR_IP, OUR_MAC, PEER_MAC, RecordingDevice, decodeIcmpv6, icmpv6Frame, newStack, routerAdvert } from './testing.js';
import type { PrefixOpt } from './testing.js';

const v6 = (s: string): Ipv6 => parseIpv6(s)!;
const OUR_LL = linkLocalFromMac(OUR_MAC);
const PEER_LL = linkLocalFromMac(PEER_MAC);
const PREFIX = v6('2001:db8:77::');
const OUR_GLOBAL = v6('2001:db8:77::4e:53ff:fe00:a');
const ALL_NODES_MAC = multicastMacIpv6(IPV6_ALL_NODES);
const SECOND = 1_000_000;

const echo = (data = new Uint8Array(4), kind: 'echo-request' | 'echo-reply' = 'echo-request'): Icmpv6Repr => ({ kind, ident: 7, seqNo: 1, data });

const ra = routerAdvert;

/** An interface with IPv6 installed whose link-local address has passed DAD; nothing left on the device. */
function ready(extra: Partial<NetConfig> = {}) {
  const dev = new RecordingDevice();
  const clock = new ManualNow();
  const inner = new InterfaceInner({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 }, ...extra }, dev, clock.now);
  ipv6Protocol.install(inner);
  const v6s = inner.sockets.require(IPV6_SOCKETS);
  v6s.start();
  const tick = (us: number): void => {
    clock.advance(us);
    inner.sockets.poll(clock.t);
  };
  tick(SECOND);
  dev.take();
  /** One ICMPv6 message from the wire (its Ethernet header stripped, as the link layer does). */
  const rx = (src: Ipv6, dst: Ipv6, r: Icmpv6Repr, o: { hop?: number; l2Group?: boolean } = {}): void =>
    processIpv6(inner, icmpv6Frame(OUR_MAC, PEER_MAC, src, dst, r, o.hop ?? 255).subarray(14), { srcMac: PEER_MAC, l2Group: o.l2Group ?? false });
  return { dev, clock, inner, v6s, tick, rx };
}

/** The same, having taken a router advertisement (router PEER_LL, its MAC known) and passed DAD on what it formed. */
function withRa(prefixes: PrefixOpt[], routerLifetime = 1800, extra: Partial<NetConfig> = {}) {
  const s = ready(extra);
  s.rx(PEER_LL, IPV6_ALL_NODES, ra(prefixes, routerLifetime));
  s.tick(SECOND);
  s.dev.take();
  return s;
}

describe('egress: where a packet may go', () => {
  it('refuses to send to ::, loopback, or an address of our own', () => {
    const { inner, dev } = withRa([{ prefix: PREFIX, valid: 3600, preferred: 1800 }]);
    const sent = inner.counters.ipv6Tx;
    for (const dst of [IPV6_UNSPECIFIED, v6('::1'), OUR_GLOBAL, OUR_LL]) expect(dispatchIcmpv6(inner, OUR_GLOBAL, dst, echo())).toBe(false);
    expect(inner.counters.txDropped['no-route']).toBe(4);
    expect(inner.counters.ipv6Tx).toBe(sent);
    expect(dev.take()).toHaveLength(0);
  });

  it('sends to a group straight to its multicast MAC, counting the packet', () => {
    const { inner, dev } = ready();
    const [sent, frames] = [inner.counters.ipv6Tx, inner.counters.txFrames];
    expect(dispatchIcmpv6(inner, OUR_LL, IPV6_ALL_NODES, echo(), 1)).toBe(true);
    const [out] = decodeIcmpv6(dev.take());
    expect(out).toEqual({ ethDst: ALL_NODES_MAC, src: OUR_LL, dst: IPV6_ALL_NODES, hopLimit: 1, msg: echo() });
    expect(inner.counters.ipv6Tx).toBe(sent + 1);
    expect(inner.counters.txFrames).toBe(frames + 1);
  });

  it('resolves an address in an on-link prefix itself, and anything else through the router', () => {
    const { inner, dev } = withRa([{ prefix: PREFIX, valid: 3600, preferred: 1800, autonomous: false }]);
    const onLink = v6('2001:db8:77::99');
    expect(dispatchIcmpv6(inner, OUR_LL, onLink, echo())).toBe(true);
    const [ns] = decodeIcmpv6(dev.take());
    expect(ns).toMatchObject({ dst: solicitedNode(onLink), msg: { kind: 'neighbor-solicit', target: onLink } });
    // Off-link: the router's MAC is known from its advertisement, so the packet leaves at once.
    const far = v6('2001:db8:99::1');
    expect(dispatchIcmpv6(inner, OUR_LL, far, echo())).toBe(true);
    const [out] = decodeIcmpv6(dev.take());
    expect(out).toMatchObject({ ethDst: PEER_MAC, dst: far, msg: { kind: 'echo-request' } });
  });

  it('stops treating a prefix as on-link the microsecond its valid lifetime ends', () => {
    const { inner, dev, clock } = withRa([{ prefix: PREFIX, valid: 10, preferred: 5, autonomous: false }]);
    const onLink = v6('2001:db8:77::99');
    clock.advance(8 * SECOND); // 9 s after the RA, no poll: the prefix still counts
    expect(dispatchIcmpv6(inner, OUR_LL, onLink, echo())).toBe(true);
    expect(decodeIcmpv6(dev.take())[0]!.msg.kind).toBe('neighbor-solicit');
    const other = v6('2001:db8:77::98');
    clock.advance(SECOND); // exactly at its end
    expect(dispatchIcmpv6(inner, OUR_LL, other, echo())).toBe(true);
    expect(decodeIcmpv6(dev.take())).toMatchObject([{ ethDst: PEER_MAC, dst: other, msg: { kind: 'echo-request' } }]);
  });

  it('has no route off-link without a router, or once its lifetime has ended', () => {
    const noRouter = withRa([{ prefix: PREFIX, valid: 3600, preferred: 1800 }], 0);
    expect(dispatchIcmpv6(noRouter.inner, OUR_GLOBAL, v6('2001:db8:99::1'), echo())).toBe(false);
    expect(noRouter.inner.counters.txDropped['no-route']).toBe(1);

    const { inner, dev, clock } = withRa([], 10);
    const far = v6('2001:db8:99::1');
    clock.advance(8 * SECOND);
    expect(dispatchIcmpv6(inner, OUR_LL, far, echo())).toBe(true);
    expect(dev.take()).toHaveLength(1);
    clock.advance(SECOND); // the router's lifetime ends now, not a microsecond later
    expect(dispatchIcmpv6(inner, OUR_LL, far, echo())).toBe(false);
    expect(inner.counters.txDropped['no-route']).toBe(1);
  });

  it('resolves a link-local destination on the link whatever the prefixes', () => {
    const { inner, dev } = ready();
    expect(dispatchIcmpv6(inner, OUR_LL, PEER_LL, echo())).toBe(true);
    expect(decodeIcmpv6(dev.take())).toMatchObject([{ dst: solicitedNode(PEER_LL), msg: { kind: 'neighbor-solicit', target: PEER_LL } }]);
  });

  it('refuses a packet larger than the MTU, and sends one that is exactly the MTU', () => {
    const { inner, dev } = ready({ mtu: 1280 });
    // 40 (IPv6) + 8 (echo header) + data.
    expect(dispatchIcmpv6(inner, OUR_LL, IPV6_ALL_NODES, echo(new Uint8Array(1233)))).toBe(false);
    expect(inner.counters.txDropped['too-big']).toBe(1);
    expect(dispatchIcmpv6(inner, OUR_LL, IPV6_ALL_NODES, echo(new Uint8Array(1232)))).toBe(true);
    expect(dev.take()[0]!.length).toBe(14 + 1280);
  });

  it('has no route when IPv6 is not installed', () => {
    const inner = new InterfaceInner({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 } }, new RecordingDevice(), () => 0);
    expect(dispatchIcmpv6(inner, OUR_LL, IPV6_ALL_NODES, echo())).toBe(false);
    expect(inner.counters.txDropped['no-route']).toBe(1);
  });
});

describe('source selection', () => {
  it('uses the link-local address for link-local destinations and link- or node-scope groups', () => {
    const { v6s } = withRa([{ prefix: PREFIX, valid: 3600, preferred: 1800 }]);
    for (const dst of [PEER_LL, IPV6_ALL_NODES, v6('ff01::1'), v6('ff02::1:ff00:1')]) expect(selectSource(v6s, dst)).toBe(OUR_LL);
    for (const dst of [v6('ff05::2'), v6('ff0e::1'), v6('ff03::1'), v6('2001:db8:99::1')]) expect(selectSource(v6s, dst)).toBe(OUR_GLOBAL);
  });

  it('prefers a preferred global address over a deprecated one, and a deprecated one over the link-local', () => {
    const other = v6('2001:db8:88::4e:53ff:fe00:a');
    // Preferred lifetime 0: the address is deprecated from the start (it is listed first).
    const { v6s } = withRa([
      { prefix: PREFIX, valid: 3600, preferred: 0 },
      { prefix: v6('2001:db8:88::'), valid: 3600, preferred: 1800 },
    ]);
    expect(v6s.info().map((a) => [a.addr, a.state])).toEqual([
      [OUR_LL, 'preferred'],
      [OUR_GLOBAL, 'deprecated'],
      [other, 'preferred'],
    ]);
    expect(selectSource(v6s, v6('2001:db8:99::1'))).toBe(other);
    const only = withRa([{ prefix: PREFIX, valid: 3600, preferred: 0 }]);
    expect(selectSource(only.v6s, v6('2001:db8:99::1'))).toBe(OUR_GLOBAL);
  });

  it('falls back to the link-local address while a global one is tentative, and has none before DAD', () => {
    const s = ready();
    s.rx(PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }], 1800));
    expect(s.v6s.info().find((a) => a.addr === OUR_GLOBAL)!.state).toBe('tentative');
    expect(selectSource(s.v6s, v6('2001:db8:99::1'))).toBe(OUR_LL);
    const dev = new RecordingDevice();
    const inner = new InterfaceInner({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 } }, dev, () => 0);
    ipv6Protocol.install(inner);
    const fresh = inner.sockets.require(IPV6_SOCKETS);
    fresh.start();
    expect(selectSource(fresh, v6('2001:db8:99::1'))).toBeUndefined();
    expect(selectSource(fresh, PEER_LL)).toBeUndefined();
  });
});

describe('ingress', () => {
  it('counts each IPv6 packet it parses, and refuses malformed ones by name', () => {
    const { inner, rx } = ready();
    processIpv6(inner, new Uint8Array(20), { srcMac: PEER_MAC, l2Group: false });
    expect(inner.counters.rxMalformed['ipv6:truncated']).toBe(1);
    expect(inner.counters.ipv6Rx).toBe(0);
    const bad = icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, echo(), 64).subarray(14);
    bad[40 + 2]! ^= 0xff; // the ICMPv6 checksum
    processIpv6(inner, bad, { srcMac: PEER_MAC, l2Group: false });
    expect(inner.counters.rxMalformed['icmpv6:bad-checksum']).toBe(1);
    // A neighbour solicitation too short to hold its target (checksum right).
    rx(PEER_LL, OUR_LL, { kind: 'other', type: 135, code: 0, rest: new Uint8Array(4) });
    expect(inner.counters.rxMalformed['icmpv6:truncated']).toBe(1);
    expect(inner.counters.rxDropped.malformed).toBe(3);
    expect(inner.counters.ipv6Rx).toBe(2);
    expect(inner.counters.rxHandled).toBe(0);
  });

  it('takes only what is addressed to us: our addresses, all-nodes, our solicited-node groups', () => {
    const { inner, rx } = ready();
    rx(PEER_LL, v6('fe80::99'), echo());
    rx(PEER_LL, solicitedNode(v6('fe80::99')), echo(), { l2Group: true });
    rx(PEER_LL, v6('ff02::2'), echo(), { l2Group: true });
    expect(inner.counters.rxDropped['not-for-us']).toBe(3);
    // Our own address, but it came to a link-layer group: someone is playing tricks.
    rx(PEER_LL, OUR_LL, echo(), { l2Group: true });
    expect(inner.counters.rxDropped['not-for-us']).toBe(4);
    expect(inner.counters.icmpv6EchoRequestsRx).toBe(0);
    rx(PEER_LL, solicitedNode(OUR_LL), echo(), { l2Group: true });
    rx(PEER_LL, IPV6_ALL_NODES, echo(), { l2Group: true });
    expect(inner.counters.rxDropped['multicast-echo']).toBe(2);
  });

  it('refuses impossible sources: a group, loopback, our own address, and :: asking for an echo', () => {
    const { inner, rx, dev } = ready();
    for (const src of [v6('ff02::1'), v6('::1'), OUR_LL, IPV6_UNSPECIFIED]) rx(src, OUR_LL, echo());
    expect(inner.counters.rxDropped['bad-src']).toBe(4);
    expect(inner.counters.icmpv6EchoRequestsRx).toBe(1); // only the one from :: got as far as the echo
    expect(dev.take()).toHaveLength(0);
  });

  it('answers an echo request, counting it and the reply', () => {
    const { inner, rx, dev } = withRa([], 1800);
    const data = Uint8Array.of(1, 2, 3);
    rx(PEER_LL, OUR_LL, echo(data), { hop: 64 });
    expect(decodeIcmpv6(dev.take())).toEqual([{ ethDst: PEER_MAC, src: OUR_LL, dst: PEER_LL, hopLimit: 64, msg: echo(data, 'echo-reply') }]);
    expect(inner.counters.icmpv6EchoRequestsRx).toBe(1);
    expect(inner.counters.icmpv6EchoRepliesTx).toBe(1);
    expect(inner.counters.rxHandled).toBe(2); // the RA and the echo
  });

  it('acts on no echo reply or error (unsupported), and on nothing sent to a tentative address but ND', () => {
    const s = ready();
    s.rx(PEER_LL, OUR_LL, echo(new Uint8Array(1), 'echo-reply'));
    s.rx(PEER_LL, OUR_LL, { kind: 'other', type: 1, code: 0, rest: new Uint8Array(40) });
    expect(s.inner.counters.rxDropped.unsupported).toBe(2);
    s.rx(PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }], 1800));
    s.rx(PEER_LL, OUR_GLOBAL, echo(new Uint8Array(1), 'echo-reply'));
    s.rx(PEER_LL, OUR_GLOBAL, echo());
    expect(s.inner.counters.rxDropped.tentative).toBe(2);
    // A router solicitation is Neighbor Discovery's to judge, even to a tentative address.
    s.rx(PEER_LL, OUR_GLOBAL, { kind: 'router-solicit', options: [] });
    expect(s.inner.counters.rxDropped.unsupported).toBe(3);
    s.rx(PEER_LL, OUR_LL, { kind: 'router-solicit', options: [] }, { hop: 64 });
    expect(s.inner.counters.rxDropped['nd-invalid']).toBe(1);
  });

  it('drops IPv6 as an unknown EtherType when called without IPv6 installed', () => {
    const inner = new InterfaceInner({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 } }, new RecordingDevice(), () => 0);
    processIpv6(inner, icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, echo()).subarray(14), { srcMac: PEER_MAC, l2Group: false });
    expect(inner.counters.rxDropped['unknown-ethertype']).toBe(1);
    expect(inner.counters.ipv6Rx).toBe(0);
    expect(() => inner.sockets.require(IPV6_SOCKETS)).toThrow('socket set: ipv6 not installed');
  });

  it('is installed under the name ipv6 and publishes its usable addresses', () => {
    const { stack, dev, clock } = newStack();
    stack.install(ipv6Protocol);
    expect(stack.protocols).toContain('ipv6');
    stack.sockets.require(IPV6_SOCKETS).start();
    clock.advance(SECOND);
    stack.poll();
    expect(dev.addresses).toEqual([OUR_IP, OUR_LL]);
  });
});
