// Source-address enforcement on transmit: a guest can speak only as itself. The Ethernet source
// must be the port's MAC; an IPv4 source, or an ARP sender, must be the port's address (or
// 0.0.0.0, which probes and DHCP use). Frames that do not parse are refused too.
import { EtherType, EthernetFrame, Ipv4Packet, ArpPacket, isWireError } from '../wire/index.js';
import type { Port } from './port.js';

export type SourceVerdict = 'ok' | 'spoofed-mac' | 'spoofed-ip' | 'malformed';

export function checkSource(port: Port, frame: Uint8Array): SourceVerdict {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) return 'malformed';
  if (eth.srcAddr() !== port.mac) return 'spoofed-mac';
  switch (eth.etherType()) {
    case EtherType.Ipv4: {
      const ip = Ipv4Packet.checked(eth.payload());
      if (isWireError(ip)) return 'malformed';
      const src = ip.srcAddr();
      return src === 0 || src === port.ipv4 ? 'ok' : 'spoofed-ip';
    }
    case EtherType.Arp: {
      const arp = ArpPacket.checked(eth.payload());
      if (isWireError(arp)) return 'malformed';
      if (arp.senderHwAddr() !== port.mac) return 'spoofed-mac';
      const src = arp.senderProtoAddr();
      return src === 0 || src === port.ipv4 ? 'ok' : 'spoofed-ip';
    }
    default:
      return 'ok';
  }
}
