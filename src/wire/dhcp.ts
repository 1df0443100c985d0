// DHCP messages (RFC 2131) with the options a client needs (RFC 2132): the BOOTP header, the
// magic cookie, message type, requested address, server identifier, lease/T1/T2 times, subnet
// mask, router, parameter request list. Other options are kept raw. Client identifier and host
// name are read and written too. The client is net/dhcp.ts; this file only reads and writes the bytes.

import { readIpv4, readMac, writeIpv4, writeMac, type Ipv4, type Mac } from './address.js';
import { readU16, readU32, writeU16 } from './bytes.js';
import { WireError } from './error.js';

/** Byte offsets of the fixed (BOOTP) part. */
const field = {
  op: 0,
  htype: 1,
  hlen: 2,
  hops: 3,
  xid: 4,
  secs: 8,
  flags: 10,
  ciaddr: 12,
  yiaddr: 16,
  siaddr: 20,
  giaddr: 24,
  chaddr: 28,
  sname: 44,
  file: 108,
  cookie: 236,
  options: 240,
} as const;

/** Fixed part plus the magic cookie: the shortest valid message (without options). */
export const DHCP_MIN_LEN: number = field.options;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

const MAGIC_COOKIE = 0x6382_5363;
const HTYPE_ETHERNET = 1;
const HLEN_ETHERNET = 6;
const FLAG_BROADCAST = 0x8000;
const OPT_PAD = 0;
const OPT_END = 255;

export const DhcpOp = { Request: 1, Reply: 2 } as const;

/** Option 53 values (RFC 2132 9.6). */
export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;

/** Option codes we name (RFC 2132). */
export const DhcpOption = {
  SubnetMask: 1,
  Router: 3,
  HostName: 12,
  RequestedIp: 50,
  LeaseTime: 51,
  MessageType: 53,
  ServerId: 54,
  ParamRequestList: 55,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  ClientId: 61,
} as const;

/** A zero-copy view of a DHCP message whose length, cookie and option framing have been checked. */
export class DhcpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check the fixed part, the magic cookie, and that every option fits (a missing END is tolerated). */
  static checked(buf: Uint8Array): DhcpPacket | WireError {
    if (buf.length < DHCP_MIN_LEN) return new WireError('dhcp', 'truncated', buf.length, `truncated message (${buf.length} of ${DHCP_MIN_LEN} bytes)`);
    if (readU32(buf, field.cookie) !== MAGIC_COOKIE) return new WireError('dhcp', 'unsupported', field.cookie, 'no DHCP magic cookie (plain BOOTP)');
    for (let off = field.options; off < buf.length; ) {
      const code = buf[off]!;
      if (code === OPT_END) break;
      if (code === OPT_PAD) {
        off++;
        continue;
      }
      if (off + 2 > buf.length || off + 2 + buf[off + 1]! > buf.length) return new WireError('dhcp', 'truncated', off, `option ${code} runs past the message`);
      off += 2 + buf[off + 1]!;
    }
    return new DhcpPacket(buf);
  }

  op(): number {
    return this.buffer[field.op]!;
  }
  /** Transaction id. */
  xid(): number {
    return readU32(this.buffer, field.xid);
  }
  secs(): number {
    return readU16(this.buffer, field.secs);
  }
  /** The client asked for broadcast replies. */
  broadcast(): boolean {
    return (readU16(this.buffer, field.flags) & FLAG_BROADCAST) !== 0;
  }
  ciaddr(): Ipv4 {
    return readIpv4(this.buffer, field.ciaddr);
  }
  /** "Your" address: what the server offers or assigns. */
  yiaddr(): Ipv4 {
    return readIpv4(this.buffer, field.yiaddr);
  }
  siaddr(): Ipv4 {
    return readIpv4(this.buffer, field.siaddr);
  }
  giaddr(): Ipv4 {
    return readIpv4(this.buffer, field.giaddr);
  }
  /** The client's hardware address, when htype/hlen say Ethernet; undefined otherwise. */
  chaddr(): Mac | undefined {
    const b = this.buffer;
    return b[field.htype] === HTYPE_ETHERNET && b[field.hlen] === HLEN_ETHERNET ? readMac(b, field.chaddr) : undefined;
  }

  /** Each option's code and value bytes (views), in order; pads skipped, stops at END. */
  options(): Array<{ code: number; data: Uint8Array }> {
    const b = this.buffer;
    const out: Array<{ code: number; data: Uint8Array }> = [];
    for (let off = field.options; off < b.length; ) {
      const code = b[off]!;
      if (code === OPT_END) break;
      if (code === OPT_PAD) {
        off++;
        continue;
      }
      const len = b[off + 1]!;
      out.push({ code, data: b.subarray(off + 2, off + 2 + len) });
      off += 2 + len;
    }
    return out;
  }
}

