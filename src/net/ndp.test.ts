// IPv6 on one stack, on the manual clock: DAD (success, the three ways it fails), answering and
// sending neighbour solicitations, the bounded cache and queues, SLAAC from a router
// advertisement with its lifetimes, echo, and the drops an attacker would aim for.
import { describe, expect, it } from 'vitest';
import { IPV6_ALL_NODES, formatIpv6, linkLocalFromMac, multicastMacIpv6, parseIpv6, solicitedNode } from '../wire/index.js';
import type { Icmpv6Repr, Ipv6, Mac } from '../wire/index.js';
import { IPV6_SOCKETS } from './ipv6-iface.js';
import { ipv6Protocol } from './ipv6.js';
import type { NetConfig } from './iface.js';
import type { NetStack } from './stack.js';
import { OUR_MAC, PEER_MAC, decodeIcmpv6 as decode, icmpv6Frame, newStack } from './testing.js';

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
const ra = (prefixes: Array<{ prefix: Ipv6; valid: number; preferred: number; len?: number; autonomous?: boolean }>, routerLifetime = 1800): Icmpv6Repr => ({
  kind: 'router-advert',
  curHopLimit: 64,
  managed: false,
  other: false,
  routerLifetime,
  reachableTime: 0,
  retransTimer: 0,
  options: [
    { kind: 'source-lladdr', mac: PEER_MAC },
    ...prefixes.map((p) => ({
      kind: 'prefix-info' as const,
      prefixLen: p.len ?? 64,
      onLink: true,
      autonomous: p.autonomous ?? true,
      validLifetime: p.valid,
      preferredLifetime: p.preferred,
      prefix: p.prefix,
    })),
  ],
});
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
