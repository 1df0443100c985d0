// IPv6 on one stack, on the manual clock: DAD (success, the three ways it fails), answering and
// sending neighbour solicitations, the bounded cache and queues, SLAAC from a router
// advertisement with its lifetimes, echo, and the drops an attacker would aim for.
import { describe, expect, it } from 'vitest';
import { IPV6_ALL_NODES, formatIpv6, linkLocalFromMac, multicastMacIpv6, parseIpv6, solicitedNode } from '../wire/index.js';
import type { Icmpv6Repr, Ipv6, Mac } from '../wire/index.js';
import { IPV6_SOCKETS } from './ipv6-iface.js';
import { dispatchIcmpv6, ipv6Protocol } from './ipv6.js';
import type { NetConfig } from './iface.js';
import type { NetStack } from './stack.js';
import { OUR_MAC, PEER_MAC, decodeIcmpv6 as decode, icmpv6Frame, newStack, routerAdvert } from './testing.js';

const v6 = (s: string): Ipv6 => parseIpv6(s)!;
const OUR_LL = linkLocalFromMac(OUR_MAC); // fe80::4e:53ff:fe00:a
const PEER_LL = linkLocalFromMac(PEER_MAC);
const UNSPEC = v6('::');
const PREFIX = v6('2001:db8:77::');
const OUR_GLOBAL = v6('2001:db8:77::4e:53ff:fe00:a');

function ipv6Stack(extra: Partial<NetConfig> = {}) {
  const s = newStack(extra);
  s.stack.install(ipv6Protocol);
  return s;
}

const v6Of = (stack: NetStack) => stack.sockets.require(IPV6_SOCKETS);
const start = (stack: NetStack): void => v6Of(stack).start();
const addrs = (stack: NetStack) => v6Of(stack).info();

/** A stack whose link-local address has passed DAD (the first RS is taken off the device too). */
function readyStack(extra: Partial<NetConfig> = {}) {
  const s = ipv6Stack(extra);
  start(s.stack);
  s.dev.take();
  s.clock.advance(1_000_000);
  s.stack.poll();
  s.dev.take();
  return s;
}

const ns = (target: Ipv6, mac?: Mac): Icmpv6Repr => ({ kind: 'neighbor-solicit', target, options: mac === undefined ? [] : [{ kind: 'source-lladdr', mac }] });
const na = (target: Ipv6, mac: Mac, solicited = false): Icmpv6Repr => ({ kind: 'neighbor-advert', router: false, solicited, override: true, target, options: [{ kind: 'target-lladdr', mac }] });
const ra = routerAdvert;
const ALL_NODES_MAC = multicastMacIpv6(IPV6_ALL_NODES);

describe('IPv6 start and duplicate address detection', () => {
  it('joins all-nodes and the solicited-node group, probes from ::, then uses the link-local address and solicits routers', () => {
    const { dev, clock, stack } = ipv6Stack();
    expect(formatIpv6(OUR_LL)).toBe('fe80::4e:53ff:fe00:a');
    start(stack);
    expect(dev.groups).toEqual(new Set([ALL_NODES_MAC, multicastMacIpv6(solicitedNode(OUR_LL))]));
    const [probe] = decode(dev.take());
    expect(probe).toEqual({ ethDst: multicastMacIpv6(solicitedNode(OUR_LL)), src: UNSPEC, dst: solicitedNode(OUR_LL), hopLimit: 255, msg: ns(OUR_LL) });
    expect(addrs(stack)).toMatchObject([{ addr: OUR_LL, state: 'tentative', origin: 'link-local' }]);
    expect(dev.addresses).toEqual([]);
    expect(stack.pollAt()).toBe(clock.t + 1_000_000);
    clock.advance(999_999);
    stack.poll();
    expect(addrs(stack)[0]!.state).toBe('tentative');
    clock.advance(1);
    stack.poll();
    expect(addrs(stack)[0]!.state).toBe('preferred');
    // Published to the nanokernel with the IPv4 address, so its source check lets them out.
    expect(dev.addresses).toEqual([stack.ipv4.addr, OUR_LL]);
    const [rs] = decode(dev.take());
    expect(rs).toMatchObject({ dst: v6('ff02::2'), src: OUR_LL, hopLimit: 255, msg: { kind: 'router-solicit', options: [{ kind: 'source-lladdr', mac: OUR_MAC }] } });
    // Two more RS, 4 s apart, then silence.
    clock.advance(4_000_000);
    stack.poll();
    clock.advance(4_000_000);
    stack.poll();
    clock.advance(4_000_000);
    stack.poll();
    expect(stack.counters.ndpRouterSolicitsTx).toBe(3);
  });

  it('gives the address up when someone answers the probe (NA) or probes for it too (NS from ::)', () => {
    for (const msg of [na(OUR_LL, PEER_MAC), ns(OUR_LL)]) {
      const { dev, clock, stack } = ipv6Stack();
      start(stack);
      dev.take();
      const src = msg.kind === 'neighbor-advert' ? OUR_LL : UNSPEC;
      const dst = msg.kind === 'neighbor-advert' ? IPV6_ALL_NODES : solicitedNode(OUR_LL);
      stack.processFrame(icmpv6Frame(multicastMacIpv6(dst), PEER_MAC, src, dst, msg));
      expect(addrs(stack)[0]!.state).toBe('duplicate');
      expect(stack.counters.dadFailures).toBe(1);
      clock.advance(5_000_000);
      stack.poll();
      expect(addrs(stack)[0]!.state).toBe('duplicate');
      expect(dev.addresses).toEqual([]);
      expect(dev.take()).toHaveLength(0); // no RS without a link-local address
    }
  });

  it('gives the address up when the nanokernel refuses it (another local guest holds it)', () => {
    const { dev, clock, stack } = ipv6Stack();
    dev.refuse.add(OUR_LL);
    start(stack);
    clock.advance(1_000_000);
    stack.poll();
    expect(addrs(stack)[0]!.state).toBe('duplicate');
    expect(stack.counters.dadFailures).toBe(1);
  });

  it('drops echo requests to a tentative address', () => {
    const { dev, stack } = ipv6Stack();
    start(stack);
    dev.take();
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) }, 64));
    expect(stack.counters.rxDropped.tentative).toBe(1);
    expect(dev.take()).toHaveLength(0);
  });
});

