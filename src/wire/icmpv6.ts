// ICMPv6 (RFC 4443) with Neighbor Discovery's messages and options (RFC 4861): echo, router
// solicitation/advertisement, neighbor solicitation/advertisement, and any other type kept raw.
// The checksum covers the IPv6 pseudo-header, so checked() needs the packet's addresses.
// NDP validity that needs only the message's bytes is checked here (code 0, minimum length,
// no zero-length option: RFC 4861 7.1.1/7.1.2/6.1.1/6.1.2); hop limit 255 and the address
// rules are the host's, in net/.

import { readIpv6, readMac, writeIpv6, writeMac, type Ipv6, type Mac } from './address.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { WireError } from './error.js';
import { Ipv6NextHeader, pseudoHeaderSumV6 } from './ipv6.js';

/** ICMPv6 types we name; any other value passes through as a plain number. */
export const Icmpv6Type = {
  DstUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParamProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  RouterSolicit: 133,
  RouterAdvert: 134,
  NeighborSolicit: 135,
  NeighborAdvert: 136,
  Redirect: 137,
} as const;

/** NDP option types we name (RFC 4861 4.6). */
export const NdpOptionType = {
  SourceLinkLayerAddr: 1,
  TargetLinkLayerAddr: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
} as const;

/** Byte offsets; what follows the checksum depends on the type. */
const field = {
  type: 0,
  code: 1,
  checksum: 2,
  rest: 4,
  echoIdent: 4,
  echoSeqNo: 6,
  echoData: 8,
  // RS: 4 reserved bytes, then options.
  rsOptions: 8,
  // RA.
  raCurHopLimit: 4,
  raFlags: 5,
  raRouterLifetime: 6,
  raReachableTime: 8,
  raRetransTimer: 12,
  raOptions: 16,
  // NS and NA.
  naFlags: 4,
  target: 8,
  nOptions: 24,
} as const;

/** Length of the ICMPv6 header up to the message body. */
export const ICMPV6_HEADER_LEN: number = field.rest;

const RA_FLAG_MANAGED = 0x80;
const RA_FLAG_OTHER = 0x40;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_SOLICITED = 0x40;
const NA_FLAG_OVERRIDE = 0x20;
const PI_FLAG_ONLINK = 0x80;
const PI_FLAG_AUTO = 0x40;
const OPTION_UNIT = 8;
const LLADDR_OPTION_LEN = 8;
const PREFIX_OPTION_LEN = 32;
const MTU_OPTION_LEN = 8;

/** A zero-copy view of an ICMPv6 message whose checksum (pseudo-header included) has been checked. */
export class Icmpv6Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check length (>= 4) and the checksum; pass exactly the upper-layer bytes and the IPv6 addresses. */
  static checked(buf: Uint8Array, src: Ipv6, dst: Ipv6): Icmpv6Packet | WireError {
    if (buf.length < ICMPV6_HEADER_LEN) {
      return new WireError('icmpv6', 'truncated', buf.length, `truncated header (${buf.length} of ${ICMPV6_HEADER_LEN} bytes)`);
    }
    if (internetChecksum(buf, pseudoHeaderSumV6(src, dst, Ipv6NextHeader.Icmpv6, buf.length)) !== 0) {
      return new WireError('icmpv6', 'bad-checksum', field.checksum, 'bad checksum');
    }
    return new Icmpv6Packet(buf);
  }

  /** Message type (see Icmpv6Type). */
  msgType(): number {
    return this.buffer[field.type]!;
  }

  /** Message code. */
  msgCode(): number {
    return this.buffer[field.code]!;
  }

  /** Checksum field as received. */
  checksum(): number {
    return readU16(this.buffer, field.checksum);
  }

  /** Everything after type, code, checksum. */
  rest(): Uint8Array {
    return this.buffer.subarray(field.rest);
  }
}

