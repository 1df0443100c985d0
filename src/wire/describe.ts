// One tcpdump-like line per frame, for logs and debugging. Never throws: malformed bytes
// are described as "malformed: <WireError message>".

import { formatIpv4, formatMac } from './address.js';
import { ArpOperation, ArpPacket } from './arp.js';
import { isWireError } from './error.js';
import { EtherType, EthernetFrame } from './ethernet.js';
import { Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Type } from './icmpv4.js';
import { IpProtocol, Ipv4Packet } from './ipv4.js';
import { UdpPacket } from './udp.js';

const UNREACHABLE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Icmpv4DstUnreachable).map(([name, code]) => [code, name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()]),
);

function hex16(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}

function describeArp(payload: Uint8Array): string {
  const p = ArpPacket.checked(payload);
  if (isWireError(p)) return `malformed: ${p.message}`;
  const op = p.operation();
  if (op === ArpOperation.Request) {
    return `ARP who-has ${formatIpv4(p.targetProtoAddr())} tell ${formatIpv4(p.senderProtoAddr())}`;
  }
  if (op === ArpOperation.Reply) {
    return `ARP reply ${formatIpv4(p.senderProtoAddr())} is-at ${formatMac(p.senderHwAddr())}`;
  }
  return `ARP op ${op} ${formatIpv4(p.senderProtoAddr())} > ${formatIpv4(p.targetProtoAddr())}`;
}

function describeIcmp(payload: Uint8Array): string {
  const p = Icmpv4Packet.checked(payload);
  if (isWireError(p)) return `malformed: ${p.message}`;
  const type = p.msgType();
  const code = p.msgCode();
  if (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply) {
    const what = type === Icmpv4Type.EchoRequest ? 'request' : 'reply';
    return `ICMP echo ${what} id ${p.echoIdent()} seq ${p.echoSeqNo()}${code === 0 ? '' : ` code ${code}`}`;
  }
  if (type === Icmpv4Type.DstUnreachable) return `ICMP ${UNREACHABLE_NAMES[code] ?? `unreachable code ${code}`}`;
  if (type === Icmpv4Type.TimeExceeded) return `ICMP time exceeded code ${code}`;
  return `ICMP type ${type} code ${code}`;
}

function describeIpv4(payload: Uint8Array): string {
  const ip = Ipv4Packet.checked(payload);
  if (isWireError(ip)) return `malformed: ${ip.message}`;
  const src = ip.srcAddr();
  const dst = ip.dstAddr();
  const proto = ip.protocol();
  const body = ip.payload();
  if (ip.isFragment()) {
    return `IPv4 ${formatIpv4(src)} > ${formatIpv4(dst)} proto ${proto} frag id ${ip.ident()} off ${ip.fragOffset()}${ip.moreFrags() ? '+' : ''} len ${body.length}`;
  }
  if (proto === IpProtocol.Udp) {
    const udp = UdpPacket.checked(body, src, dst);
    if (isWireError(udp)) return `malformed: ${udp.message}`;
    return `UDP ${formatIpv4(src)}:${udp.srcPort()} > ${formatIpv4(dst)}:${udp.dstPort()} len ${udp.payload().length}`;
  }
  const head = `IPv4 ${formatIpv4(src)} > ${formatIpv4(dst)}`;
  if (proto === IpProtocol.Icmp) {
    const icmp = describeIcmp(body);
    return icmp.startsWith('malformed') ? icmp : `${head} ${icmp}`;
  }
  if (proto === IpProtocol.Tcp) return `${head} TCP len ${body.length}`;
  return `${head} proto ${proto} len ${body.length}`;
}

/** A one-line, tcpdump-like summary of an Ethernet frame; never throws. */
export function describeFrame(frame: Uint8Array): string {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) return `malformed: ${eth.message}`;
  const vlan = eth.isTagged() ? ` vlan ${eth.vlanId()} p ${eth.vlanPcp()}` : '';
  const head = `${formatMac(eth.srcAddr())} > ${formatMac(eth.dstAddr())}${vlan}`;
  const type = eth.etherType();
  const payload = eth.payload();
  switch (type) {
    case EtherType.Arp:
      return `${head} ${describeArp(payload)}`;
    case EtherType.Ipv4:
      return `${head} ${describeIpv4(payload)}`;
    case EtherType.Ipv6:
      return `${head} IPv6 len ${payload.length}`;
    default:
      return `${head} ethertype ${hex16(type)} len ${payload.length}`;
  }
}