describe('Neighbor solicitation and advertisement', () => {
  it('answers an NS for our address with a solicited NA to the asker, learning its MAC', () => {
    const { dev, stack } = readyStack();
    stack.processFrame(icmpv6Frame(multicastMacIpv6(solicitedNode(OUR_LL)), PEER_MAC, PEER_LL, solicitedNode(OUR_LL), ns(OUR_LL, PEER_MAC)));
    const [out] = decode(dev.take());
    expect(out).toEqual({ ethDst: PEER_MAC, src: OUR_LL, dst: PEER_LL, hopLimit: 255, msg: na(OUR_LL, OUR_MAC, true) });
    expect(stack.counters.ndpAdvertsTx).toBe(1);
  });

  it('defends a preferred address against a DAD probe with an NA to all nodes', () => {
    const { dev, stack } = readyStack();
    stack.processFrame(icmpv6Frame(multicastMacIpv6(solicitedNode(OUR_LL)), PEER_MAC, UNSPEC, solicitedNode(OUR_LL), ns(OUR_LL)));
    const [out] = decode(dev.take());
    expect(out).toMatchObject({ ethDst: ALL_NODES_MAC, dst: IPV6_ALL_NODES, msg: { kind: 'neighbor-advert', solicited: false, target: OUR_LL } });
  });

  it('requires hop limit 255 and refuses invalid solicitations by name', () => {
    const { dev, stack } = readyStack();
    const sn = solicitedNode(OUR_LL);
    const snMac = multicastMacIpv6(sn);
    stack.processFrame(icmpv6Frame(snMac, PEER_MAC, PEER_LL, sn, ns(OUR_LL, PEER_MAC), 254)); // crossed a router
    stack.processFrame(icmpv6Frame(snMac, PEER_MAC, UNSPEC, sn, ns(OUR_LL, PEER_MAC))); // DAD probe with an lladdr option
    stack.processFrame(icmpv6Frame(snMac, PEER_MAC, PEER_LL, sn, ns(v6('ff02::1'), PEER_MAC))); // multicast target
    expect(stack.counters.rxDropped['nd-invalid']).toBe(3);
    stack.processFrame(icmpv6Frame(snMac, 0x02_4e_53_00_00_0b, v6('ff02::5'), sn, ns(OUR_LL, PEER_MAC))); // multicast source
    expect(stack.counters.rxDropped['bad-src']).toBe(1);
    stack.processFrame(icmpv6Frame(snMac, PEER_MAC, PEER_LL, sn, ns(v6('fe80::99'), PEER_MAC))); // not our target
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
    expect(dev.take()).toHaveLength(0);
    const c = stack.counters;
    const dropped = Object.values(c.rxDropped).reduce((a, b) => a + b, 0);
    expect(c.rxFrames).toBe(c.rxHandled + dropped);
  });

  it('counts an NA claiming our preferred address as a conflict and keeps the address', () => {
    const { stack } = readyStack();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, na(OUR_LL, PEER_MAC)));
    expect(stack.counters.ndpConflicts).toBe(1);
    expect(stack.counters.rxDropped['nd-conflict']).toBe(1);
    expect(addrs(stack)[0]!.state).toBe('preferred');
  });

  it('ignores unsolicited NAs for neighbours it is not resolving (no cache poisoning)', () => {
    const { stack } = readyStack();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, na(v6('fe80::77'), PEER_MAC)));
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
  });
});