type AddrKey = 'requestedIp' | 'serverId' | 'subnetMask' | 'router';
type U32Key = 'leaseTime' | 'renewalTime' | 'rebindingTime';
/** Options holding an address, and options holding seconds, by code. */
const ADDR_OPTIONS: Readonly<Record<number, AddrKey>> = {
  [DhcpOption.RequestedIp]: 'requestedIp',
  [DhcpOption.ServerId]: 'serverId',
  [DhcpOption.SubnetMask]: 'subnetMask',
  [DhcpOption.Router]: 'router',
};
const U32_OPTIONS: Readonly<Record<number, U32Key>> = {
  [DhcpOption.LeaseTime]: 'leaseTime',
  [DhcpOption.RenewalTime]: 'renewalTime',
  [DhcpOption.RebindingTime]: 'rebindingTime',
};

/** A DHCP message as a plain value. Addresses 0 mean "not set"; optional fields are options. */
export interface DhcpRepr {
  op: number;
  messageType: number;
  xid: number;
  secs: number;
  broadcast: boolean;
  clientMac: Mac;
  ciaddr: Ipv4;
  yiaddr: Ipv4;
  siaddr: Ipv4;
  giaddr: Ipv4;
  requestedIp?: Ipv4;
  serverId?: Ipv4;
  /** Seconds; 0xffffffff is infinite. */
  leaseTime?: number;
  renewalTime?: number;
  rebindingTime?: number;
  subnetMask?: Ipv4;
  /** The first router of option 3. */
  router?: Ipv4;
  paramRequestList?: number[];
  maxMessageSize?: number;
  /** Option 61 (RFC 2132 9.14): type byte then identifier; a client sends 1 and its MAC. */
  clientId?: Uint8Array;
  /** Option 12 (RFC 2132 3.14), 1 to 255 bytes of text. */
  hostName?: string;
}

/**
 * Interpret a checked message. A missing or malformed message type (option 53), a hardware
 * address that is not Ethernet, or an address option of the wrong length is a WireError.
 */
export function parseDhcpRepr(p: DhcpPacket): DhcpRepr | WireError {
  const clientMac = p.chaddr();
  if (clientMac === undefined) return new WireError('dhcp', 'unsupported', field.htype, 'hardware address is not Ethernet');
  const r: DhcpRepr = {
    op: p.op(),
    messageType: 0,
    xid: p.xid(),
    secs: p.secs(),
    broadcast: p.broadcast(),
    clientMac,
    ciaddr: p.ciaddr(),
    yiaddr: p.yiaddr(),
    siaddr: p.siaddr(),
    giaddr: p.giaddr(),
  };
  for (const { code, data } of p.options()) {
    const bad = (): WireError => new WireError('dhcp', 'bad-length', field.options, `option ${code} length ${data.length}`);
    const addrKey = ADDR_OPTIONS[code];
    const u32Key = U32_OPTIONS[code];
    if (addrKey !== undefined) {
      // Lists (routers) are multiples of 4; we keep the first.
      if (data.length < 4 || data.length % 4 !== 0) return bad();
      r[addrKey] = readIpv4(data, 0);
    } else if (u32Key !== undefined) {
      if (data.length !== 4) return bad();
      r[u32Key] = readU32(data, 0);
    } else if (code === DhcpOption.MessageType) {
      if (data.length !== 1) return bad();
      r.messageType = data[0]!;
    } else if (code === DhcpOption.ParamRequestList) {
      r.paramRequestList = Array.from(data);
    } else if (code === DhcpOption.MaxMessageSize) {
      if (data.length !== 2) return bad();
      r.maxMessageSize = readU16(data, 0);
    } else if (code === DhcpOption.ClientId) {
      if (data.length < 2) return bad();
      r.clientId = data;
    } else if (code === DhcpOption.HostName) {
      if (data.length < 1) return bad();
      r.hostName = String.fromCharCode(...data);
    }
    // Unknown options are passed over, as RFC 2131 asks of a client.
  }
  if (r.messageType < DhcpMessageType.Discover || r.messageType > DhcpMessageType.Inform) {
    return new WireError('dhcp', 'unsupported', field.options, r.messageType === 0 ? 'no message type option' : `message type ${r.messageType}`);
  }
  return r;
}