/** A prefix information option (RFC 4861 4.6.2); lifetimes in seconds, 0xffffffff = infinity. */
export interface NdpPrefixInfo {
  prefixLen: number;
  onLink: boolean;
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
  prefix: Ipv6;
}

/** One NDP option; options of other types are kept as raw bytes (type, length and all). */
export type NdpOption =
  | { kind: 'source-lladdr'; mac: Mac }
  | { kind: 'target-lladdr'; mac: Mac }
  | ({ kind: 'prefix-info' } & NdpPrefixInfo)
  | { kind: 'mtu'; mtu: number }
  | { kind: 'other'; type: number; bytes: Uint8Array };

/** An ICMPv6 message as a plain value. */
export type Icmpv6Repr =
  | { kind: 'echo-request' | 'echo-reply'; ident: number; seqNo: number; data: Uint8Array }
  | { kind: 'router-solicit'; options: NdpOption[] }
  | {
      kind: 'router-advert';
      curHopLimit: number;
      managed: boolean;
      other: boolean;
      /** Seconds; 0 = not a default router. */
      routerLifetime: number;
      /** Milliseconds; 0 = unspecified. */
      reachableTime: number;
      /** Milliseconds; 0 = unspecified. */
      retransTimer: number;
      options: NdpOption[];
    }
  | { kind: 'neighbor-solicit'; target: Ipv6; options: NdpOption[] }
  | { kind: 'neighbor-advert'; router: boolean; solicited: boolean; override: boolean; target: Ipv6; options: NdpOption[] }
  | { kind: 'other'; type: number; code: number; rest: Uint8Array };

function parseOptions(buf: Uint8Array, start: number): NdpOption[] | WireError {
  const out: NdpOption[] = [];
  let off = start;
  while (off < buf.length) {
    if (off + 2 > buf.length) return new WireError('icmpv6', 'truncated', off, 'truncated NDP option');
    const type = buf[off]!;
    const len = buf[off + 1]! * OPTION_UNIT;
    // RFC 4861 4.6: a zero length would loop forever; the whole packet is discarded.
    if (len === 0) return new WireError('icmpv6', 'bad-length', off + 1, `NDP option ${type} with length 0`);
    if (off + len > buf.length) return new WireError('icmpv6', 'truncated', off, `NDP option ${type} runs past the message`);
    const o = buf.subarray(off, off + len);
    if ((type === NdpOptionType.SourceLinkLayerAddr || type === NdpOptionType.TargetLinkLayerAddr) && len === LLADDR_OPTION_LEN) {
      out.push({ kind: type === NdpOptionType.SourceLinkLayerAddr ? 'source-lladdr' : 'target-lladdr', mac: readMac(o, 2) });
    } else if (type === NdpOptionType.PrefixInformation && len === PREFIX_OPTION_LEN) {
      out.push({
        kind: 'prefix-info',
        prefixLen: o[2]!,
        onLink: (o[3]! & PI_FLAG_ONLINK) !== 0,
        autonomous: (o[3]! & PI_FLAG_AUTO) !== 0,
        validLifetime: readU32(o, 4),
        preferredLifetime: readU32(o, 8),
        prefix: readIpv6(o, 16),
      });
    } else if (type === NdpOptionType.Mtu && len === MTU_OPTION_LEN) {
      out.push({ kind: 'mtu', mtu: readU32(o, 4) });
    } else {
      out.push({ kind: 'other', type, bytes: o });
    }
    off += len;
  }
  return out;
}

function ndpError(what: string, len: number, min: number): WireError {
  return new WireError('icmpv6', 'truncated', len, `truncated ${what} (${len} of ${min} bytes)`);
}

/**
 * Interpret a checked message; data fields are views into the packet. NDP messages with a
 * non-zero code are 'other' (RFC 4861: the host ignores them); echo with a non-zero code too.
 * A short NDP message or a malformed option is a WireError.
 */