describe('ICMPv6 echo', () => {
  it('answers an echo request (resolving the asker first) and refuses one sent to a group', () => {
    const { dev, clock, stack } = readyStack();
    const data = Uint8Array.from([1, 2, 3, 4, 5]);
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'echo-request', ident: 9, seqNo: 3, data }, 64));
    // The asker is unknown: an NS for it goes out first, the reply waits.
    const [sol] = decode(dev.take());
    expect(sol).toMatchObject({ dst: solicitedNode(PEER_LL), src: OUR_LL, msg: { kind: 'neighbor-solicit', target: PEER_LL } });
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, na(PEER_LL, PEER_MAC, true)));
    const [reply] = decode(dev.take());
    expect(reply).toEqual({ ethDst: PEER_MAC, src: OUR_LL, dst: PEER_LL, hopLimit: 64, msg: { kind: 'echo-reply', ident: 9, seqNo: 3, data } });
    expect(stack.counters.icmpv6EchoRepliesTx).toBe(1);
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, { kind: 'echo-request', ident: 9, seqNo: 4, data }, 64));
    expect(stack.counters.rxDropped['multicast-echo']).toBe(1);
    expect(dev.take()).toHaveLength(0);
    clock.advance(1);
  });

  it('gives up on a neighbour that never answers, dropping what waited, and bounds the queue', () => {
    const { dev, clock, stack } = readyStack();
    const req = (seq: number) => icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'echo-request', ident: 1, seqNo: seq, data: new Uint8Array(1) }, 64);
    for (let i = 0; i < 6; i++) stack.processFrame(req(i));
    expect(stack.counters.txDropped['nd-queue-full']).toBe(2);
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000_000);
      stack.poll();
    }
    expect(stack.counters.ndpSolicitsTx).toBe(3 + 1); // three for the peer, one DAD probe
    expect(stack.counters.txDropped['nd-failed']).toBe(4);
    expect(dev.take().length).toBe(3);
  });

  it('drops other next headers as unknown-protocol', () => {
    const { stack } = readyStack();
    const f = icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) }, 64);
    f[14 + 6] = 44; // a fragment header
    stack.processFrame(f);
    expect(stack.counters.rxDropped['unknown-protocol']).toBe(1);
  });

  it('is off unless installed: IPv6 frames are an unknown EtherType', () => {
    const { stack } = newStack();
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) }, 64));
    expect(stack.counters.rxDropped['unknown-ethertype']).toBe(1);
    expect(stack.sockets.get(IPV6_SOCKETS)).toBeUndefined();
    expect(stack.protocols).not.toContain('ipv6');
  });
});

describe('SLAAC from router advertisements', () => {
  const raFrame = (r: Icmpv6Repr, hop = 255, src = PEER_LL) => icmpv6Frame(ALL_NODES_MAC, PEER_MAC, src, IPV6_ALL_NODES, r, hop);

  it('forms an address from an autonomous /64, probes it, uses it, and routes off-link through the router', () => {
    const { dev, clock, stack } = readyStack();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }])));
    expect(stack.counters.ndpRouterAdvertsRx).toBe(1);
    const [probe] = decode(dev.take());
    expect(probe).toMatchObject({ src: UNSPEC, msg: { kind: 'neighbor-solicit', target: OUR_GLOBAL } });
    expect(addrs(stack).find((a) => a.addr === OUR_GLOBAL)).toMatchObject({ state: 'tentative', origin: 'slaac', prefixLen: 64 });
    clock.advance(1_000_000);
    stack.poll();
    expect(addrs(stack).find((a) => a.addr === OUR_GLOBAL)!.state).toBe('preferred');
    expect(dev.addresses).toContain(OUR_GLOBAL);
    // A ping from off-link to the global address: the reply goes via the router's MAC (learnt from the RA).
    const far = v6('2001:db8:99::1');
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, far, OUR_GLOBAL, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(2) }, 60));
    const [reply] = decode(dev.take());
    expect(reply).toMatchObject({ ethDst: PEER_MAC, src: OUR_GLOBAL, dst: far, msg: { kind: 'echo-reply' } });
  });

  it('deprecates at the preferred lifetime, removes at the valid lifetime, and unpublishes', () => {
    const { dev, clock, stack } = readyStack();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 20, preferred: 10 }], 0)));
    clock.advance(1_000_000);
    stack.poll();
    expect(dev.addresses).toContain(OUR_GLOBAL);
    clock.advance(9_000_000);
    stack.poll();
    expect(addrs(stack).find((a) => a.addr === OUR_GLOBAL)!.state).toBe('deprecated');
    expect(stack.pollAt()).toBeLessThanOrEqual(clock.t + 10_000_000);
    clock.advance(10_000_000);
    stack.poll();
    expect(addrs(stack).map((a) => a.addr)).toEqual([OUR_LL]);
    expect(dev.addresses).not.toContain(OUR_GLOBAL);
  });

  it('never lets an RA cut a remaining lifetime below two hours (RFC 4862 5.5.3 e)', () => {
    const { clock, stack } = readyStack();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 86400, preferred: 3600 }])));
    clock.advance(1_000_000);
    stack.poll();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 10, preferred: 5 }])));
    const e = addrs(stack).find((a) => a.addr === OUR_GLOBAL)!;
    expect(e.validUntil).toBe(clock.t + 7200_000_000);
  });

  it('refuses RAs with hop limit below 255 or from a non-link-local source, and ignores non-/64 or non-autonomous prefixes', () => {
    const { stack } = readyStack();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }]), 64));
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }]), 255, v6('2001:db8::1')));
    expect(stack.counters.rxDropped['nd-invalid']).toBe(2);
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 3600, preferred: 1800, len: 48 }])));
    stack.processFrame(raFrame(ra([{ prefix: v6('2001:db8:5::'), valid: 3600, preferred: 1800, autonomous: false }])));
    stack.processFrame(raFrame(ra([{ prefix: v6('2001:db8:6::'), valid: 10, preferred: 20 }]))); // preferred > valid
    expect(addrs(stack).map((a) => a.addr)).toEqual([OUR_LL]);
  });

  it('bounds the autoconfigured addresses', () => {
    const { stack } = readyStack({ nd: { slaacMax: 2 } });
    const prefixes = ['2001:db8:1::', '2001:db8:2::', '2001:db8:3::'].map((p) => ({ prefix: v6(p), valid: 3600, preferred: 1800 }));
    stack.processFrame(raFrame(ra(prefixes)));
    expect(addrs(stack).filter((a) => a.origin === 'slaac')).toHaveLength(2);
    expect(stack.counters.rxDropped['nd-full']).toBe(1);
  });
});

