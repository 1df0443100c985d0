// Addresses as plain numbers: a MAC is a 48-bit integer (exact in a JS number), an IPv4
// address an unsigned 32-bit integer. Numbers make demux a Map lookup with no allocation.

/** A 48-bit MAC address held as an integer, 0 .. 2^48-1. */
export type Mac = number;
/** An IPv4 address held as an unsigned 32-bit integer. */
export type Ipv4 = number;

export const MAC_BROADCAST: Mac = 0xffff_ffff_ffff;
const TWO_32 = 0x1_0000_0000;

/** Read a MAC from 6 bytes at `off`. Caller guarantees the length. */
export function readMac(buf: Uint8Array, off: number): Mac {
  return (buf[off]! * 0x100 + buf[off + 1]!) * TWO_32 + readIpv4(buf, off + 2);
}

/** Write a MAC as 6 bytes at `off`. */
export function writeMac(buf: Uint8Array, off: number, mac: Mac): void {
  const hi = Math.floor(mac / TWO_32);
  buf[off] = hi >>> 8;
  buf[off + 1] = hi & 0xff;
  writeIpv4(buf, off + 2, mac % TWO_32);
}

/** Read an IPv4 address (big endian) at `off`. */
export function readIpv4(buf: Uint8Array, off: number): Ipv4 {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** Write an IPv4 address (big endian) at `off`. */
export function writeIpv4(buf: Uint8Array, off: number, ip: Ipv4): void {
  buf[off] = ip >>> 24;
  buf[off + 1] = (ip >>> 16) & 0xff;
  buf[off + 2] = (ip >>> 8) & 0xff;
  buf[off + 3] = ip & 0xff;
}

/** True for a group address (I/G bit set): broadcast or multicast. */
export function isMulticastMac(mac: Mac): boolean {
  return Math.floor(mac / 0x100_0000_0000) % 2 === 1;
}

/**
 * The MACs at a[aOff..aOff+6) and b[bOff..bOff+6) are the same: a MAC compared where it lies,
 * without reading it into a number (one above 2^31 is a heap object once it crosses a call).
 */
export function sameMacAt(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 6; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/** isMulticastMac() of the MAC at buf[off..off+6), read in place (the group bit of its first byte). */
export function isMulticastMacAt(buf: Uint8Array, off: number): boolean {
  return (buf[off]! & 1) === 1;
}

/** The MAC at buf[off..off+6) is 00:00:00:00:00:00. */
export function isZeroMacAt(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 6; i++) if (buf[off + i] !== 0) return false;
  return true;
}

const MAC_RE = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/;

/** Parse "02:4e:53:00:00:0a" (or with dashes); undefined if malformed. */
export function parseMac(text: string): Mac | undefined {
  const m = MAC_RE.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (const i of [1, 3, 4, 5, 6, 7]) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}

/** Format as lower-case colon-separated hex. */
export function formatMac(mac: Mac): string {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Parse dotted-quad "10.77.0.10"; undefined if malformed. */
export function parseIpv4(text: string): Ipv4 | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

/** Format as dotted quad. */
export function formatIpv4(ip: Ipv4): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** An IPv4 address with its prefix length, as in "10.77.0.10/24". */
export interface Ipv4Cidr {
  readonly addr: Ipv4;
  readonly prefixLen: number;
}

/** Parse "a.b.c.d/n"; undefined if malformed. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (addr === undefined || !/^[0-9]{1,2}$/.test(lenText)) return undefined;
  const prefixLen = Number(lenText);
  if (prefixLen > 32) return undefined;
  return { addr, prefixLen };
}

/** The netmask of a prefix length as an unsigned integer. */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffff_ffff << (32 - prefixLen)) >>> 0;
}

/** True if `ip` is in the subnet of `cidr`. */
export function inSubnet(cidr: Ipv4Cidr, ip: Ipv4): boolean {
  const m = prefixMask(cidr.prefixLen);
  return ((cidr.addr & m) >>> 0) === ((ip & m) >>> 0);
}

/** The directed broadcast address of `cidr`'s subnet. */
export function subnetBroadcast(cidr: Ipv4Cidr): Ipv4 {
  return (cidr.addr | ~prefixMask(cidr.prefixLen)) >>> 0;
}

export function formatIpv4Cidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.addr)}/${c.prefixLen}`;
}

/**
 * An IPv6 address, held as its 32 lower-case hex digits (no colons): a value type, so it can be a
 * Map key and compared with ===, as Ipv4 and Mac are. IPv6 cannot be a JS number.
 */
export type Ipv6 = string & { readonly __ipv6: unique symbol };
/** An IP address of either family: typeof tells them apart (number: IPv4, string: IPv6). */
export type IpAddr = Ipv4 | Ipv6;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Read an IPv6 address (16 bytes) at `off`. Caller guarantees the length. */
export function readIpv6(buf: Uint8Array, off: number): Ipv6 {
  let s = '';
  for (let i = 0; i < 16; i++) s += HEX[buf[off + i]!]!;
  return s as Ipv6;
}

/** Write an IPv6 address as 16 bytes at `off`. */
export function writeIpv6(buf: Uint8Array, off: number, ip: Ipv6): void {
  for (let i = 0; i < 16; i++) buf[off + i] = parseInt(ip.slice(2 * i, 2 * i + 2), 16);
}

/** Parse RFC 4291 text ("fe80::1", "2001:db8::a:b", "::ffff:10.0.0.1"); undefined if malformed. */
export function parseIpv6(text: string): Ipv6 | undefined {
  let t = text;
  if (t.includes('.')) {
    // A trailing dotted quad stands for the last two groups.
    const colon = t.lastIndexOf(':');
    const v4 = colon < 0 ? undefined : parseIpv4(t.slice(colon + 1));
    if (v4 === undefined) return undefined;
    t = `${t.slice(0, colon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const have = head.length + tail.length;
  if (halves.length === 2 ? have > 7 : have !== 8) return undefined;
  const all = [...head, ...new Array<number>(8 - have).fill(0), ...tail];
  return all.map((g) => g.toString(16).padStart(4, '0')).join('') as Ipv6;
}

/** Format per RFC 5952: lower case, leading zeros dropped, the longest run of 2+ zero groups as "::". */
export function formatIpv6(ip: Ipv6): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(parseInt(ip.slice(4 * i, 4 * i + 4), 16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Format either family. */
export function formatIp(ip: IpAddr): string {
  return typeof ip === 'number' ? formatIpv4(ip) : formatIpv6(ip);
}
