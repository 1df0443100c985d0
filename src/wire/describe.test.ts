import { describe, expect, it } from 'vitest';
import { ARP_REQUEST_FRAME, ICMP_ECHO_FRAME, IPV4_WITH_OPTIONS, UDP_VLAN_FRAME, concat, hex } from '../../test/fixtures/wire-frames.js';
import { describeFrame } from './describe.js';

describe('describeFrame', () => {
  it('describes an ARP request', () => {
    expect(describeFrame(ARP_REQUEST_FRAME)).toBe('02:4e:53:00:00:0a > ff:ff:ff:ff:ff:ff ARP who-has 10.77.0.1 tell 10.77.0.10');
  });

  it('describes an ICMP echo request', () => {
    expect(describeFrame(ICMP_ECHO_FRAME)).toBe('02:00:00:00:00:01 > 02:4e:53:00:00:0a IPv4 10.77.0.1 > 10.77.0.10 ICMP echo request id 7 seq 1');
  });

  it('describes a tagged UDP datagram', () => {
    expect(describeFrame(UDP_VLAN_FRAME)).toBe('02:00:00:00:00:01 > 02:4e:53:00:00:0b vlan 42 p 5 UDP 10.77.0.1:5000 > 10.77.0.11:7 len 3');
  });

  it('describes unknown protocols as values', () => {
    const eth = hex('ff ff ff ff ff ff 02 00 00 00 00 01 | macs\n 08 00 | IPv4');
    expect(describeFrame(concat(eth, IPV4_WITH_OPTIONS))).toBe('02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IPv4 10.0.0.1 > 10.0.0.2 proto 253 len 2');
    const odd = ARP_REQUEST_FRAME.slice();
    odd[12] = 0x88;
    odd[13] = 0xb5;
    expect(describeFrame(odd)).toBe('02:4e:53:00:00:0a > ff:ff:ff:ff:ff:ff ethertype 0x88b5 len 46');
  });

  it('describes malformed frames by their WireError', () => {
    const bad = ICMP_ECHO_FRAME.slice();
    bad[14 + 8] = 1; // TTL changed under the checksum
    expect(describeFrame(bad)).toBe('02:00:00:00:00:01 > 02:4e:53:00:00:0a malformed: ipv4: bad header checksum (byte 10)');
    expect(describeFrame(new Uint8Array(3))).toBe('malformed: ethernet: truncated header (3 of 14 bytes) (byte 3)');
  });
});