export function parseIcmpv6Repr(p: Icmpv6Packet): Icmpv6Repr | WireError {
  const b = p.buffer;
  const type = p.msgType();
  const code = p.msgCode();
  if (code !== 0) return { kind: 'other', type, code, rest: p.rest() };
  switch (type) {
    case Icmpv6Type.EchoRequest:
    case Icmpv6Type.EchoReply:
      if (b.length < field.echoData) return ndpError('echo', b.length, field.echoData);
      return {
        kind: type === Icmpv6Type.EchoRequest ? 'echo-request' : 'echo-reply',
        ident: readU16(b, field.echoIdent),
        seqNo: readU16(b, field.echoSeqNo),
        data: b.subarray(field.echoData),
      };
    case Icmpv6Type.RouterSolicit: {
      if (b.length < field.rsOptions) return ndpError('router solicitation', b.length, field.rsOptions);
      const options = parseOptions(b, field.rsOptions);
      return options instanceof WireError ? options : { kind: 'router-solicit', options };
    }
    case Icmpv6Type.RouterAdvert: {
      if (b.length < field.raOptions) return ndpError('router advertisement', b.length, field.raOptions);
      const options = parseOptions(b, field.raOptions);
      if (options instanceof WireError) return options;
      const flags = b[field.raFlags]!;
      return {
        kind: 'router-advert',
        curHopLimit: b[field.raCurHopLimit]!,
        managed: (flags & RA_FLAG_MANAGED) !== 0,
        other: (flags & RA_FLAG_OTHER) !== 0,
        routerLifetime: readU16(b, field.raRouterLifetime),
        reachableTime: readU32(b, field.raReachableTime),
        retransTimer: readU32(b, field.raRetransTimer),
        options,
      };
    }
    case Icmpv6Type.NeighborSolicit:
    case Icmpv6Type.NeighborAdvert: {
      const what = type === Icmpv6Type.NeighborSolicit ? 'neighbor solicitation' : 'neighbor advertisement';
      if (b.length < field.nOptions) return ndpError(what, b.length, field.nOptions);
      const options = parseOptions(b, field.nOptions);
      if (options instanceof WireError) return options;
      const target = readIpv6(b, field.target);
      if (type === Icmpv6Type.NeighborSolicit) return { kind: 'neighbor-solicit', target, options };
      const flags = b[field.naFlags]!;
      return {
        kind: 'neighbor-advert',
        router: (flags & NA_FLAG_ROUTER) !== 0,
        solicited: (flags & NA_FLAG_SOLICITED) !== 0,
        override: (flags & NA_FLAG_OVERRIDE) !== 0,
        target,
        options,
      };
    }
    default:
      return { kind: 'other', type, code, rest: p.rest() };
  }
}

function optionLen(o: NdpOption): number {
  switch (o.kind) {
    case 'source-lladdr':
    case 'target-lladdr':
      return LLADDR_OPTION_LEN;
    case 'prefix-info':
      return PREFIX_OPTION_LEN;
    case 'mtu':
      return MTU_OPTION_LEN;
    case 'other':
      return o.bytes.length;
  }
}

function optionsLen(opts: readonly NdpOption[]): number {
  let n = 0;
  for (const o of opts) n += optionLen(o);
  return n;
}

function emitOptions(opts: readonly NdpOption[], buf: Uint8Array, start: number): void {
  let off = start;
  for (const o of opts) {
    const len = optionLen(o);
    const v = buf.subarray(off, off + len);
    v.fill(0);
    switch (o.kind) {
      case 'source-lladdr':
      case 'target-lladdr':
        v[0] = o.kind === 'source-lladdr' ? NdpOptionType.SourceLinkLayerAddr : NdpOptionType.TargetLinkLayerAddr;
        v[1] = len / OPTION_UNIT;
        writeMac(v, 2, o.mac);
        break;
      case 'prefix-info':
        v[0] = NdpOptionType.PrefixInformation;
        v[1] = len / OPTION_UNIT;
        v[2] = o.prefixLen;
        v[3] = (o.onLink ? PI_FLAG_ONLINK : 0) | (o.autonomous ? PI_FLAG_AUTO : 0);
        writeU32(v, 4, o.validLifetime);
        writeU32(v, 8, o.preferredLifetime);
        writeIpv6(v, 16, o.prefix);
        break;
      case 'mtu':
        v[0] = NdpOptionType.Mtu;
        v[1] = len / OPTION_UNIT;
        writeU32(v, 4, o.mtu);
        break;
      case 'other':
        v.set(o.bytes);
        break;
    }
    off += len;
  }
}

