// Outbound frames built once, with headroom (gVisor's PacketBuffer, lwIP's pbuf): the payload is
// written at an offset that leaves room for every header below it, and each lower layer pushes
// its header in front of what is already there. A layer never copies the layers above it, and a
// protocol that keeps a segment (TCP retransmission) or wraps a frame (VXLAN) can push, pull and
// push again on the same bytes. Checksums are taken over ranges of the one buffer.
//
// Memory: buffers are cut from 256 KiB slabs (as Node's Buffer pool does), so the garbage
// collector tracks one backing store per ~150 frames instead of one per frame. A slab is freed
// when its last frame is; its bytes are zero when made and each is handed out once, so a buffer
// starts zeroed and the Ethernet padding of a short frame is zero.

import { internetChecksum } from '../wire/index.js';

/** Shortest Ethernet frame without FCS (ETH_ZLEN); shorter frames are zero-padded, as a NIC would. */
export const ETH_MIN_FRAME = 60;

/**
 * Default headroom: Ethernet with one 802.1Q tag (18) + IPv6 (40) + TCP with full options (60)
 * = 118 bytes, rounded up to 8. Outer headers of an encapsulation need their own headroom.
 */
export const MAX_HEADROOM = 120;

const SLAB_BYTES = 256 * 1024;
const SLAB_MAX_FRAME = 16 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;
const EMPTY = new Uint8Array(0);

/** A zeroed buffer of at least ETH_MIN_FRAME bytes with room for `len` bytes, from the slab. */
export function allocFrame(len: number): Uint8Array {
  const n = len < ETH_MIN_FRAME ? ETH_MIN_FRAME : len;
  if (n > SLAB_MAX_FRAME) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const frame = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7; // keep frames 8-byte aligned
  return frame;
}

/**
 * One outgoing packet: bytes [start, end) of `buf` are the packet so far (the payload, then
 * each pushed header in front of it); [0, start) is the headroom still free.
 */
export class PacketBuffer {
  private constructor(
    private bytes: Uint8Array,
    private head: number,
    private stop: number,
  ) {}

  /** The whole backing buffer, headroom included. */
  get buf(): Uint8Array {
    return this.bytes;
  }

  /** One past the payload's last byte. */
  get end(): number {
    return this.stop;
  }

  /**
   * A packet whose `payloadLen` zeroed bytes start after `headroom` bytes. The buffer has room
   * to pad the finished frame to ETH_MIN_FRAME. Throws RangeError on a negative length (a caller's bug).
   */
  static alloc(payloadLen: number, headroom: number = MAX_HEADROOM): PacketBuffer {
    return new PacketBuffer(EMPTY, 0, 0).reset(payloadLen, headroom);
  }

  /**
   * Point this object at fresh bytes, as alloc() would make them: a sender that hands each frame
   * on and keeps no PacketBuffer (an echo reply) uses one object for every packet instead of one
   * per packet. Frames taken from it before stay as they are. `exact`: the sender pushes headers
   * of exactly `headroom` bytes, so the buffer is just the finished frame (padding included)
   * and frame() makes no view.
   */
  reset(payloadLen: number, headroom: number = MAX_HEADROOM, exact = false): this {
    if (!Number.isInteger(payloadLen) || payloadLen < 0 || !Number.isInteger(headroom) || headroom < 0) {
      throw new RangeError(`PacketBuffer: payload ${payloadLen} and headroom ${headroom} must be integers >= 0`);
    }
    // Room to pad to ETH_MIN_FRAME from wherever the first header ends up (headroom at worst).
    this.bytes = allocFrame(exact ? headroom + payloadLen : headroom + (payloadLen < ETH_MIN_FRAME ? ETH_MIN_FRAME : payloadLen));
    this.head = headroom;
    this.stop = headroom + payloadLen;
    return this;
  }

  /** Offset of the packet's first byte in `buf` (the outermost header pushed so far). */
  get start(): number {
    return this.head;
  }

  /** Bytes from the outermost header to the end of the payload. */
  get length(): number {
    return this.stop - this.head;
  }

  /** Bytes left in front for more headers. */
  get headroom(): number {
    return this.head;
  }

  /** The packet so far, [start, end), as a view: before any push, the payload to fill in. */
  view(): Uint8Array {
    return this.bytes.subarray(this.head, this.stop);
  }

  /** Prepend `n` header bytes; returns the packet from the new header on. Throws RangeError without the headroom. */
  push(n: number): Uint8Array {
    return this.bytes.subarray(this.pushAt(n), this.stop);
  }

  /** push() without the view: returns where the new header starts in `buf`. */
  pushAt(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n > this.head) throw new RangeError(`PacketBuffer: cannot push ${n} bytes with ${this.head} of headroom`);
    this.head -= n;
    return this.head;
  }

  /** Remove the outermost `n` bytes again (a header to rebuild, e.g. for a retransmission). */
  pull(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`PacketBuffer: cannot pull ${n} of ${this.length} bytes`);
    this.head += n;
  }

  /** Internet checksum of the packet's bytes [start + from, start + to), chained onto `initial`. */
  checksum(initial = 0, from = 0, to: number = this.length): number {
    return internetChecksum(this.bytes, initial, this.head + from, this.head + to);
  }

  /** The finished frame: [start, end), zero-padded to ETH_MIN_FRAME (the whole buffer, no new view, when that is all of it). */
  frame(): Uint8Array {
    const min = this.head + ETH_MIN_FRAME;
    const end = this.stop > min ? this.stop : min;
    if (this.head === 0 && end === this.bytes.length) return this.bytes;
    // An `exact` reset whose headers came out shorter than promised has no room to pad: a copy.
    if (end > this.bytes.length) {
      const f = allocFrame(end - this.head);
      f.set(this.bytes.subarray(this.head, this.stop));
      return f;
    }
    return this.bytes.subarray(this.head, end);
  }
}