describe('groups, start and address publication', () => {
  it('subscribes each group once, starts once, and keeps its groups when a SLAAC address goes', () => {
    const subscribed: Mac[] = [];
    const { dev, clock, stack } = ipv6Stack();
    dev.subscribe = (g: Mac): void => {
      subscribed.push(g);
      dev.groups.add(g);
    };
    start(stack);
    start(stack);
    expect(decode(dev.take())).toHaveLength(1); // one DAD probe
    clock.advance(1_000_000);
    stack.poll();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid: 5, preferred: 5 }])));
    // OUR_GLOBAL has the link-local's interface identifier: the same solicited-node group.
    expect(subscribed).toEqual([ALL_NODES_MAC, multicastMacIpv6(solicitedNode(OUR_LL))]);
    clock.advance(1_000_000);
    stack.poll();
    clock.advance(4_000_000);
    stack.poll();
    expect(addrs(stack).map((a) => a.addr)).toEqual([OUR_LL]);
    expect(dev.groups).toEqual(new Set(subscribed));
    dev.take();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(1) }, 64));
    expect(stack.counters.rxDropped['multicast-echo']).toBe(1); // all-nodes still taken
  });

  it('works on a device that takes no groups and no address set', () => {
    const { dev, clock, stack } = ipv6Stack();
    const bare = dev as { subscribe?: unknown; unsubscribe?: unknown; setAddresses?: unknown };
    bare.subscribe = undefined;
    bare.unsubscribe = undefined;
    bare.setAddresses = undefined;
    start(stack);
    clock.advance(1_000_000);
    stack.poll();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid: 3, preferred: 2 }])));
    clock.advance(1_000_000);
    stack.poll();
    expect(addrs(stack).map((a) => a.state)).toEqual(['preferred', 'preferred']);
    clock.advance(2_000_000);
    stack.poll();
    expect(addrs(stack).map((a) => a.addr)).toEqual([OUR_LL]);
  });

  it('republishes without an address the nanokernel refused', () => {
    const { dev, clock, stack } = ipv6Stack();
    dev.refuse.add(OUR_LL);
    start(stack);
    clock.advance(1_000_000);
    stack.poll();
    expect(dev.addresses).toEqual([stack.ipv4.addr]);
    expect(v6Of(stack).usableAddresses()).toEqual([]);
    expect(v6Of(stack).linkLocal()).toBeUndefined();
  });

  it('makes an address whose preferred lifetime ended during DAD deprecated, not preferred', () => {
    const { clock, stack } = readyStack();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid: 60, preferred: 1 }])));
    expect(v6Of(stack).usableAddresses()).toEqual([OUR_LL]);
    clock.advance(1_000_000);
    stack.poll();
    expect(addrs(stack).find((a) => a.addr === OUR_GLOBAL)!.state).toBe('deprecated');
    expect(v6Of(stack).usableAddresses()).toEqual([OUR_LL, OUR_GLOBAL]);
  });

  it('has no link-local source once its link-local address is duplicate, even with a global one', () => {
    const { dev, clock, stack } = ipv6Stack();
    start(stack);
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, OUR_LL, IPV6_ALL_NODES, na(OUR_LL, PEER_MAC)));
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }])));
    clock.advance(1_000_000);
    stack.poll();
    expect(addrs(stack).map((a) => a.state)).toEqual(['duplicate', 'preferred']);
    expect(v6Of(stack).linkLocal()).toBeUndefined();
    dev.take();
    clock.advance(4_000_000);
    stack.poll();
    expect(stack.counters.ndpRouterSolicitsTx).toBe(0);
    // An NS for the duplicate address is not ours to answer, nor is an NA about it.
    const sn = solicitedNode(OUR_LL);
    stack.processFrame(icmpv6Frame(multicastMacIpv6(sn), PEER_MAC, PEER_LL, sn, ns(OUR_LL, PEER_MAC)));
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, na(OUR_LL, PEER_MAC)));
    expect(stack.counters.rxDropped['not-for-us']).toBe(2);
    expect(stack.counters.ndpSolicitsRx).toBe(1);
    expect(stack.counters.ndpAdvertsRx).toBe(2);
    expect(dev.take()).toHaveLength(0);
  });
});

