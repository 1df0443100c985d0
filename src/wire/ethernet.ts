// Ethernet II header, optionally with one 802.1Q tag (IEEE 802.3 / 802.1Q).

import { readMac, writeMac, type Mac } from './address.js';
import { readU16, writeU16 } from './bytes.js';
import { WireError } from './error.js';

/** EtherTypes we name; any other value passes through as a plain number. */
export const EtherType = {
  Ipv4: 0x0800,
  Arp: 0x0806,
  Vlan: 0x8100,
  Ipv6: 0x86dd,
} as const;

const MAC_LEN = 6;
const TYPE_LEN = 2;
const TCI_LEN = 2;

/** Byte offsets; the VLAN fields exist only when the outer type is 0x8100. */
const field = {
  dst: 0,
  src: MAC_LEN,
  etherType: 2 * MAC_LEN,
  vlanTci: 2 * MAC_LEN + TYPE_LEN,
  vlanInnerType: 2 * MAC_LEN + TYPE_LEN + TCI_LEN,
} as const;

const PCP_SHIFT = 13;
const PCP_MASK = 0x7;
const VID_MASK = 0x0fff;

/** Untagged Ethernet header length. */
export const ETHERNET_HEADER_LEN: number = field.etherType + TYPE_LEN;
/** Length added by one 802.1Q tag. */
export const VLAN_TAG_LEN: number = TCI_LEN + TYPE_LEN;
const TAGGED_HEADER_LEN = ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
const SCRATCH_FRAME = new Uint8Array(ETHERNET_HEADER_LEN);

/**
 * The header's length (14, or 18 with an 802.1Q tag), or 0 when the frame is too short for it.
 * The checks of EthernetFrame.checked without a view: the switch runs them on every frame.
 */
export function ethernetHeaderLen(buf: Uint8Array): number {
  if (buf.length < ETHERNET_HEADER_LEN) return 0;
  if (readU16(buf, field.etherType) !== EtherType.Vlan) return ETHERNET_HEADER_LEN;
  return buf.length < TAGGED_HEADER_LEN ? 0 : TAGGED_HEADER_LEN;
}

/** The EtherType of the payload (the inner one when tagged), given ethernetHeaderLen's non-zero result. */
export function payloadEtherType(buf: Uint8Array, hdrLen: number): number {
  return readU16(buf, hdrLen - TYPE_LEN);
}

/** A zero-copy view of an Ethernet frame (FCS not included). */
export class EthernetFrame {
  private constructor(
    private buf: Uint8Array,
    private hdrLen: number,
  ) {}

  /**
   * Check lengths (14 bytes, 18 if 802.1Q-tagged) and wrap `buf`, or return why not. With
   * `reuse`, a receive path that looks at one frame at a time points that one view at `buf`
   * instead of making a new one per frame (what the view showed before is gone).
   */
  static checked(buf: Uint8Array, reuse?: EthernetFrame): EthernetFrame | WireError {
    const hdrLen = ethernetHeaderLen(buf);
    if (hdrLen > 0) {
      if (reuse === undefined) return new EthernetFrame(buf, hdrLen);
      reuse.buf = buf;
      reuse.hdrLen = hdrLen;
      return reuse;
    }
    return buf.length < ETHERNET_HEADER_LEN
      ? new WireError('ethernet', 'truncated', buf.length, `truncated header (${buf.length} of ${ETHERNET_HEADER_LEN} bytes)`)
      : new WireError('ethernet', 'truncated', buf.length, `truncated 802.1Q tag (${buf.length} of ${TAGGED_HEADER_LEN} bytes)`);
  }

  /** A view for checked()'s `reuse`: it shows an empty untagged frame until checked() points it at one. */
  static scratch(): EthernetFrame {
    return new EthernetFrame(SCRATCH_FRAME, ETHERNET_HEADER_LEN);
  }

  /** The whole frame. */
  get buffer(): Uint8Array {
    return this.buf;
  }

  /** Destination MAC. */
  dstAddr(): Mac {
    return readMac(this.buf, field.dst);
  }

  /** Source MAC. */
  srcAddr(): Mac {
    return readMac(this.buf, field.src);
  }

  /** The payload's EtherType: the inner one when the frame carries an 802.1Q tag. */
  etherType(): number {
    return readU16(this.buf, this.isTagged() ? field.vlanInnerType : field.etherType);
  }

  /** True if the frame carries an 802.1Q tag. */
  isTagged(): boolean {
    return this.hdrLen !== ETHERNET_HEADER_LEN;
  }

  /** 802.1Q VLAN ID (0..4095), undefined when untagged. */
  vlanId(): number | undefined {
    return this.isTagged() ? readU16(this.buf, field.vlanTci) & VID_MASK : undefined;
  }

  /** 802.1Q priority code point (0..7), undefined when untagged. */
  vlanPcp(): number | undefined {
    return this.isTagged() ? (readU16(this.buf, field.vlanTci) >>> PCP_SHIFT) & PCP_MASK : undefined;
  }

  /** Header length: 14, or 18 with an 802.1Q tag; also where the payload starts in `buffer`. */
  headerLen(): number {
    return this.hdrLen;
  }

  /** The bytes after the header (a subarray; may include trailing padding). */
  payload(): Uint8Array {
    return this.buf.subarray(this.hdrLen);
  }
}

/** An Ethernet header as a plain value. */
export class EthernetRepr {
  constructor(
    public dst: Mac,
    public src: Mac,
    public etherType: number,
    public vlanId?: number,
    public vlanPcp?: number,
  ) {}

  /** Read the header fields of a checked frame. */
  static parse(f: EthernetFrame): EthernetRepr {
    return new EthernetRepr(f.dstAddr(), f.srcAddr(), f.etherType(), f.vlanId(), f.vlanPcp());
  }

  /** Header length this repr emits: 14, or 18 when vlanId is set. */
  bufferLen(): number {
    return this.vlanId === undefined ? ETHERNET_HEADER_LEN : TAGGED_HEADER_LEN;
  }

  /** Write the header at buf[0..bufferLen()). */
  emit(buf: Uint8Array): void {
    const len = this.bufferLen();
    if (buf.length < len) throw new RangeError(`ethernet: emit needs ${len} bytes, got ${buf.length}`);
    if (this.vlanId === undefined) {
      emitEthernetHeader(buf, 0, this.dst, this.src, this.etherType);
      return;
    }
    writeMac(buf, field.dst, this.dst);
    writeMac(buf, field.src, this.src);
    writeU16(buf, field.etherType, EtherType.Vlan);
    writeU16(buf, field.vlanTci, (((this.vlanPcp ?? 0) & PCP_MASK) << PCP_SHIFT) | (this.vlanId & VID_MASK));
    writeU16(buf, field.vlanInnerType, this.etherType);
  }
}

/**
 * Write an untagged header at buf[off..off+14): EthernetRepr's emit without a repr, for a sender
 * that builds a frame per packet and makes no object for it. Throws RangeError without the room.
 */
export function emitEthernetHeader(buf: Uint8Array, off: number, dst: Mac, src: Mac, etherType: number): void {
  if (!(off >= 0) || buf.length < off + ETHERNET_HEADER_LEN) throw new RangeError(`ethernet: emit needs ${ETHERNET_HEADER_LEN} bytes at ${off}, got ${buf.length}`);
  writeMac(buf, off + field.dst, dst);
  writeMac(buf, off + field.src, src);
  writeU16(buf, off + field.etherType, etherType);
}