/** Bytes needed to emit `r`. */
export function icmpv6ReprLen(r: Icmpv6Repr): number {
  switch (r.kind) {
    case 'echo-request':
    case 'echo-reply':
      return field.echoData + r.data.length;
    case 'router-solicit':
      return field.rsOptions + optionsLen(r.options);
    case 'router-advert':
      return field.raOptions + optionsLen(r.options);
    case 'neighbor-solicit':
    case 'neighbor-advert':
      return field.nOptions + optionsLen(r.options);
    case 'other':
      return field.rest + r.rest.length;
  }
}

/** Write `r` and its checksum (over the pseudo-header of src, dst) into buf[0..icmpv6ReprLen(r)). */
export function emitIcmpv6(r: Icmpv6Repr, buf: Uint8Array, src: Ipv6, dst: Ipv6): void {
  const len = icmpv6ReprLen(r);
  if (buf.length < len) throw new RangeError(`icmpv6: emit needs ${len} bytes, got ${buf.length}`);
  const b = buf.subarray(0, len);
  b[field.code] = 0;
  switch (r.kind) {
    case 'echo-request':
    case 'echo-reply':
      b[field.type] = r.kind === 'echo-request' ? Icmpv6Type.EchoRequest : Icmpv6Type.EchoReply;
      writeU16(b, field.echoIdent, r.ident);
      writeU16(b, field.echoSeqNo, r.seqNo);
      b.set(r.data, field.echoData);
      break;
    case 'router-solicit':
      b[field.type] = Icmpv6Type.RouterSolicit;
      b.fill(0, field.rest, field.rsOptions);
      emitOptions(r.options, b, field.rsOptions);
      break;
    case 'router-advert':
      b[field.type] = Icmpv6Type.RouterAdvert;
      b[field.raCurHopLimit] = r.curHopLimit & 0xff;
      b[field.raFlags] = (r.managed ? RA_FLAG_MANAGED : 0) | (r.other ? RA_FLAG_OTHER : 0);
      writeU16(b, field.raRouterLifetime, r.routerLifetime);
      writeU32(b, field.raReachableTime, r.reachableTime);
      writeU32(b, field.raRetransTimer, r.retransTimer);
      emitOptions(r.options, b, field.raOptions);
      break;
    case 'neighbor-solicit':
    case 'neighbor-advert':
      b[field.type] = r.kind === 'neighbor-solicit' ? Icmpv6Type.NeighborSolicit : Icmpv6Type.NeighborAdvert;
      b.fill(0, field.rest, field.target);
      if (r.kind === 'neighbor-advert') {
        b[field.naFlags] = (r.router ? NA_FLAG_ROUTER : 0) | (r.solicited ? NA_FLAG_SOLICITED : 0) | (r.override ? NA_FLAG_OVERRIDE : 0);
      }
      writeIpv6(b, field.target, r.target);
      emitOptions(r.options, b, field.nOptions);
      break;
    case 'other':
      b[field.type] = r.type & 0xff;
      b[field.code] = r.code & 0xff;
      b.set(r.rest, field.rest);
      break;
  }
  writeU16(b, field.checksum, 0);
  writeU16(b, field.checksum, internetChecksum(b, pseudoHeaderSumV6(src, dst, Ipv6NextHeader.Icmpv6, len)));
}