describe('neighbour solicitation details', () => {
  it('learns the MAC of the source link-layer option, whatever options come before it', () => {
    const { dev, stack } = readyStack();
    const sn = solicitedNode(OUR_LL);
    const msg: Icmpv6Repr = { kind: 'neighbor-solicit', target: OUR_LL, options: [{ kind: 'mtu', mtu: 1500 }, { kind: 'target-lladdr', mac: 0x02_00_00_00_00_99 }, { kind: 'source-lladdr', mac: PEER_MAC }] };
    stack.processFrame(icmpv6Frame(multicastMacIpv6(sn), PEER_MAC, PEER_LL, sn, msg));
    expect(decode(dev.take())).toMatchObject([{ ethDst: PEER_MAC, dst: PEER_LL, msg: { kind: 'neighbor-advert', solicited: true } }]);
  });

  it('refuses a DAD probe sent anywhere but the target’s solicited-node group', () => {
    const { dev, stack } = readyStack();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, UNSPEC, IPV6_ALL_NODES, ns(OUR_LL)));
    expect(stack.counters.rxDropped['nd-invalid']).toBe(1);
    expect(dev.take()).toHaveLength(0);
  });

  it('refuses adverts for a group, and solicited adverts sent to a group', () => {
    const { stack } = readyStack();
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, na(v6('ff02::1'), PEER_MAC)));
    stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, na(PEER_LL, PEER_MAC, true)));
    expect(stack.counters.rxDropped['nd-invalid']).toBe(2);
    // The same solicited advert sent to us is taken, but only if we asked.
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, na(PEER_LL, PEER_MAC, true)));
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
  });

  it('takes an advert without a target link-layer option for a neighbour being resolved as telling nothing', () => {
    const { dev, stack } = readyStack();
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(1) }, 64));
    dev.take();
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, { kind: 'neighbor-advert', router: false, solicited: true, override: true, target: PEER_LL, options: [] }));
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
    expect(dev.take()).toHaveLength(0);
  });

  it('solicits with its MAC, one retransmit interval apart, and bounds the neighbours being resolved', () => {
    const { dev, clock, stack } = readyStack({ arpPendingAddrMax: 2 });
    const inner = v6Of(stack).inner;
    const send = (dst: Ipv6): boolean => dispatchIcmpv6(inner, OUR_LL, dst, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(1) });
    expect(send(PEER_LL)).toBe(true);
    expect(send(PEER_LL)).toBe(true); // queued behind the first
    expect(decode(dev.take())).toEqual([{ ethDst: multicastMacIpv6(solicitedNode(PEER_LL)), src: OUR_LL, dst: solicitedNode(PEER_LL), hopLimit: 255, msg: ns(PEER_LL, OUR_MAC) }]);
    expect(send(v6('fe80::2'))).toBe(true);
    expect(send(v6('fe80::3'))).toBe(false);
    expect(stack.counters.txDropped['nd-pending-full']).toBe(1);
    dev.take();
    expect(stack.pollAt()).toBe(clock.t + 1_000_000);
    clock.advance(999_999);
    stack.poll();
    expect(dev.take()).toHaveLength(0);
    clock.advance(1);
    stack.poll();
    expect(decode(dev.take()).map((s) => s.msg.kind)).toEqual(['neighbor-solicit', 'neighbor-solicit']);
    // The answer sends both queued packets at once.
    stack.processFrame(icmpv6Frame(OUR_MAC, PEER_MAC, PEER_LL, OUR_LL, na(PEER_LL, PEER_MAC, true)));
    expect(decode(dev.take()).map((s) => [s.ethDst, s.msg.kind])).toEqual([
      [PEER_MAC, 'echo-request'],
      [PEER_MAC, 'echo-request'],
    ]);
  });

  it('waits with its solicitations until it has a source address', () => {
    const { dev, clock, stack } = ipv6Stack();
    start(stack);
    dev.take();
    const inner = v6Of(stack).inner;
    expect(dispatchIcmpv6(inner, OUR_LL, PEER_LL, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(1) })).toBe(true);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.ndpSolicitsTx).toBe(1); // the DAD probe only
    clock.advance(1_000_000);
    stack.poll();
    expect(decode(dev.take()).map((s) => s.msg.kind)).toEqual(['router-solicit', 'neighbor-solicit']);
  });
});