function optionsOf(r: DhcpRepr): Array<[number, Uint8Array]> {
  const ip = (a: Ipv4): Uint8Array => {
    const b = new Uint8Array(4);
    writeIpv4(b, 0, a);
    return b;
  };
  const u32 = (v: number): Uint8Array => {
    const b = new Uint8Array(4);
    writeU16(b, 0, Math.floor(v / 0x1_0000) & 0xffff);
    writeU16(b, 2, v & 0xffff);
    return b;
  };
  const o: Array<[number, Uint8Array]> = [[DhcpOption.MessageType, Uint8Array.of(r.messageType)]];
  for (const [code, key] of Object.entries(ADDR_OPTIONS)) {
    const v = r[key];
    if (v !== undefined) o.push([Number(code), ip(v)]);
  }
  for (const [code, key] of Object.entries(U32_OPTIONS)) {
    const v = r[key];
    if (v !== undefined) o.push([Number(code), u32(v)]);
  }
  if (r.paramRequestList !== undefined) o.push([DhcpOption.ParamRequestList, Uint8Array.from(r.paramRequestList)]);
  if (r.maxMessageSize !== undefined) {
    const b = new Uint8Array(2);
    writeU16(b, 0, r.maxMessageSize);
    o.push([DhcpOption.MaxMessageSize, b]);
  }
  if (r.clientId !== undefined) o.push([DhcpOption.ClientId, r.clientId.subarray(0, 255)]);
  if (r.hostName !== undefined) o.push([DhcpOption.HostName, Uint8Array.from(r.hostName.slice(0, 255), (c) => c.charCodeAt(0) & 0xff)]);
  return o;
}

/** Bytes needed to emit `r`: the fixed part, the cookie, its options and END (at least 300, BOOTP's minimum). */
export function dhcpReprLen(r: DhcpRepr): number {
  let n = field.options + 1;
  for (const [, d] of optionsOf(r)) n += 2 + d.length;
  return Math.max(n, 300);
}

/** Write `r` into buf[0..dhcpReprLen(r)), zero padding included. */
export function emitDhcp(r: DhcpRepr, buf: Uint8Array): void {
  const len = dhcpReprLen(r);
  if (buf.length < len) throw new RangeError(`dhcp: emit needs ${len} bytes, got ${buf.length}`);
  const b = buf.subarray(0, len);
  b.fill(0);
  b[field.op] = r.op;
  b[field.htype] = HTYPE_ETHERNET;
  b[field.hlen] = HLEN_ETHERNET;
  writeU16(b, field.xid, Math.floor(r.xid / 0x1_0000) & 0xffff);
  writeU16(b, field.xid + 2, r.xid & 0xffff);
  writeU16(b, field.secs, r.secs);
  writeU16(b, field.flags, r.broadcast ? FLAG_BROADCAST : 0);
  writeIpv4(b, field.ciaddr, r.ciaddr);
  writeIpv4(b, field.yiaddr, r.yiaddr);
  writeIpv4(b, field.siaddr, r.siaddr);
  writeIpv4(b, field.giaddr, r.giaddr);
  writeMac(b, field.chaddr, r.clientMac);
  writeU16(b, field.cookie, MAGIC_COOKIE >>> 16);
  writeU16(b, field.cookie + 2, MAGIC_COOKIE & 0xffff);
  let off = field.options;
  for (const [code, d] of optionsOf(r)) {
    b[off] = code;
    b[off + 1] = d.length;
    b.set(d, off + 2);
    off += 2 + d.length;
  }
  b[off] = OPT_END;
}
