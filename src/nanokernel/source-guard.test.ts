// The source checks, one field at a time: a guest may speak only as its own MAC and addresses,
// whichever header (Ethernet, ARP sender, IPv4 or IPv6 source) carries the claim.
import { describe, expect, it } from 'vitest';
import { ArpOperation, ArpRepr, EtherType, EthernetRepr, internetChecksum, IpProtocol, MAC_BROADCAST, parseIpv4, parseIpv6, parseMac, writeIpv6, type Ipv6 } from '../wire/index.js';
import { arpFrame, ipv4Frame, udpBytes } from '../net/testing.js';
import { checkSource, IPV6_UNSPECIFIED } from './source-guard.js';
import { Port } from './port.js';
import { Switch } from './switch.js';

const MAC = parseMac('02:4e:53:00:00:0b')!;
const OTHER_MAC = parseMac('02:4e:53:00:00:0a')!;
const IP = parseIpv4('10.77.0.11')!;
const OTHER_IP = parseIpv4('10.77.0.10')!;
const V6 = parseIpv6('fe80::4e:53ff:fe00:b')!;
const OTHER_V6 = parseIpv6('fe80::4e:53ff:fe00:a')!;
// A port on a switch: the check asks the switch's table who holds an address.
const sw = new Switch();
const port = new Port('gpos', MAC, [IP, V6], false, 4, 4);
sw.add(port);

function ipv6Frame(srcMac: number, src: Ipv6, version = 6): Uint8Array {
  const f = new Uint8Array(14 + 40);
  new EthernetRepr(MAC_BROADCAST, srcMac, EtherType.Ipv6).emit(f);
  f[14] = version << 4;
  f[14 + 6] = 58; // next header: ICMPv6
  writeIpv6(f, 14 + 8, src);
  return f;
}

const arp = (ethSrc: number, senderMac: number, senderIp: number): Uint8Array =>
  arpFrame(MAC_BROADCAST, ethSrc, new ArpRepr(ArpOperation.Request, senderMac, senderIp, 0, OTHER_IP));
const ip4 = (ethSrc: number, src: number): Uint8Array => ipv4Frame(MAC_BROADCAST, ethSrc, src, OTHER_IP, IpProtocol.Udp, new Uint8Array(8));