describe('router advertisements: router, prefixes and lifetimes', () => {
  const raFrame = (r: Icmpv6Repr, src = PEER_LL) => icmpv6Frame(ALL_NODES_MAC, PEER_MAC, src, IPV6_ALL_NODES, r);
  const ping = (stack: NetStack, dst: Ipv6): boolean =>
    dispatchIcmpv6(v6Of(stack).inner, OUR_LL, dst, { kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(1) });
  /** Where a packet to `dst` went: straight out (to this MAC), a solicitation for this target, or nowhere. */
  const via = (s: ReturnType<typeof readyStack>, dst: Ipv6): string => {
    s.dev.take();
    if (!ping(s.stack, dst)) return 'no-route';
    const [out] = decode(s.dev.take());
    if (out === undefined) return 'queued';
    return out.msg.kind === 'neighbor-solicit' ? `ns ${formatIpv6(out.msg.target)}` : `mac ${out.ethDst.toString(16)}`;
  };
  const ON_LINK = v6('2001:db8:77::99');
  const FAR = v6('2001:db8:99::1');

  it('counts a good RA as handled, stops soliciting, and never solicits again', () => {
    const { dev, clock, stack } = readyStack();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 3600, preferred: 1800 }])));
    expect(stack.counters.rxHandled).toBe(1);
    expect(stack.counters.rxDropped['nd-full']).toBe(0);
    for (let i = 0; i < 4; i++) {
      clock.advance(4_000_000);
      stack.poll();
    }
    expect(stack.counters.ndpRouterSolicitsTx).toBe(1);
    expect(decode(dev.take()).filter((s) => s.msg.kind === 'router-solicit')).toHaveLength(0);
  });

  it('sends three router solicitations and then has nothing left to do', () => {
    const { clock, stack } = readyStack();
    for (let i = 0; i < 2; i++) {
      expect(stack.pollAt()).toBe(clock.t + 4_000_000);
      clock.advance(4_000_000);
      stack.poll();
    }
    expect(stack.counters.ndpRouterSolicitsTx).toBe(3);
    expect(stack.pollAt()).toBeUndefined();
  });

  it('learns the router from the RA’s source link-layer option, or resolves it when there is none', () => {
    const s = readyStack();
    s.stack.processFrame(raFrame({ ...ra([]), options: [] }));
    expect(via(s, FAR)).toBe(`ns ${formatIpv6(PEER_LL)}`);
    const t = readyStack();
    t.stack.processFrame(raFrame(ra([])));
    expect(via(t, FAR)).toBe(`mac ${PEER_MAC.toString(16)}`);
  });

  it('forgets the default router when it says lifetime 0, not when another router does', () => {
    const s = readyStack();
    const OTHER = v6('fe80::2');
    s.stack.processFrame(raFrame(ra([])));
    s.stack.processFrame(raFrame({ ...ra([], 0), options: [] }, OTHER));
    expect(via(s, FAR)).toBe(`mac ${PEER_MAC.toString(16)}`);
    s.stack.processFrame(raFrame(ra([], 0)));
    expect(via(s, FAR)).toBe('no-route');
  });

  it('keeps on-link prefixes and ignores link-local ones and lengths over 128', () => {
    const s = readyStack();
    const host = v6('2001:db8:5::5');
    const r = ra([], 0);
    r.options.push(
      { kind: 'prefix-info', prefixLen: 128, onLink: true, autonomous: false, validLifetime: 60, preferredLifetime: 60, prefix: host },
      { kind: 'prefix-info', prefixLen: 129, onLink: true, autonomous: true, validLifetime: 60, preferredLifetime: 60, prefix: v6('2001:db8:6::') },
      { kind: 'prefix-info', prefixLen: 64, onLink: true, autonomous: true, validLifetime: 60, preferredLifetime: 60, prefix: v6('fe80::') },
    );
    s.stack.processFrame(raFrame(r));
    expect(s.stack.counters.rxHandled).toBe(1);
    expect(via(s, host)).toBe(`ns ${formatIpv6(host)}`);
    expect(via(s, v6('2001:db8:6::1'))).toBe('no-route');
    expect(v6Of(s.stack).onLink.size).toBe(1);
    expect(addrs(s.stack).map((a) => a.addr)).toEqual([OUR_LL]);
  });

  it('forms an address from an autonomous prefix that is not on-link, and routes to that prefix via the router', () => {
    const s = readyStack();
    const r = ra([]);
    r.options.push({ kind: 'prefix-info', prefixLen: 64, onLink: false, autonomous: true, validLifetime: 3600, preferredLifetime: 3600, prefix: PREFIX });
    s.stack.processFrame(raFrame(r));
    expect(addrs(s.stack).map((a) => a.addr)).toEqual([OUR_LL, OUR_GLOBAL]); // preferred == valid is fine
    expect(via(s, ON_LINK)).toBe(`mac ${PEER_MAC.toString(16)}`);
    // A non-/64 autonomous prefix forms nothing and is not an error.
    s.stack.processFrame(raFrame(ra([{ prefix: v6('2001:db8:8::'), valid: 60, preferred: 60, len: 48 }])));
    expect(s.stack.counters.rxDropped['nd-full']).toBe(0);
    expect(s.stack.counters.rxHandled).toBe(2);
  });

  it('bounds the on-link prefixes', () => {
    const s = readyStack({ nd: { prefixMax: 1 } });
    s.stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 60, preferred: 30, autonomous: false }, { prefix: v6('2001:db8:78::'), valid: 60, preferred: 30, autonomous: false }], 0)));
    expect(s.stack.counters.rxDropped['nd-full']).toBe(1);
    expect(via(s, ON_LINK)).toBe(`ns ${formatIpv6(ON_LINK)}`);
    expect(via(s, v6('2001:db8:78::1'))).toBe('no-route');
    // Refreshing the one it holds is not "full".
    s.stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 600, preferred: 30, autonomous: false }], 0)));
    expect(s.stack.counters.rxDropped['nd-full']).toBe(1);
  });

  it('refreshes an on-link prefix’s lifetime, removes it at lifetime 0, and expires it on time', () => {
    const s = readyStack();
    const p = (valid: number) => raFrame(ra([{ prefix: PREFIX, valid, preferred: 0, autonomous: false }], 0));
    s.stack.processFrame(p(10));
    s.stack.processFrame(p(20));
    s.clock.advance(15_000_000);
    s.stack.poll();
    expect(via(s, ON_LINK)).toBe(`ns ${formatIpv6(ON_LINK)}`);
    s.stack.processFrame(p(0));
    expect(via(s, v6('2001:db8:77::98'))).toBe('no-route');
    expect(v6Of(s.stack).onLink.size).toBe(0);
    expect(s.stack.counters.rxDropped['nd-full']).toBe(0);
    // Expiry by the timer: the prefix is gone from the table when its lifetime ends.
    s.stack.processFrame(p(5));
    s.clock.advance(1_000_000);
    s.stack.poll();
    expect(v6Of(s.stack).onLink.size).toBe(1);
    s.clock.advance(4_000_000);
    s.stack.poll();
    expect(v6Of(s.stack).onLink.size).toBe(0);
    // Lifetime 0xffffffff is infinite.
    s.stack.processFrame(p(0xffff_ffff));
    expect([...v6Of(s.stack).onLink.values()][0]!.validUntil).toBe(Infinity);
  });

  it('drops the router from its timers when its lifetime ends', () => {
    const s = readyStack();
    s.stack.processFrame(raFrame({ ...ra([], 10), options: [] }));
    expect(s.stack.pollAt()).toBe(s.clock.t + 10_000_000);
    s.clock.advance(10_000_000);
    s.stack.poll();
    expect(v6Of(s.stack).router).toBeUndefined();
    expect(s.stack.pollAt()).toBeUndefined();
  });

  it('forms no address from a new prefix with valid lifetime 0, and keeps an infinite one forever', () => {
    const s = readyStack();
    s.stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 0, preferred: 0 }])));
    expect(addrs(s.stack).map((a) => a.addr)).toEqual([OUR_LL]);
    expect(s.stack.counters.rxDropped['nd-full']).toBe(0);
    s.stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 0xffff_ffff, preferred: 0xffff_ffff }])));
    s.clock.advance(1_000_000);
    s.stack.poll();
    expect(addrs(s.stack).find((a) => a.addr === OUR_GLOBAL)).toMatchObject({ state: 'preferred', validUntil: undefined });
  });
});

