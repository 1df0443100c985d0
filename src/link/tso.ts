// link/tso: TCP segmentation offload for a TAP opened with virtio-net headers. The nanokernel and
// the capture see every segment as the guest built it (at most the MTU); only at the TAP, the
// segments of one TCP flow that the NIC writes in one go are joined into one super-segment, and
// the kernel cuts it again (tcp_gso_segment) into the same segments: one write() for up to
// 64 KiB instead of one per 1.5 KiB, which is most of what a bulk download costs the processor.
//
// Joined only where the kernel's cut gives back the very segments (so what the host sees is what
// the guest sent): IPv4 without options or fragmentation, TCP with ACK and nothing else (PSH is
// allowed on the last one, which the kernel keeps there), every segment but the last carrying
// exactly gso_size bytes, sequence numbers back to back and IPv4 idents counting up by one (the
// kernel numbers the segments that way), and every other header byte equal to the first's.
// Checksums are the kernel's to fill in (VIRTIO_NET_HDR_F_NEEDS_CSUM): it trusts the pseudo-header
// sum in the TCP checksum field and sums each segment itself. So a segment is joined only when
// its own IPv4 and TCP checksums are right: the kernel's would be right whatever the guest sent,
// and a segment sent corrupt must reach the wire corrupt, as the capture shows it.
import { readU16, readU32 } from '../wire/bytes.js';
import { foldChecksum, internetChecksum, onesComplementSum } from '../wire/checksum.js';

const ETH = 14;
const IP = ETH; // IPv4 header, no options (IHL 5)
const TCP = IP + 20;
const TCP_FLAGS = TCP + 13;
const ACK = 0x10;
const PSH = 0x08;
/** Largest IPv4 datagram: the super-segment's total length must fit its 16-bit field. */
const MAX_IP_LEN = 0xffff;
/** Most segments in one super-segment (the kernel takes up to 65535; 64 keeps a write small). */
export const TSO_MAX_SEGMENTS = 64;
/** Longest headers of a segment TSO carries: Ethernet, IPv4 without options, TCP with all options. */
export const TSO_HEAD_MAX = TCP + 60;

/**
 * Length of the headers (Ethernet, IPv4, TCP with options) when `frame` is a segment TSO may
 * carry, else 0: untagged IPv4 without options or fragmentation, TCP, flags ACK or ACK|PSH, at
 * least one byte of payload, and valid IPv4 and TCP checksums. Reads only; never throws.
 */
export function tsoHeaderLen(frame: Uint8Array): number {
  if (frame.length < TCP + 21) return 0;
  if (frame[12] !== 0x08 || frame[13] !== 0x00 || frame[IP] !== 0x45 || frame[IP + 9] !== 6) return 0;
  if ((frame[IP + 6]! & 0x3f) !== 0 || frame[IP + 7] !== 0) return 0; // MF or a fragment offset
  const flags = frame[TCP_FLAGS]!;
  if (flags !== ACK && flags !== (ACK | PSH)) return 0;
  const hdrLen = TCP + (frame[TCP + 12]! >> 4) * 4;
  const ipEnd = IP + ((frame[IP + 2]! << 8) | frame[IP + 3]!);
  // The IPv4 total length must cover the TCP header and say where the payload ends: Ethernet
  // padding past it is not payload, and a length past the frame is not a segment to join.
  if (hdrLen < TCP + 20 || ipEnd !== frame.length || ipEnd <= hdrLen) return 0;
  if (internetChecksum(frame, 0, IP, TCP) !== 0) return 0;
  if (internetChecksum(frame, onesComplementSum(frame, 6 + ipEnd - TCP, IP + 12, TCP), TCP, ipEnd) !== 0) return 0;
  return hdrLen;
}

function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether `next` (a segment with header length `hdrLen`, see tsoHeaderLen) continues the
 * super-segment begun by `first` whose last segment so far is `last`, holding `payload` bytes.
 */
export function tsoContinues(first: Uint8Array, last: Uint8Array, payload: number, next: Uint8Array, hdrLen: number): boolean {
  const gsoSize = first.length - hdrLen;
  const nextLen = next.length - hdrLen;
  if (last.length - hdrLen !== gsoSize || last[TCP_FLAGS] !== ACK) return false; // `last` closed it
  if (hdrLen !== TCP + (first[TCP + 12]! >> 4) * 4 || nextLen > gsoSize) return false;
  if (hdrLen + payload + nextLen - ETH > MAX_IP_LEN) return false;
  if (readU16(next, IP + 4) !== ((readU16(last, IP + 4) + 1) & 0xffff)) return false;
  if (readU32(next, TCP + 4) !== ((readU32(last, TCP + 4) + gsoSize) >>> 0)) return false;
  return (
    sameBytes(first, next, 0, IP + 2) && // Ethernet, IPv4 version, IHL and TOS
    sameBytes(first, next, IP + 6, IP + 10) && // flags, fragment offset, TTL, protocol
    sameBytes(first, next, IP + 12, TCP + 4) && // addresses and ports
    sameBytes(first, next, TCP + 8, TCP + 13) && // acknowledgment, data offset
    sameBytes(first, next, TCP + 14, TCP + 16) && // window
    sameBytes(first, next, TCP + 18, hdrLen) // urgent pointer, options
  );
}

/**
 * The headers of the super-segment joining segments[0..count) (`payload` bytes of payload in
 * all), written to head[0..hdrLen): the first segment's, with the IPv4 total length and header
 * checksum of the whole, the last segment's TCP flags, and the TCP checksum field holding the
 * folded pseudo-header sum (not complemented), as VIRTIO_NET_HDR_F_NEEDS_CSUM asks. The payloads
 * follow in the write itself (the addon's writev), so no segment is copied.
 */
export function tsoHead(segments: readonly Uint8Array[], count: number, hdrLen: number, payload: number, head: Uint8Array): void {
  const first = segments[0]!;
  for (let i = 0; i < hdrLen; i++) head[i] = first[i]!;
  const ipLen = hdrLen - ETH + payload;
  head[IP + 2] = ipLen >> 8;
  head[IP + 3] = ipLen & 0xff;
  head[IP + 10] = 0;
  head[IP + 11] = 0;
  const ipSum = internetChecksum(head, 0, IP, TCP);
  head[IP + 10] = ipSum >> 8;
  head[IP + 11] = ipSum & 0xff;
  head[TCP_FLAGS] = segments[count - 1]![TCP_FLAGS]!;
  const pseudo = ~foldChecksum(onesComplementSum(head, 6 + hdrLen - TCP + payload, IP + 12, TCP)) & 0xffff;
  head[TCP + 16] = pseudo >> 8;
  head[TCP + 17] = pseudo & 0xff;
}