describe('checkSource (transmit)', () => {
  it('accepts the port\'s own MAC and addresses, and the unspecified sources', () => {
    expect(checkSource(port, ip4(MAC, IP), sw)).toBe('ok');
    expect(checkSource(port, arp(MAC, MAC, IP), sw)).toBe('ok');
    expect(checkSource(port, arp(MAC, MAC, 0), sw)).toBe('ok');
    expect(checkSource(port, ipv6Frame(MAC, V6), sw)).toBe('ok');
    expect(checkSource(port, ipv6Frame(MAC, IPV6_UNSPECIFIED), sw)).toBe('ok');
  });

  it('lets IPv4 from 0.0.0.0 out only as a DHCP client\'s broadcast, 0.0.0.0:68 to 255.255.255.255:67', () => {
    const dhcp = (o: { ethDst?: number; dst?: number; sport?: number; dport?: number; protocol?: number } = {}): Uint8Array =>
      ipv4Frame(o.ethDst ?? MAC_BROADCAST, MAC, 0, o.dst ?? 0xffff_ffff, o.protocol ?? IpProtocol.Udp, udpBytes(0, o.dst ?? 0xffff_ffff, o.sport ?? 68, o.dport ?? 67, new Uint8Array(300)));
    expect(checkSource(port, dhcp(), sw)).toBe('ok');
    expect(checkSource(port, dhcp({ ethDst: OTHER_MAC }), sw)).toBe('spoofed-ip'); // not to the broadcast MAC
    expect(checkSource(port, dhcp({ dst: OTHER_IP }), sw)).toBe('spoofed-ip'); // unicast from 0.0.0.0
    expect(checkSource(port, dhcp({ sport: 69 }), sw)).toBe('spoofed-ip');
    expect(checkSource(port, dhcp({ dport: 68 }), sw)).toBe('spoofed-ip');
    expect(checkSource(port, dhcp({ protocol: IpProtocol.Tcp }), sw)).toBe('spoofed-ip');
    expect(checkSource(port, ip4(MAC, 0), sw)).toBe('spoofed-ip'); // UDP to a unicast address
    for (const flagsFrag of [0x2000, 0x0001]) {
      // A fragment (more fragments, or an offset) is not a whole DHCP datagram.
      const f = dhcp();
      f[14 + 6] = flagsFrag >>> 8;
      f[14 + 7] = flagsFrag & 0xff;
      f[14 + 10] = f[14 + 11] = 0;
      const c = internetChecksum(f, 0, 14, 34);
      f[14 + 10] = c >>> 8;
      f[14 + 11] = c & 0xff;
      expect(checkSource(port, f, sw)).toBe('spoofed-ip');
    }
    expect(checkSource(port, ipv4Frame(MAC_BROADCAST, MAC, 0, 0xffff_ffff, IpProtocol.Udp, new Uint8Array(4)), sw)).toBe('spoofed-ip'); // no whole UDP header
  });

  it('refuses another Ethernet source, and an ARP sender MAC that is not the port\'s', () => {
    expect(checkSource(port, ip4(OTHER_MAC, IP), sw)).toBe('spoofed-mac');
    expect(checkSource(port, arp(MAC, OTHER_MAC, IP), sw)).toBe('spoofed-mac');
    expect(checkSource(port, ipv6Frame(OTHER_MAC, V6), sw)).toBe('spoofed-mac');
    const other = new Uint8Array(60);
    new EthernetRepr(MAC_BROADCAST, OTHER_MAC, 0x88b5).emit(other);
    expect(checkSource(port, other, sw)).toBe('spoofed-mac');
  });

  it('compares both halves of the MAC: a source that differs only in its high or only in its low 24 bits is refused', () => {
    const highOnly = parseMac('02:4e:54:00:00:0b')!;
    const lowOnly = parseMac('02:4e:53:00:00:0c')!;
    for (const m of [highOnly, lowOnly]) {
      expect(checkSource(port, ip4(m, IP), sw)).toBe('spoofed-mac');
      expect(checkSource(port, arp(MAC, m, IP), sw)).toBe('spoofed-mac');
    }
  });

  it('asks the switch who holds an address: another port\'s is refused, and a change through the switch is followed', () => {
    const s = new Switch();
    const me = new Port('gpos', MAC, [IP], false, 4, 4);
    const other = new Port('rtos', OTHER_MAC, [OTHER_IP], true, 4, 4);
    s.add(me);
    s.add(other);
    expect(checkSource(me, ip4(MAC, IP), s)).toBe('ok');
    expect(checkSource(me, ip4(MAC, OTHER_IP), s)).toBe('spoofed-ip');
    expect(s.setAddresses(me, [V6])).toBe(true);
    expect(checkSource(me, ip4(MAC, IP), s)).toBe('spoofed-ip');
    expect(checkSource(me, ipv6Frame(MAC, V6), s)).toBe('ok');
  });

  it('reads the addresses behind an 802.1Q tag', () => {
    const tagged = (src: number): Uint8Array => ipv4Frame(MAC_BROADCAST, MAC, src, OTHER_IP, IpProtocol.Udp, new Uint8Array(8), { vlanId: 7 });
    expect(checkSource(port, tagged(IP), sw)).toBe('ok');
    expect(checkSource(port, tagged(OTHER_IP), sw)).toBe('spoofed-ip');
    expect(checkSource(port, tagged(IP).subarray(0, 17), sw)).toBe('malformed');
  });

  it('refuses an IPv4 source, ARP sender IP or IPv6 source outside the address set', () => {
    expect(checkSource(port, ip4(MAC, OTHER_IP), sw)).toBe('spoofed-ip');
    expect(checkSource(port, arp(MAC, MAC, OTHER_IP), sw)).toBe('spoofed-ip');
    expect(checkSource(port, ipv6Frame(MAC, OTHER_V6), sw)).toBe('spoofed-ip');
  });

  it('refuses what does not parse', () => {
    expect(checkSource(port, new Uint8Array(10), sw)).toBe('malformed');
    expect(checkSource(port, ip4(MAC, IP).subarray(0, 20), sw)).toBe('malformed');
    expect(checkSource(port, arp(MAC, MAC, IP).subarray(0, 20), sw)).toBe('malformed');
    expect(checkSource(port, ipv6Frame(MAC, V6).subarray(0, 14 + 39), sw)).toBe('malformed');
    expect(checkSource(port, ipv6Frame(MAC, V6, 4), sw)).toBe('malformed');
  });

  it('lets other EtherTypes through on the Ethernet source alone', () => {
    const f = new Uint8Array(60);
    new EthernetRepr(MAC_BROADCAST, MAC, 0x88b5).emit(f);
    expect(checkSource(port, f, sw)).toBe('ok');
  });
});