describe('SLAAC lifetimes on refresh (RFC 4862 5.5.3)', () => {
  const raFrame = (valid: number, preferred: number) => icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, ra([{ prefix: PREFIX, valid, preferred }], 0));
  const global = (stack: NetStack) => v6Of(stack).addrs.get(OUR_GLOBAL)!;
  function formed(valid: number, preferred: number) {
    const s = readyStack();
    s.stack.processFrame(raFrame(valid, preferred));
    s.clock.advance(1_000_000);
    s.stack.poll();
    return s;
  }

  it('takes a longer lifetime even under two hours, and ignores a shorter one when under two hours remain', () => {
    const s = formed(100, 50);
    s.stack.processFrame(raFrame(200, 50));
    expect(global(s.stack).validUntil).toBe(s.clock.t + 200_000_000);
    s.stack.processFrame(raFrame(10, 5));
    expect(global(s.stack).validUntil).toBe(s.clock.t + 200_000_000);
    expect(global(s.stack).preferredUntil).toBe(s.clock.t + 5_000_000);
    expect(s.stack.counters.rxDropped['nd-full']).toBe(0);
    expect(s.stack.counters.rxHandled).toBe(3);
  });

  it('applies the same rules on a host that has been up for hours', () => {
    const s = readyStack();
    s.clock.advance(3 * 3600_000_000);
    s.stack.poll();
    s.stack.processFrame(raFrame(100, 50));
    s.clock.advance(1_000_000);
    s.stack.poll();
    s.stack.processFrame(raFrame(10, 5));
    expect(global(s.stack).validUntil).toBe(s.clock.t + 99_000_000);
  });

  it('takes any lifetime over two hours, even a shorter one', () => {
    const s = formed(86400, 3600);
    s.stack.processFrame(raFrame(7201, 3600));
    expect(global(s.stack).validUntil).toBe(s.clock.t + 7201_000_000);
  });

  it('brings a deprecated address back to preferred when the preferred lifetime is extended, not otherwise', () => {
    const s = formed(3600, 10);
    s.clock.advance(9_000_000);
    s.stack.poll();
    expect(global(s.stack).state).toBe('deprecated');
    expect(s.stack.pollAt()).toBeLessThanOrEqual(global(s.stack).validUntil);
    expect(s.stack.pollAt()).toBeGreaterThan(s.clock.t);
    s.stack.processFrame(raFrame(3600, 0));
    expect(global(s.stack).state).toBe('deprecated');
    s.stack.processFrame(raFrame(3600, 100));
    expect(global(s.stack).state).toBe('preferred');
    expect(s.stack.pollAt()).toBe(s.clock.t + 30_000_000); // the router's neighbour entry, refreshed by this RA
  });

  it('leaves a tentative address tentative when the RA repeats', () => {
    const s = readyStack();
    s.stack.processFrame(raFrame(3600, 1800));
    s.stack.processFrame(raFrame(3600, 1800));
    expect(global(s.stack).state).toBe('tentative');
    expect(decode(s.dev.take()).filter((x) => x.msg.kind === 'neighbor-solicit')).toHaveLength(1);
  });

  it('neither revives nor extends an address that DAD found duplicate, and never deprecates it', () => {
    const s = readyStack();
    s.stack.processFrame(raFrame(20, 10));
    s.stack.processFrame(icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, na(OUR_GLOBAL, PEER_MAC)));
    expect(global(s.stack).state).toBe('duplicate');
    s.stack.processFrame(raFrame(86400, 3600));
    expect(global(s.stack).state).toBe('duplicate');
    expect(s.stack.counters.rxDropped['nd-full']).toBe(0);
    expect(global(s.stack).validUntil).toBe(s.clock.t + 20_000_000);
    s.clock.advance(15_000_000);
    s.stack.poll();
    expect(global(s.stack).state).toBe('duplicate');
    expect(s.stack.pollAt()).toBe(s.clock.t + 15_000_000); // the router's neighbour entry; nothing for the duplicate
  });
});

