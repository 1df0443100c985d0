// The in-place checks the switch runs on every frame (ethernetHeaderLen, ipv4Problem, arpProblem)
// say exactly what the views' checked() say, at any offset inside a larger buffer: the switch
// must accept and refuse the same frames as the guests' parsers, without making a view.
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ARP_REQUEST_FRAME, ICMP_ECHO_FRAME, IPV4_WITH_OPTIONS, UDP_VLAN_FRAME } from '../../test/fixtures/wire-frames.js';
import { ArpPacket, ArpProblem, arpProblem } from './arp.js';
import { isWireError } from './error.js';
import { EthernetFrame, ethernetHeaderLen, payloadEtherType } from './ethernet.js';
import { Ipv4Packet, Ipv4Problem, ipv4Problem } from './ipv4.js';

const IPV4_REASON: Record<Ipv4Problem, string | undefined> = {
  [Ipv4Problem.None]: undefined,
  [Ipv4Problem.Truncated]: 'truncated',
  [Ipv4Problem.Version]: 'bad-version',
  [Ipv4Problem.HeaderLen]: 'bad-header-len',
  [Ipv4Problem.TotalLen]: 'bad-total-len',
  [Ipv4Problem.TruncatedPacket]: 'truncated',
  [Ipv4Problem.Checksum]: 'bad-checksum',
};

/** A sample, with a few of its bytes replaced and cut at some length, placed at `pad` in a larger buffer. */
const mangled = (sample: Uint8Array) =>
  fc.record({
    edits: fc.array(fc.tuple(fc.nat(sample.length - 1), fc.nat(255)), { maxLength: 2 }),
    len: fc.oneof(fc.constant(sample.length), fc.nat(sample.length + 4)), // whole, most often
    pad: fc.nat(6),
  }).map(({ edits, len, pad }) => {
    const body = new Uint8Array(len);
    body.set(sample.subarray(0, len));
    for (const [at, v] of edits) if (at < len) body[at] = v;
    const buf = new Uint8Array(pad + len + 5).fill(0x45); // bytes after `end` must not count
    buf.set(body, pad);
    return { buf, off: pad, end: pad + len, body };
  });

describe('in-place checks', () => {
  test.prop([fc.oneof(mangled(ICMP_ECHO_FRAME.subarray(14)), mangled(IPV4_WITH_OPTIONS.subarray(14)))], { numRuns: 2000 })('ipv4Problem agrees with Ipv4Packet.checked', ({ buf, off, end, body }) => {
    const view = Ipv4Packet.checked(body);
    const problem = ipv4Problem(buf, off, end);
    expect(IPV4_REASON[problem]).toBe(isWireError(view) ? view.reason : undefined);
    if (isWireError(view) && view.reason === 'truncated') expect(view.detail!.startsWith(problem === Ipv4Problem.Truncated ? 'truncated header' : 'truncated packet')).toBe(true);
  });

  test.prop([mangled(ARP_REQUEST_FRAME.subarray(14))], { numRuns: 2000 })('arpProblem agrees with ArpPacket.checked', ({ buf, off, end, body }) => {
    const view = ArpPacket.checked(body);
    const problem = arpProblem(buf, off, end);
    expect(problem === ArpProblem.None).toBe(!isWireError(view));
    if (isWireError(view)) expect(view.offset).toBe([NaN, body.length, 0, 2, 4, 5][problem]);
  });

  test.prop([fc.oneof(mangled(UDP_VLAN_FRAME), mangled(ICMP_ECHO_FRAME))], { numRuns: 1000 })('ethernetHeaderLen and payloadEtherType agree with EthernetFrame.checked', ({ body }) => {
    const view = EthernetFrame.checked(body);
    const len = ethernetHeaderLen(body);
    if (isWireError(view)) expect(len).toBe(0);
    else {
      expect(len).toBe(view.headerLen());
      expect(payloadEtherType(body, len)).toBe(view.etherType());
    }
  });

  it('finds the tagged and untagged header lengths and the inner EtherType', () => {
    expect(ethernetHeaderLen(UDP_VLAN_FRAME)).toBe(18);
    expect(payloadEtherType(UDP_VLAN_FRAME, 18)).toBe(0x0800);
    expect(ethernetHeaderLen(ICMP_ECHO_FRAME)).toBe(14);
    expect(ethernetHeaderLen(UDP_VLAN_FRAME.subarray(0, 17))).toBe(0);
    expect(ethernetHeaderLen(ICMP_ECHO_FRAME.subarray(0, 13))).toBe(0);
  });
});