describe('pollAt: the earliest of every IPv6 timer', () => {
  const raFrame = (r: Icmpv6Repr) => icmpv6Frame(ALL_NODES_MAC, PEER_MAC, PEER_LL, IPV6_ALL_NODES, r);

  it('is the neighbour entry, not the later router lifetime', () => {
    const { clock, stack } = readyStack();
    stack.processFrame(raFrame(ra([], 1800)));
    expect(stack.pollAt()).toBe(clock.t + 30_000_000);
  });

  it('is a preferred address’s preferred lifetime, then its valid lifetime once deprecated', () => {
    const { clock, stack } = readyStack();
    stack.processFrame(raFrame(ra([{ prefix: PREFIX, valid: 20, preferred: 10 }], 0)));
    const t0 = clock.t;
    clock.advance(1_000_000);
    stack.poll();
    expect(stack.pollAt()).toBe(t0 + 10_000_000);
    clock.advance(9_000_000);
    stack.poll();
    expect(stack.pollAt()).toBe(t0 + 20_000_000);
  });

  it('refuses an NS for a tentative address from a unicast source: only a probe from :: means a clash', () => {
    const { dev, stack } = ipv6Stack();
    start(stack);
    dev.take();
    const sn = solicitedNode(OUR_LL);
    stack.processFrame(icmpv6Frame(multicastMacIpv6(sn), PEER_MAC, PEER_LL, sn, ns(OUR_LL, PEER_MAC)));
    expect(stack.counters.rxDropped.tentative).toBe(1);
    expect(addrs(stack)[0]!.state).toBe('tentative');
    expect(stack.counters.dadFailures).toBe(0);
  });
});
